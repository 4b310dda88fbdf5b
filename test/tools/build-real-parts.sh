#!/usr/bin/env bash
# Builds the real parts the end-to-end tests run — etcd, kube-apiserver, kube-controller-manager, helm, the sidecar's
# syncthing and the oldest syncthing the agent supports — from the Go module proxy into a cache outside the repository. Each binary is built only when
# it is missing, so a second run costs nothing. A cold build takes tens of minutes on two cores; progress is printed
# as it goes.
#
#   bash test/tools/build-real-parts.sh            # all of them
#   DEVX_CACHE=/somewhere bash test/tools/build-real-parts.sh
#
# Versions are pinned here and nowhere else (the TypeScript harness reads them from `versions.env`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${DEVX_CACHE:-$HOME/.cache/devx}
k8s_dir="$cache/k8s-v$K8S_VERSION"
etcd_dir="$cache/etcd-v$ETCD_VERSION"
helm_dir="$cache/helm-v$HELM_VERSION"
syncthing_dir="$cache/syncthing-v$SYNCTHING_SIDECAR_VERSION"
syncthing_oldest_dir="$cache/syncthing-v$SYNCTHING_OLDEST_VERSION"
vegeta_dir="$cache/vegeta-v$VEGETA_VERSION"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { printf '[build-real-parts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { log "go is not on PATH: install Go >= 1.26 (https://go.dev/doc/install)"; exit 1; }

# build_in_module DIR MODULE_REQUIREMENTS... ; runs in a scratch module so nothing touches the repository
scratch() { local d; d=$(mktemp -d "${TMPDIR:-/tmp}/devx-build.XXXXXX"); echo "$d"; }

build_k8s() {
  if [[ -x "$k8s_dir/kube-apiserver" && -x "$k8s_dir/kube-controller-manager" ]]; then
    log "kube-apiserver and kube-controller-manager v$K8S_VERSION cached in $k8s_dir"; return
  fi
  local work minor; work=$(scratch); minor=${K8S_VERSION#*.}
  log "building kube-apiserver + kube-controller-manager v$K8S_VERSION in $work"
  (
    cd "$work"
    go mod init devx.local/k8s-build >/dev/null 2>&1
    log "downloading k8s.io/kubernetes@v$K8S_VERSION"
    go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
    gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod
    # Every staging module is required as v0.0.0 by k8s.io/kubernetes and published as v0.<minor>.
    staging=$(awk '/^\t?k8s\.io\/[a-z0-9-]+ v0\.0\.0$/ {print $1} /^require .*k8s\.io\/[a-z0-9-]+ v0\.0\.0$/ {print $2}' "$gomod" | sort -u)
    {
      echo "require k8s.io/kubernetes v$K8S_VERSION"
      for m in $staging; do echo "replace $m => $m v0.$minor"; done
    } >> go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
    log "go mod tidy (resolves $(echo "$staging" | wc -w) staging modules)"
    go mod tidy >/dev/null
    mkdir -p "$k8s_dir.tmp"
    log "go build kube-apiserver kube-controller-manager (the long part)"
    go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
      -o "$k8s_dir.tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  )
  rm -rf "$k8s_dir"; mv "$k8s_dir.tmp" "$k8s_dir"; rm -rf "$work"
  log "done: $k8s_dir"
}

# build_go_tool DIR BINARY "MODULE VERSION" PACKAGE [go build flags...]: one binary from one module, in a scratch module
# so that nothing touches the repository.
build_go_tool() {
  local dir=$1 bin=$2 require=$3 pkg=$4; shift 4
  if [[ -x "$dir/$bin" ]]; then log "$bin ${require#* } cached in $dir"; return; fi
  local work; work=$(scratch)
  log "building $bin ${require#* } in $work"
  (
    cd "$work"
    go mod init "devx.local/$bin-build" >/dev/null 2>&1
    echo "require $require" >> go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
    go mod tidy >/dev/null
    mkdir -p "$dir.tmp"
    go build -trimpath "$@" -o "$dir.tmp/$bin" "$pkg"
  )
  rm -rf "$dir"; mv "$dir.tmp" "$dir"; rm -rf "$work"
  log "done: $dir"
}

build_etcd() {
  build_go_tool "$etcd_dir" etcd "go.etcd.io/etcd/server/v3 v$ETCD_VERSION" go.etcd.io/etcd/server/v3 -ldflags "-s -w"
}

build_helm() {
  build_go_tool "$helm_dir" helm "helm.sh/helm/v3 v$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
}

build_syncthing() {
  # noassets: the web GUI is not needed (the REST API is); noupgrade: as the official image is built.
  build_go_tool "$syncthing_dir" syncthing "github.com/syncthing/syncthing v$SYNCTHING_SIDECAR_VERSION" github.com/syncthing/syncthing/cmd/syncthing \
    -tags noassets,noupgrade -ldflags "-s -w -X github.com/syncthing/syncthing/lib/build.Version=v$SYNCTHING_SIDECAR_VERSION"
}

build_syncthing_oldest() {
  build_go_tool "$syncthing_oldest_dir" syncthing "github.com/syncthing/syncthing v$SYNCTHING_OLDEST_VERSION" github.com/syncthing/syncthing/cmd/syncthing \
    -tags noassets,noupgrade,noquic -ldflags "-s -w -X github.com/syncthing/syncthing/lib/build.Version=v$SYNCTHING_OLDEST_VERSION"
}

# Only for `npm run bench` (not in `all`): its fixed-rate load generator.
build_vegeta() {
  build_go_tool "$vegeta_dir" vegeta "github.com/tsenart/vegeta/v12 v$VEGETA_VERSION" github.com/tsenart/vegeta/v12 -ldflags "-s -w"
}

what=${1:-all}
case "$what" in
  k8s) build_k8s ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  syncthing) build_syncthing; build_syncthing_oldest ;;
  vegeta) build_vegeta ;;
  all) build_etcd; build_k8s; build_helm; build_syncthing; build_syncthing_oldest ;;
  *) log "usage: $0 [all|k8s|etcd|helm|syncthing|vegeta]"; exit 2 ;;
esac
