#!/usr/bin/env bash
# Builds a small first-boot payload for tests, shaped like the real one (iso/README.md): the fake
# k3s binary and install.sh from this folder, small image tarballs, a real chart packaged with helm
# and a values.yaml.
set -euo pipefail

usage() { echo "Usage: make-payload.sh OUT_DIR HELM_BINARY"; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
[ $# -eq 2 ] || { usage >&2; exit 1; }
out="$1"
helm="$2"
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$out/images" "$out/chart"
cp "$here/fake-k3s" "$out/k3s"
cp "$here/fake-install.sh" "$out/install.sh"
chmod 0755 "$out/k3s" "$out/install.sh"
# Image tarballs: real tar files (k3s would import them), with stand-in content.
for image in k3s-airgap-images-amd64 images/controller images/web; do
  mkdir -p "$work/$image"
  printf '{"image":"%s"}\n' "$image" >"$work/$image/manifest.json"
  head -c 4096 /dev/urandom >"$work/$image/layer"
  tar -C "$work/$image" -cf "$out/$image.tar" manifest.json layer
done

mkdir -p "$work/chart/blockhost/templates"
printf 'apiVersion: v2\nname: blockhost\nversion: 0.0.1-test\ndescription: test chart\n' >"$work/chart/blockhost/Chart.yaml"
printf 'greeting: from-chart-defaults\n' >"$work/chart/blockhost/values.yaml"
cat >"$work/chart/blockhost/templates/configmap.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: blockhost-greeting
data:
  greeting: {{ .Values.greeting | quote }}
YAML
"$helm" package "$work/chart/blockhost" --destination "$out/chart" >/dev/null
printf '# values given to the chart by first boot\ngreeting: from-payload\n' >"$out/values.yaml"
