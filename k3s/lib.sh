# shellcheck shell=bash disable=SC2034 # constants here are used by the scripts that source this file
# Shared by firstboot.sh, blockhost-setup-code, blockhost-host-facts, blockhost-bridge and
# blockhost-network-sync: paths (all below BLOCKHOST_ROOT, so tests can run the scripts against a
# temporary directory), logging, the one-time code with its console message, and the IPv4/ifupdown
# helpers for changing the network with a rollback. Sourced, never run.

BLOCKHOST_ROOT="${BLOCKHOST_ROOT:-}"
BLOCKHOST_NAMESPACE="${BLOCKHOST_NAMESPACE:-blockhost}"
BLOCKHOST_STATE_DIR="${BLOCKHOST_STATE_DIR:-$BLOCKHOST_ROOT/var/lib/blockhost/firstboot}"
BLOCKHOST_LOG_FILE="${BLOCKHOST_LOG_FILE:-$BLOCKHOST_ROOT/var/log/blockhost-firstboot.log}"
# k3s' own kubectl; tests point this at the harness kubectl (KUBECONFIG from the environment).
BLOCKHOST_KUBECTL="${BLOCKHOST_KUBECTL:-$BLOCKHOST_ROOT/usr/local/bin/k3s kubectl}"
BLOCKHOST_RANDOM_SOURCE="${BLOCKHOST_RANDOM_SOURCE:-/dev/urandom}"
BLOCKHOST_ISSUE_FILE="${BLOCKHOST_ISSUE_FILE:-$BLOCKHOST_ROOT/etc/issue}"

SETUP_CODE_SECRET=blockhost-setup-code
SETUP_CODE_ALPHABET=ABCDEFGHJKMNPQRSTUVWXYZ23456789
SETUP_CODE_LENGTH=6
SETUP_CODE_VALID_SECONDS=$((4 * 3600))
ISSUE_BEGIN='=== BlockHost ==='
ISSUE_END='=== end BlockHost ==='

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) [$(basename "$0")] $*"
  printf '%s\n' "$line" >&2
  if [ -n "$BLOCKHOST_LOG_FILE" ]; then
    mkdir -p "$(dirname "$BLOCKHOST_LOG_FILE")" 2>/dev/null || true
    (umask 077 && printf '%s\n' "$line" >>"$BLOCKHOST_LOG_FILE") 2>/dev/null || true
  fi
}

die() {
  log "ERROR: $*"
  exit 1
}

# Runs a command given as one string of words (overridable commands such as "k3s kubectl").
run_words() {
  local -a cmd
  read -r -a cmd <<<"$1"
  shift
  "${cmd[@]}" "$@"
}

# The kubectl command (it may be "k3s kubectl", two words).
kubectl_cmd() {
  run_words "$BLOCKHOST_KUBECTL" "$@"
}

# A Kubernetes namespace name (RFC 1123 label); anything else is refused before any change.
valid_namespace() {
  [[ "$1" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]]
}

