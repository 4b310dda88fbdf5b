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
node_dir="$cache/k8s-node-v$K8S_VERSION"
containerd_dir="$cache/containerd-v$CONTAINERD_VERSION"
cni_dir="$cache/cni-plugins-v$CNI_PLUGINS_VERSION"
images_dir="$cache/node-images-v$NODE_IMAGES_VERSION"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { printf '[build-real-parts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { log "go is not on PATH: install Go >= 1.26 (https://go.dev/doc/install)"; exit 1; }

# build_in_module DIR MODULE_REQUIREMENTS... ; runs in a scratch module so nothing touches the repository
scratch() { local d; d=$(mktemp -d "${TMPDIR:-/tmp}/devx-build.XXXXXX"); echo "$d"; }

# build_k8s_cmds DIR CMD...: binaries of k8s.io/kubernetes/cmd/* at K8S_VERSION, in a scratch module (every staging
# module is required as v0.0.0 by k8s.io/kubernetes and published as v0.<minor>, hence the replace lines).
build_k8s_cmds() {
  local dir=$1; shift
  local cmd missing=()
  for cmd in "$@"; do [[ -x "$dir/$cmd" ]] || missing+=("$cmd"); done
  if [[ ${#missing[@]} -eq 0 ]]; then log "$* v$K8S_VERSION cached in $dir"; return; fi
  local work minor; work=$(scratch); minor=${K8S_VERSION#*.}
  log "building $* v$K8S_VERSION in $work"
  (
    cd "$work"
    go mod init devx.local/k8s-build >/dev/null 2>&1
    log "downloading k8s.io/kubernetes@v$K8S_VERSION"
    go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
    gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod
    staging=$(awk '/^\t?k8s\.io\/[a-z0-9-]+ v0\.0\.0$/ {print $1} /^require .*k8s\.io\/[a-z0-9-]+ v0\.0\.0$/ {print $2}' "$gomod" | sort -u)
    {
      echo "require k8s.io/kubernetes v$K8S_VERSION"
      for m in $staging; do echo "replace $m => $m v0.$minor"; done
    } >> go.mod
    { echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
      for cmd in "$@"; do echo "	_ \"k8s.io/kubernetes/cmd/$cmd\""; done; echo ')'; } > tools.go
    log "go mod tidy (resolves $(echo "$staging" | wc -w) staging modules)"
    go mod tidy >/dev/null
    mkdir -p "$dir.tmp"
    log "go build $* (the long part)"
    local pkgs=(); for cmd in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
    go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
      -o "$dir.tmp/" "${pkgs[@]}"
  )
  rm -rf "$dir"; mv "$dir.tmp" "$dir"; rm -rf "$work"
  log "done: $dir"
}

build_k8s() { build_k8s_cmds "$k8s_dir" kube-apiserver kube-controller-manager; }

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

# ---- The node: kubelet, scheduler, kubectl, containerd, CNI plugins, runc, and the images its pods run ----

build_node_k8s() { build_k8s_cmds "$node_dir" kubelet kube-scheduler kubectl kube-proxy; }

# build_go_cmds DIR "MODULE VERSION" TAGS PACKAGE...: several binaries of one module, in a scratch module.
build_go_cmds() {
  local dir=$1 require=$2 tags=$3; shift 3
  local pkg missing=0
  for pkg in "$@"; do [[ -x "$dir/$(basename "$pkg")" ]] || missing=1; done
  if [[ $missing -eq 0 ]]; then log "${require} cached in $dir"; return; fi
  local work; work=$(scratch)
  log "building ${require} ($(for p in "$@"; do basename "$p"; done | tr '\n' ' ')) in $work"
  (
    cd "$work"
    go mod init devx.local/build >/dev/null 2>&1
    echo "require $require" >> go.mod
    { echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
      for pkg in "$@"; do echo "	_ \"$pkg\""; done; echo ')'; } > tools.go
    go mod tidy >/dev/null
    mkdir -p "$dir.tmp"
    go build -trimpath -tags "$tags" -ldflags "-s -w" -o "$dir.tmp/" "$@"
  )
  rm -rf "$dir"; mv "$dir.tmp" "$dir"; rm -rf "$work"
  log "done: $dir"
}

build_containerd() {
  build_go_cmds "$containerd_dir" "github.com/containerd/containerd/v2 v$CONTAINERD_VERSION" \
    "no_btrfs no_devmapper no_zfs no_aufs" \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr
}

build_cni() {
  build_go_cmds "$cni_dir" "github.com/containernetworking/plugins v$CNI_PLUGINS_VERSION" "" \
    github.com/containernetworking/plugins/plugins/main/bridge github.com/containernetworking/plugins/plugins/main/loopback \
    github.com/containernetworking/plugins/plugins/ipam/host-local
}

# What Go modules cannot give: runc (the OCI runtime containerd's shim runs), a static busybox (the shell and core
# utilities of the node's images), nft (kube-proxy's nftables mode programs Services with it) and tmux (the
# pseudo-terminal of the agent's terminal tests, test/e2e/harness/tmux.ts). Installed from Debian's packages when
# missing, as root; otherwise the one command.
install_debian_parts() {
  local need=()
  command -v runc >/dev/null 2>&1 || need+=(runc)
  [[ -x /bin/busybox ]] || need+=(busybox-static)
  command -v nft >/dev/null 2>&1 || [[ -x /usr/sbin/nft ]] || need+=(nftables)
  command -v tmux >/dev/null 2>&1 || need+=(tmux)
  if [[ ${#need[@]} -eq 0 ]]; then log "runc, busybox-static, nftables and tmux are installed"; return; fi
  if [[ $(id -u) -ne 0 ]]; then
    log "the node needs Debian packages: run  sudo apt-get install -y ${need[*]}"; exit 1
  fi
  log "installing Debian packages: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  }
}

# The node's images, as OCI archives for `ctr images import`: written by the project's own Go program
# (test/tools/node-images) from busybox, the syncthing built above and a pause program of its own.
build_images() {
  if [[ -f "$images_dir/done" ]]; then log "node images v$NODE_IMAGES_VERSION cached in $images_dir"; return; fi
  local work; work=$(scratch)
  log "writing the node images into $images_dir"
  mkdir -p "$images_dir.tmp"
  ( cd "$here/node-images" && GOFLAGS= go build -trimpath -o "$work/node-images" . && GOFLAGS= go build -trimpath -ldflags "-s -w" -o "$work/pause" ./pause )
  "$work/node-images" -out "$images_dir.tmp" -busybox /bin/busybox -pause "$work/pause" -syncthing "$syncthing_dir/syncthing" \
    -syncthing-version "$SYNCTHING_SIDECAR_VERSION"
  touch "$images_dir.tmp/done"
  rm -rf "$images_dir"; mv "$images_dir.tmp" "$images_dir"; rm -rf "$work"
  log "done: $images_dir"
}

build_node() { install_debian_parts; build_node_k8s; build_containerd; build_cni; build_syncthing; build_images; }

what=${1:-all}
case "$what" in
  k8s) build_k8s ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  syncthing) build_syncthing; build_syncthing_oldest ;;
  vegeta) build_vegeta ;;
  node) build_node ;;
  images) build_images ;;
  all) build_etcd; build_k8s; build_helm; build_syncthing; build_syncthing_oldest; build_node ;;
  *) log "usage: $0 [all|k8s|etcd|helm|syncthing|vegeta|node|images]"; exit 2 ;;
esac
