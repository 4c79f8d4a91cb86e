# shellcheck shell=bash disable=SC2034 # constants here are used by the scripts that source this file
# Shared by firstboot.sh, blockhost-setup-code, blockhost-host-facts and blockhost-bridge: paths (all below
# BLOCKHOST_ROOT, so tests can run the scripts against a temporary directory), logging, and the
# one-time code with its console message. Sourced, never run.

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
