#!/usr/bin/env bash
# BlockHost first boot, run once by blockhost-firstboot.service after the Debian install: bridge
# (libvirt backend only), k3s and images from the artifacts the ISO carried (no internet), the
# Helm chart through k3s' HelmChart manifests, the host's disks and interfaces for the wizard, and
# the wizard's one-time code on the console.
# Each step leaves a marker in the state dir when it is done, so a run that was killed or failed
# continues with the first unfinished step.
set -euo pipefail

script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
BLOCKHOST_ROOT="${BLOCKHOST_ROOT:-}"
# Written at install time by preseed/late-command.sh (BLOCKHOST_BACKEND from the boot menu).
config_file="${BLOCKHOST_CONFIG:-$BLOCKHOST_ROOT/etc/blockhost/firstboot.env}"
if [ -f "$config_file" ]; then
  # shellcheck source=/dev/null
  . "$config_file"
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$script_dir/lib.sh"

payload="${BLOCKHOST_PAYLOAD:-$BLOCKHOST_ROOT/opt/blockhost/artifacts}"
backend="${BLOCKHOST_BACKEND:-}"
bin_dir="$BLOCKHOST_ROOT/usr/local/bin"
images_dir="$BLOCKHOST_ROOT/var/lib/rancher/k3s/agent/images"
manifests_dir="$BLOCKHOST_ROOT/var/lib/rancher/k3s/server/manifests"
k3s_config="$BLOCKHOST_ROOT/etc/rancher/k3s/config.yaml"
node_name="${BLOCKHOST_NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}"
node_ready_timeout="${BLOCKHOST_NODE_READY_TIMEOUT:-900}"
k3s_exec="${BLOCKHOST_K3S_EXEC:-server}"

usage() {
  cat <<EOF
Usage: firstboot.sh [--status]

Runs the BlockHost first-boot steps that are not done yet, in order:
  bridge      libvirt backend only: blockhost-bridge (NIC -> ${BLOCKHOST_BRIDGE:-br0}, rollback if the gateway is lost)
  images      k3s' airgap images and our image tarballs -> /var/lib/rancher/k3s/agent/images/
  k3s         k3s binary -> /usr/local/bin, k3s' install.sh with INSTALL_K3S_SKIP_DOWNLOAD=true
  node-ready  wait until the node is Ready
  chart       HelmChart manifest (chart .tgz inline) -> /var/lib/rancher/k3s/server/manifests/
  host-facts  disks and interfaces -> ConfigMap blockhost-host-facts (blockhost-host-facts)
  setup-code  one-time code Secret + console message (blockhost-setup-code)
Markers: \$BLOCKHOST_STATE_DIR/<step>.done (default /var/lib/blockhost/firstboot); when all are done,
'complete' is written and the systemd unit no longer starts. Log: /var/log/blockhost-firstboot.log.

Options:
  --status    list the steps and whether they are done, change nothing
  -h, --help  this help

Environment (also read from /etc/blockhost/firstboot.env): BLOCKHOST_BACKEND (kubevirt, libvirt,
proxmox; the bridge is made only for libvirt), BLOCKHOST_BRIDGE, BLOCKHOST_PAYLOAD (default
/opt/blockhost/artifacts), BLOCKHOST_NAMESPACE, BLOCKHOST_NODE_NAME, BLOCKHOST_NODE_READY_TIMEOUT
(seconds, default 900), BLOCKHOST_K3S_EXEC (default "server"), BLOCKHOST_ROOT (prefix for every
path, for tests), BLOCKHOST_KUBECTL (default "k3s kubectl"), BLOCKHOST_STATE_DIR, BLOCKHOST_LOG_FILE.
EOF
}

steps=(bridge images k3s node-ready chart host-facts setup-code)

status=false
for arg in "$@"; do
  case "$arg" in
    --status) status=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $arg" ;;
  esac
done

if [ "$status" = true ]; then
  for step in "${steps[@]}"; do
    if [ -e "$BLOCKHOST_STATE_DIR/$step.done" ]; then echo "$step: done"; else echo "$step: pending"; fi
  done
  [ ! -e "$BLOCKHOST_STATE_DIR/complete" ] || echo "complete"
  exit 0
fi

# --- the steps -----------------------------------------------------------------------------------

