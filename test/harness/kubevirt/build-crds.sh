#!/usr/bin/env bash
# Prints KubeVirt's real VirtualMachine and VirtualMachineInstance CRDs into a per-user cache, from
# KubeVirt's own generator (crd-gen/, built from the Go module proxy at the version its go.mod pins).
# A second run is a no-op. Prints the CRD YAML path on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gen="$here/crd-gen"
version="$(awk '$1 == "kubevirt.io/kubevirt" { print $2; exit }' "$gen/go.mod")"
[ -n "$version" ] || { echo "[kubevirt crds] no kubevirt.io/kubevirt version in $gen/go.mod" >&2; exit 1; }
# The generator's source is part of the key: a changed program must not reuse old output.
hash="$(cat "$gen/go.mod" "$gen/go.sum" "$gen/main.go" | sha256sum | cut -c1-12)"
cache_root="${BLOCKHOST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blockhost}"
dir="$cache_root/kubevirt-crds/$version-$hash"
out="$dir/crds.yaml"

progress() { printf '[kubevirt crds] %s\n' "$*" >&2; }

if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { progress "Go is required (https://go.dev); none found on PATH"; exit 1; }
mkdir -p "$dir"
# Parallel test workers wait for one builder.
exec 9>"$dir.lock"
flock 9
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

start=$(date +%s)
progress "building KubeVirt $version's CRD generator (a minute or two on a cold Go cache)"
(cd "$gen" && CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$dir/crd-gen" .)
"$dir/crd-gen" >"$out.tmp"
mv "$out.tmp" "$out"
rm -f "$dir/crd-gen"
elapsed=$(($(date +%s) - start))
progress "generated $out in ${elapsed}s"
printf '{"version":"%s","seconds":%d,"date":"%s"}\n' "$version" "$elapsed" "$(date -u +%FT%TZ)" >>"$cache_root/kubevirt-crds/build-times.jsonl"
echo "$out"