# Unbiased code: bytes >= 248 (the largest multiple of 31 below 256) are discarded, so every
# symbol has probability exactly 1/31; `byte % 31` alone would favour the first 8 symbols.
generate_setup_code() {
  local limit=$((256 - 256 % ${#SETUP_CODE_ALPHABET})) code='' byte rounds=0
  while [ ${#code} -lt $SETUP_CODE_LENGTH ]; do
    # A real random source ends this in one round; a broken one must not hang first boot.
    rounds=$((rounds + 1))
    [ $rounds -le 64 ] || { log "ERROR: $BLOCKHOST_RANDOM_SOURCE gives no usable random bytes"; return 1; }
    local bytes
    bytes="$(od -An -tu1 -v -N32 "$BLOCKHOST_RANDOM_SOURCE")" || return 1
    [ -n "${bytes// /}" ] || { log "ERROR: no random bytes from $BLOCKHOST_RANDOM_SOURCE"; return 1; }
    for byte in $bytes; do
      if [ "$byte" -lt "$limit" ] && [ ${#code} -lt $SETUP_CODE_LENGTH ]; then
        code+="${SETUP_CODE_ALPHABET:$((byte % ${#SETUP_CODE_ALPHABET})):1}"
      fi
    done
  done
  printf '%s\n' "$code"
}

# Applies the Secret (and its namespace) server-side: no last-applied annotation carrying the code,
# and re-running simply replaces the code.
apply_setup_code_secret() {
  local code="$1" issued_at="$2"
  kubectl_cmd apply --server-side --force-conflicts --field-manager=blockhost-setup-code -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $BLOCKHOST_NAMESPACE
---
apiVersion: v1
kind: Secret
metadata:
  name: $SETUP_CODE_SECRET
  namespace: $BLOCKHOST_NAMESPACE
  labels:
    app.kubernetes.io/part-of: blockhost
    app.kubernetes.io/managed-by: blockhost-setup-code
type: Opaque
data:
  code: $(printf '%s' "$code" | base64 -w0)
  issuedAt: $(printf '%s' "$issued_at" | base64 -w0)
EOF
}

# Addresses the wizard is reachable on: global addresses of the host's own interfaces, not those
# k3s and the CNI add (cni0, flannel.1, veth*).
wizard_urls() {
  local dev family address
  while read -r _ dev family address _; do
    case "$dev" in cni* | flannel* | veth* | docker* | kube* | lo) continue ;; esac
    address="${address%/*}"
    if [ "$family" = inet6 ]; then
      printf 'http://[%s]/setup\n' "$address"
    else
      printf 'http://%s/setup\n' "$address"
    fi
  done < <(ip -o addr show scope global 2>/dev/null | awk '{print $1, $2, $3, $4}')
}

# /etc/issue = the original text (saved once) + our block, so every write replaces the block.
write_issue_block() {
  local original="$BLOCKHOST_ISSUE_FILE.blockhost-orig" line
  mkdir -p "$(dirname "$BLOCKHOST_ISSUE_FILE")"
  if [ ! -e "$original" ]; then
    if [ -e "$BLOCKHOST_ISSUE_FILE" ]; then cp -p "$BLOCKHOST_ISSUE_FILE" "$original"; else : >"$original"; fi
  fi
  {
    cat "$original"
    printf '%s\n' "$ISSUE_BEGIN"
    for line in "$@"; do printf '%s\n' "$line"; done
    printf '%s\n\n' "$ISSUE_END"
  } >"$BLOCKHOST_ISSUE_FILE.tmp"
  chmod 0644 "$BLOCKHOST_ISSUE_FILE.tmp"
  mv "$BLOCKHOST_ISSUE_FILE.tmp" "$BLOCKHOST_ISSUE_FILE"
  # Only the real console is reloaded; a test writing below a temporary root must not touch it.
  if [ -z "$BLOCKHOST_ROOT" ] && command -v agetty >/dev/null; then
    agetty --reload 2>/dev/null || true
  fi
}

write_console_message() {
  local code="$1" valid_until="$2" url
  local -a lines=('Setup wizard (in a browser):')
  while read -r url; do
    [ -z "$url" ] || lines+=("  $url")
  done < <(wizard_urls)
  [ ${#lines[@]} -gt 1 ] || lines+=('  http://<this server address>/setup')
  lines+=("One-time code: $code   (valid until $valid_until)" 'New code: blockhost-setup-code (as root)')
  write_issue_block "${lines[@]}"
}

# --- IPv4 state of the host's interfaces (blockhost-bridge, blockhost-network-sync) -------------
# Callers may set ping_count / ping_timeout (gateway check) and must set `pending` (the file the
# pre-change state is saved to, so an interrupted change is rolled back by the next run).

link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
global_ipv4() { ip -4 -o addr show dev "$1" scope global 2>/dev/null | awk '{print $4}'; }
default_route_dev() { ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}'; }
default_gateway() { ip -4 route show default dev "$1" | awk '{for (i = 1; i < NF; i++) if ($i == "via") {print $(i + 1); exit}}'; }

# The gateway answers ping, or at least ARP (routers that drop ICMP still resolve their address).
gateway_answers() {
  local dev="$1" gw="$2"
  local attempt
  # One ping at a time, so a healthy gateway is confirmed by its first reply.
  for ((attempt = 1; attempt <= ${ping_count:-5}; attempt++)); do
    ping -n -q -c 1 -W "${ping_timeout:-1}" -I "$dev" "$gw" >/dev/null 2>&1 && return 0
  done
  ip neigh show "$gw" dev "$dev" | grep -q 'lladdr' && ! ip neigh show "$gw" dev "$dev" | grep -Eq 'FAILED|INCOMPLETE'
}

# DEV's global IPv4 addresses as "addr=ADDR/PREFIX [brd B]" plus their lifetimes, and its routes
# as "route=...", so a restore is exact.
saved_addresses_and_routes() {
  local dev="$1"
  ip -4 -o addr show dev "$dev" scope global | awk '{
    spec = $4
    for (i = 5; i < NF; i++) {
      if ($i == "brd") spec = spec " brd " $(i + 1)
      if ($i == "valid_lft" && $(i + 1) != "forever") spec = spec " valid_lft " $(i + 1)
      if ($i == "preferred_lft" && $(i + 1) != "forever") spec = spec " preferred_lft " $(i + 1)
    }
    gsub(/sec/, "", spec)
    print "addr=" spec
  }'
  # Routes the kernel does not derive from the addresses; flags that describe link state are not
  # accepted when adding a route, so they are dropped.
  ip -4 route show dev "$dev" | grep -v 'proto kernel' | sed -E 's/ (linkdown|dead|offload|trap)//g; s/^/route=/'
}

state_value() { sed -n "s/^$1=//p" "${pending:?}" | head -n1; }
state_values() { sed -n "s/^$1=//p" "${pending:?}"; }

# Puts the saved addresses, then the saved routes, on DEV. A rollback ("tolerant") restores
# whatever it can rather than stopping at the first error.
apply_to() {
  local dev="$1" mode="${2:-strict}" spec
  local -a words
  while read -r spec; do
    [ -n "$spec" ] || continue
    read -r -a words <<<"$spec"
    ip addr add "${words[@]}" dev "$dev" || [ "$mode" = tolerant ] || return 1
  done < <(state_values addr)
  while read -r spec; do
    [ -n "$spec" ] || continue
    read -r -a words <<<"$spec"
    ip route replace "${words[@]}" dev "$dev" || [ "$mode" = tolerant ] || return 1
  done < <(state_values route)
}

# --- ifupdown (/etc/network/interfaces) ------------------------------------------------------

# Comments out IFACE's stanzas in FILE with "# TAG: " (kept for the record; the original is saved
# once as FILE.blockhost-orig) and makes sure FILE sources interfaces.d. Running it again changes nothing.
ifupdown_comment_out() {
  local file="$1" iface="$2" tag="$3"
  [ -e "$file.blockhost-orig" ] || cp -p "$file" "$file.blockhost-orig"
  awk -v nic="$iface" -v tag="# $tag: " '
    /^[ \t]*(iface|auto|allow-[a-z]+|mapping|source|source-directory)([ \t]|$)/ {
      inside = ($1 == "iface" && $2 == nic) || (($1 == "auto" || $1 ~ /^allow-/) && NF == 2 && $2 == nic)
    }
    inside && index($0, tag) != 1 && NF { print tag $0; next }
    { print }' "$file" >"$file.tmp"
  grep -Eq '^[ \t]*source(-directory)? +/etc/network/interfaces\.d' "$file.tmp" ||
    printf '\nsource /etc/network/interfaces.d/*\n' >>"$file.tmp"
  mv "$file.tmp" "$file"
}

# FILE (in interfaces.d) = NIC as a port of BRIDGE, the bridge configured by METHOD (dhcp|static)
# and OPTIONS (indented "address …" lines), with the NIC's MAC.
write_bridge_stanza() {
  local file="$1" nic="$2" bridge="$3" method="$4" options="$5" mac="$6"
  mkdir -p "$(dirname "$file")"
  {
    printf '# Written by %s: %s is a port of %s, which carries the host address.\n' "$(basename "$0")" "$nic" "$bridge"
    printf 'iface %s inet manual\n\nauto %s\niface %s inet %s\n' "$nic" "$bridge" "$bridge" "$method"
    [ -z "$options" ] || printf '%s\n' "$options"
    printf '    bridge_ports %s\n    bridge_stp off\n    bridge_fd 0\n    bridge_hw %s\n' "$nic" "$mac"
  } >"$file.tmp"
  mv "$file.tmp" "$file"
}