step_bridge() {
  if [ "$backend" != libvirt ]; then
    log "backend '${backend:-unset}' needs no host bridge; skipped"
    return 0
  fi
  # A failed bridge is rolled back by blockhost-bridge itself; k3s is still installed so the
  # operator can reach the wizard, and the failure stays on the console and in the log.
  if ! "$script_dir/blockhost-bridge"; then
    log "WARNING: the bridge for the libvirt backend could not be made (see above); the network is unchanged."
    log "WARNING: fix the cause, then run: blockhost-bridge"
  fi
}

step_images() {
  mkdir -p "$images_dir"
  local file
  for file in "$payload"/k3s-airgap-images-*.tar* "$payload"/images/*.tar*; do
    copy_if_changed "$file" "$images_dir/$(basename "$file")"
  done
}

step_k3s() {
  mkdir -p "$bin_dir" "$(dirname "$k3s_config")"
  copy_if_changed "$payload/k3s" "$bin_dir/k3s"
  chmod 0755 "$bin_dir/k3s"
  cat >"$k3s_config.tmp" <<EOF
# Written by BlockHost first boot.
write-kubeconfig-mode: "0600"
node-name: "$node_name"
EOF
  mv "$k3s_config.tmp" "$k3s_config"
  log "running k3s' install.sh (air-gapped: INSTALL_K3S_SKIP_DOWNLOAD=true, exec '$k3s_exec')"
  INSTALL_K3S_SKIP_DOWNLOAD=true \
    INSTALL_K3S_SKIP_SELINUX_RPM=true \
    INSTALL_K3S_BIN_DIR="$bin_dir" \
    INSTALL_K3S_SYSTEMD_DIR="$BLOCKHOST_ROOT/etc/systemd/system" \
    INSTALL_K3S_EXEC="$k3s_exec" \
    sh "$payload/install.sh"
}

step_node_ready() {
  local deadline=$((SECONDS + node_ready_timeout)) next_report=$((SECONDS + 30))
  log "waiting up to ${node_ready_timeout}s for node $node_name to be Ready"
  until kubectl_cmd wait --for=condition=Ready "node/$node_name" --timeout=5s >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "node $node_name was not Ready after ${node_ready_timeout}s (journalctl -u k3s)"
    if [ $SECONDS -ge $next_report ]; then
      log "still waiting for node $node_name"
      next_report=$((SECONDS + 30))
    fi
    sleep 2
  done
  log "node $node_name is Ready"
}

step_chart() {
  local chart
  chart="$(chart_file)"
  mkdir -p "$manifests_dir"
  {
    cat <<EOF
# Written by BlockHost first boot: k3s' helm-controller installs the chart below into
# namespace $BLOCKHOST_NAMESPACE (release blockhost). Source: $(basename "$chart")
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: blockhost
  namespace: kube-system
spec:
  targetNamespace: $BLOCKHOST_NAMESPACE
  createNamespace: true
  chartContent: $(base64 -w0 "$chart")
EOF
    if [ -s "$payload/values.yaml" ]; then
      printf '  valuesContent: |-\n'
      sed 's/^/    /' "$payload/values.yaml"
    fi
  } >"$manifests_dir/.blockhost.yaml.tmp"
  mv "$manifests_dir/.blockhost.yaml.tmp" "$manifests_dir/blockhost.yaml"
  log "wrote $manifests_dir/blockhost.yaml ($(basename "$chart"))"
}

step_host_facts() {
  # The wizard works without the facts (it then asks for less and offers no disks), so a failure
  # does not hold back the setup code; it stays in the log with the command that repeats it.
  if ! BLOCKHOST_NAMESPACE="$BLOCKHOST_NAMESPACE" BLOCKHOST_KUBECTL="$BLOCKHOST_KUBECTL" \
    BLOCKHOST_LOG_FILE="$BLOCKHOST_LOG_FILE" "$script_dir/blockhost-host-facts"; then
    log "WARNING: the host's disks and interfaces could not be recorded for the setup wizard (see above)."
    log "WARNING: fix the cause, then run: blockhost-host-facts"
  fi
}

step_setup_code() {
  BLOCKHOST_ROOT="$BLOCKHOST_ROOT" BLOCKHOST_NAMESPACE="$BLOCKHOST_NAMESPACE" BLOCKHOST_KUBECTL="$BLOCKHOST_KUBECTL" \
    BLOCKHOST_ISSUE_FILE="$BLOCKHOST_ISSUE_FILE" BLOCKHOST_LOG_FILE="$BLOCKHOST_LOG_FILE" \
    "$script_dir/blockhost-setup-code"
}

# --- helpers -------------------------------------------------------------------------------------

# Copies through a temporary name, so a kill mid-copy never leaves a truncated file in place.
copy_if_changed() {
  local from="$1" to="$2"
  if [ -f "$to" ] && cmp -s "$from" "$to"; then
    log "$(basename "$to") already in place"
    return 0
  fi
  cp "$from" "$to.partial"
  mv "$to.partial" "$to"
  log "copied $(basename "$from") -> $to"
}

chart_file() {
  local -a charts=("$payload"/chart/*.tgz)
  if [ ${#charts[@]} -ne 1 ] || [ ! -f "${charts[0]}" ]; then
    die "expected exactly one chart .tgz in $payload/chart/, found: ${charts[*]}"
  fi
  printf '%s\n' "${charts[0]}"
}

# Everything first boot needs is checked before the first change, so a broken ISO stops early.
check_payload() {
  local -a missing=()
  [ -f "$payload/k3s" ] || missing+=("k3s (the k3s binary)")
  [ -f "$payload/install.sh" ] || missing+=("install.sh (k3s' install script)")
  compgen -G "$payload/k3s-airgap-images-*.tar*" >/dev/null || missing+=("k3s-airgap-images-<arch>.tar[.zst|.gz]")
  compgen -G "$payload/images/*.tar*" >/dev/null || missing+=("images/*.tar (the BlockHost image tarballs)")
  compgen -G "$payload/chart/*.tgz" >/dev/null || missing+=("chart/<chart>.tgz (the packaged Helm chart)")
  [ ${#missing[@]} -eq 0 ] || die "the payload $payload lacks: ${missing[*]}; nothing changed"
}

run_step() {
  local step="$1" fn="step_${1//-/_}"
  if [ -e "$BLOCKHOST_STATE_DIR/$step.done" ]; then
    log "step $step: already done"
    return 0
  fi
  log "step $step: starting"
  # Without the lock's descriptor: daemons started by a step (k3s, dhclient) must not hold it.
  "$fn" 9>&-
  date -u +%Y-%m-%dT%H:%M:%SZ >"$BLOCKHOST_STATE_DIR/$step.done"
  log "step $step: done"
}

# --- main ----------------------------------------------------------------------------------------

case "$backend" in '' | kubevirt | libvirt | proxmox) ;; *) die "unknown BLOCKHOST_BACKEND '$backend' (kubevirt, libvirt or proxmox)" ;; esac
valid_namespace "$BLOCKHOST_NAMESPACE" || die "BLOCKHOST_NAMESPACE '$BLOCKHOST_NAMESPACE' is not a valid namespace name"
[[ "$node_ready_timeout" =~ ^[0-9]+$ ]] || die "BLOCKHOST_NODE_READY_TIMEOUT must be a number of seconds"

mkdir -p "$BLOCKHOST_STATE_DIR"
if [ -e "$BLOCKHOST_STATE_DIR/complete" ]; then
  log "first boot already complete ($BLOCKHOST_STATE_DIR/complete); nothing to do"
  exit 0
fi
exec 9>"$BLOCKHOST_STATE_DIR/.lock"
# A short wait covers the processes of a run that was just killed and is still going away.
flock -w 10 9 || die "another first boot is running (lock $BLOCKHOST_STATE_DIR/.lock)"
check_payload

log "BlockHost first boot (backend ${backend:-unset}, payload $payload)"
[ -e "$BLOCKHOST_STATE_DIR/setup-code.done" ] ||
  write_issue_block 'BlockHost is being installed (k3s, then the BlockHost chart).' \
    'The setup wizard address and its one-time code will appear here.' \
    'Progress: journalctl -fu blockhost-firstboot'
for step in "${steps[@]}"; do
  run_step "$step"
done
date -u +%Y-%m-%dT%H:%M:%SZ >"$BLOCKHOST_STATE_DIR/complete"
log "first boot complete"
