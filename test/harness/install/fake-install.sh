#!/bin/sh
# Test stand-in for k3s' install.sh with INSTALL_K3S_SKIP_DOWNLOAD=true. Like the real script it
# refuses to run without the k3s binary already in INSTALL_K3S_BIN_DIR, links kubectl and writes
# the k3s unit; "starting k3s" registers the node in the harness API server after
# $FAKE_K3S_NODE_DELAY seconds, as the kubelet would (never, if FAKE_K3S_NODE_READY=never).
set -eu

: "${FAKE_K3S_RECORD:?}" "${FAKE_K3S_KUBECTL:?}" "${BLOCKHOST_NODE_NAME:?}"
printf 'install.sh SKIP_DOWNLOAD=%s BIN_DIR=%s SYSTEMD_DIR=%s EXEC=%s\n' "${INSTALL_K3S_SKIP_DOWNLOAD:-}" \
  "${INSTALL_K3S_BIN_DIR:-}" "${INSTALL_K3S_SYSTEMD_DIR:-}" "${INSTALL_K3S_EXEC:-}" >>"$FAKE_K3S_RECORD"
[ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" = true ] || { echo "fake install.sh: would download k3s" >&2; exit 1; }
bin_dir="${INSTALL_K3S_BIN_DIR:?}"
[ -x "$bin_dir/k3s" ] || { echo "fake install.sh: $bin_dir/k3s missing (skip-download needs it)" >&2; exit 1; }
ln -sf k3s "$bin_dir/kubectl"
mkdir -p "${INSTALL_K3S_SYSTEMD_DIR:?}"
printf '[Service]\nExecStart=%s/k3s %s\n' "$bin_dir" "${INSTALL_K3S_EXEC:-server}" >"$INSTALL_K3S_SYSTEMD_DIR/k3s.service"

[ "${FAKE_K3S_NODE_READY:-}" != never ] || exit 0
# In its own session, like the k3s service: it outlives a killed first boot.
export FAKE_K3S_KUBECTL BLOCKHOST_NODE_NAME
# shellcheck disable=SC2016 # expanded by the inner shell
FAKE_K3S_NODE_DELAY="${FAKE_K3S_NODE_DELAY:-2}" setsid -f sh -c '
  sleep "$FAKE_K3S_NODE_DELAY"
  printf "apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n  labels:\n    blockhost.io/test: \"true\"\n" "$BLOCKHOST_NODE_NAME" |
    "$FAKE_K3S_KUBECTL" apply -f -
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  "$FAKE_K3S_KUBECTL" patch node "$BLOCKHOST_NODE_NAME" --subresource=status --type=merge -p \
    "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"fake\",\"lastHeartbeatTime\":\"$now\",\"lastTransitionTime\":\"$now\"}]}}"
' </dev/null >>"$FAKE_K3S_RECORD.node" 2>&1
