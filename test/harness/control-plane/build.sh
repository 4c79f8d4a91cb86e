#!/usr/bin/env bash
# Builds the real control-plane binaries (etcd, kube-apiserver, kube-controller-manager), the node's
# (kubelet, kube-scheduler, kube-proxy, CoreDNS) and the kubectl and helm CLIs from pinned Go modules
# into a per-user cache keyed by version. A second run is a no-op.
# Prints the bin directory on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${BLOCKHOST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blockhost}"
key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}"
bin="$cache_root/control-plane/$key/bin"
work="$cache_root/control-plane/$key/src"

progress() { printf '[control-plane build] %s\n' "$*" >&2; }

kubernetes_commands=(kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler kube-proxy)
missing() {
  need=()
  for b in etcd "${kubernetes_commands[@]}" helm; do
    [ -x "$bin/$b" ] || need+=("$b")
  done
  # CoreDNS's version is not in the cache key (that would rebuild everything), so a stamp pins it.
  [ -x "$bin/coredns" ] && [ "$(cat "$bin/coredns.version" 2>/dev/null)" = "$COREDNS_VERSION" ] || need+=(coredns)
  [ ${#need[@]} -gt 0 ]
}
if ! missing; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { progress "Go is required (https://go.dev); none found on PATH"; exit 1; }
mkdir -p "$bin" "$work"
# Concurrent first runs (parallel test workers, CI beside a session) wait for one builder.
exec 9>"$cache_root/control-plane/$key.lock"
flock 9
if ! missing; then
  echo "$bin"
  exit 0
fi
export GOFLAGS="-mod=mod" CGO_ENABLED=0

# Kubernetes: k8s.io/kubernetes as a dependency ignores its own ./staging replaces, so every staging
# module is pinned to the matching published v0.x release.
build_kubernetes() {
  local dir="$work/kubernetes" minor="v0.${KUBERNETES_VERSION#v1.}"
  mkdir -p "$dir"
  progress "resolving k8s.io/kubernetes $KUBERNETES_VERSION staging modules"
  local modfile
  modfile="$(curl -fsSL "${GOPROXY_URL}/k8s.io/kubernetes/@v/${KUBERNETES_VERSION}.mod")"
  {
    echo "module blockhost.local/controlplane"
    echo "go 1.24"
    echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' <<<"$modfile" | awk -v v="$minor" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  (cd "$dir" && progress "go mod tidy (kubernetes)" && go mod tidy >&2)
  for b in "${kubernetes_commands[@]}"; do
    [ -x "$bin/$b" ] && continue
    progress "go build $b (several minutes on a cold cache)"
    (cd "$dir" && go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION} -X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION}" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b" && mv "$bin/$b.tmp" "$bin/$b")
  done
}

# etcd: the server module's etcdmain is the whole etcd binary behind a three-line main.
build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<MOD
module blockhost.local/etcd
go 1.24
require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
MOD
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$dir" && progress "go mod tidy (etcd)" && go mod tidy >&2 && progress "go build etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" . && mv "$bin/etcd.tmp" "$bin/etcd")
}

build_helm() {
  local dir="$work/helm"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<MOD
module blockhost.local/helm
go 1.24
require helm.sh/helm/v3 ${HELM_VERSION}
MOD
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "helm.sh/helm/v3/cmd/helm"
GO
  (cd "$dir" && progress "go mod tidy (helm)" && go mod tidy >&2 && progress "go build helm" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" -o "$bin/helm.tmp" helm.sh/helm/v3/cmd/helm && mv "$bin/helm.tmp" "$bin/helm")
}

# CoreDNS for the test node's cluster DNS, with only the plugins its Corefile uses (no cloud SDKs).
build_coredns() {
  local dir="$work/coredns"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<MOD
module blockhost.local/coredns
go 1.24
require github.com/coredns/coredns ${COREDNS_VERSION}
MOD
  cat >"$dir/main.go" <<'GO'
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order plugins handle a query in (upstream's plugin.cfg order, restricted to those above).
func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "cache", "kubernetes", "forward"}
}

func main() { coremain.Run() }
GO
  (cd "$dir" && progress "go mod tidy (coredns)" && go mod tidy >&2 && progress "go build coredns" && go build -trimpath -ldflags "-s -w" -o "$bin/coredns.tmp" . && mv "$bin/coredns.tmp" "$bin/coredns" && echo "$COREDNS_VERSION" >"$bin/coredns.version")
}

start=$(date +%s)
for b in "${need[@]}"; do
  case "$b" in
    etcd) build_etcd ;;
    kube-* | kubectl | kubelet) [ -x "$bin/$b" ] || build_kubernetes ;;
    helm) build_helm ;;
    coredns) build_coredns ;;
  esac
done
elapsed=$(( $(date +%s) - start ))
progress "built ${need[*]} in ${elapsed}s into $bin"
# Kept for `npm run bench`, which reports the cold build time it cannot re-measure cheaply.
printf '{"built":"%s","seconds":%d,"date":"%s"}\n' "${need[*]}" "$elapsed" "$(date -u +%FT%TZ)" >>"$cache_root/control-plane/$key/build-times.jsonl"
echo "$bin"
