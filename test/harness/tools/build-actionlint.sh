#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow checker) from its pinned Go module into a per-user
# cache keyed by version; a second run is a no-op. Prints the binary's path on its last line.
set -euo pipefail

version=v1.7.12
cache_root="${BLOCKHOST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blockhost}"
dir="$cache_root/tools/actionlint-$version"
if [ ! -x "$dir/actionlint" ]; then
  command -v go >/dev/null || { echo "[actionlint build] Go is required (https://go.dev)" >&2; exit 1; }
  mkdir -p "$dir"
  # Parallel first runs wait for one builder.
  exec 9>"$dir.lock"
  flock 9
  if [ ! -x "$dir/actionlint" ]; then
    echo "[actionlint build] go install github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
    GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
  fi
fi
echo "$dir/actionlint"
