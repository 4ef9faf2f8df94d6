#!/usr/bin/env bash
# Test toolchain for Axle's end-to-end tests: makes sure the binaries that
# test/support/kube-cluster.ts starts are present. Idempotent; when everything is
# cached it only hashes two files and returns.
#
#   bash scripts/test-toolchain.sh             # ensure etcd, chromium, kube-apiserver (+ controllers, scheduler, kwok), helm, kustomize (npm pretest, npm run test:cluster)
#   bash scripts/test-toolchain.sh --start N   # ...then start N test clusters in the foreground (Ctrl-C stops them)
#   bash scripts/test-toolchain.sh --render-tools  # only helm and kustomize, for the hub (npm install runs it;
#                                                  # without Go it says so and leaves them out)
#
# Tools built from Go sources live in .cache/bin (git-ignored). Each has a wrapper
# module under test/<tool>/ whose go.mod/go.sum pin the version; a stamp file
# (<bin>.stamp) holds a hash of go.mod, go.sum and the build flags, so the tool is
# rebuilt only when that pin (or the flags) change. See docs/test-clusters.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$ROOT/.cache/bin"
APT_UPDATED=0

log() { printf '[test-toolchain] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage: bash scripts/test-toolchain.sh [--start N]
  (no args)   install etcd (apt) if missing; build .cache/bin/kube-apiserver,
              kube-controller-manager, kube-scheduler and kwok, and helm and
              kustomize unless they are on PATH, when missing or stale
  --start N   afterwards, start N local test clusters and print their kubeconfigs (Ctrl-C stops)
  --render-tools  only helm and kustomize (what the hub renders with); without Go, a warning
EOF
}

# --- helpers ------------------------------------------------------------------

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

apt_install() { # PACKAGE...
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "running: apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    APT_UPDATED=1
  fi
  log "running: apt-get install -y --no-install-recommends $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

find_go() {
  if [ -n "${GO:-}" ]; then
    printf '%s\n' "$GO"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [ -x /usr/local/go/bin/go ]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    die "Go toolchain not found (set GO=/path/to/go or put go on PATH)"
  fi
}

# build_go_tool NAME MODULE_DIR PACKAGE [GO_BUILD_ARG...]
#   Builds PACKAGE (resolved through the wrapper module in MODULE_DIR, relative to the
#   repo root) into .cache/bin/NAME, unless the binary exists and its stamp matches the
#   hash of MODULE_DIR/go.mod, MODULE_DIR/go.sum, PACKAGE and the extra build args.
build_go_tool() {
  local name="$1" moddir="$ROOT/$2" pkg="$3"
  shift 3
  local out="$BIN_DIR/$name" stamp="$BIN_DIR/$name.stamp" want
  [ -f "$moddir/go.mod" ] || die "$moddir/go.mod not found"
  want="$(
    {
      cat "$moddir/go.mod"
      [ ! -f "$moddir/go.sum" ] || cat "$moddir/go.sum"
      printf '%s\n' "$pkg" "$@"
    } | sha256sum | cut -d' ' -f1
  )"
  if [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$name: up to date ($out)"
    return 0
  fi

  local go
  go="$(find_go)"
  log "$name: building $pkg from ${moddir#"$ROOT"/} with $("$go" env GOVERSION) (first build takes minutes)"
  local tmp="$out.tmp.$$" start=$SECONDS
  # Static binary (no cgo), reproducible paths, no VCS stamping of the wrapper module.
  if ! (cd "$moddir" && CGO_ENABLED=0 "$go" build -trimpath -buildvcs=false -o "$tmp" "$@" "$pkg"); then
    rm -f "$tmp"
    die "$name: go build failed"
  fi
  mv -f "$tmp" "$out"
  printf '%s\n' "$want" >"$stamp"
  log "$name: built in $((SECONDS - start))s -> $out"
}

# --- tools ---------------------------------------------------------------------

ensure_etcd() {
  if [ -x "$BIN_DIR/etcd" ]; then
    log "etcd: using $BIN_DIR/etcd ($("$BIN_DIR/etcd" --version 2>/dev/null | head -n1))"
    return 0
  fi
  if command -v etcd >/dev/null 2>&1; then
    log "etcd: found $(command -v etcd) ($(etcd --version 2>/dev/null | head -n1))"
    return 0
  fi
  log "etcd: not on PATH, installing Debian package etcd-server"
  apt_install etcd-server
  command -v etcd >/dev/null 2>&1 || die "etcd still not on PATH after installing etcd-server"
  log "etcd: installed $(command -v etcd) ($(etcd --version 2>/dev/null | head -n1))"
}

# The web UI's end-to-end tests drive Debian's Chromium with playwright-core (a browser download
# does not work here); AXLE_CHROMIUM points elsewhere.
ensure_chromium() {
  local bin="${AXLE_CHROMIUM:-/usr/bin/chromium}"
  if [ -x "$bin" ]; then
    log "chromium: using $bin"
    return 0
  fi
  log "chromium: not found, installing Debian packages chromium and fonts-liberation"
  apt_install chromium fonts-liberation
  [ -x /usr/bin/chromium ] || die "chromium still missing after installing the Debian package"
}

# kube_ldflags -> linker flags that stamp the real Kubernetes version into a binary of
# test/kube (otherwise /version says v0.0.0-master).
kube_ldflags() {
  local ver minor
  ver="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$ROOT/test/kube/go.mod")"
  [ -n "$ver" ] || die "cannot find the k8s.io/kubernetes version in test/kube/go.mod"
  minor="$(printf '%s' "$ver" | cut -d. -f2)"
  local ldflags="-s -w"
  local pkgpath
  for pkgpath in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkgpath.gitVersion=$ver -X $pkgpath.gitMajor=1 -X $pkgpath.gitMinor=$minor -X $pkgpath.gitTreeState=clean"
  done
  printf '%s\n' "$ldflags"
}

build_kube_apiserver() {
  local flags
  flags="$(kube_ldflags)" # on its own line: a failure inside stops the script (set -e)
  build_go_tool kube-apiserver test/kube k8s.io/kubernetes/cmd/kube-apiserver -ldflags="$flags"
}

# The workload test cluster (test/support/kube-cluster.ts `workloads`) runs the controllers and
# scheduler of the same Kubernetes release, and kwok for nodes that run pods without containers.
build_workload_tools() {
  local flags
  flags="$(kube_ldflags)"
  build_go_tool kube-controller-manager test/kube k8s.io/kubernetes/cmd/kube-controller-manager -ldflags="$flags"
  build_go_tool kube-scheduler test/kube k8s.io/kubernetes/cmd/kube-scheduler -ldflags="$flags"
  build_go_tool kwok test/kwok sigs.k8s.io/kwok/cmd/kwok -ldflags="-s -w"
  # kwok moves nodes and pods through "stages"; its module ships the standard fast ones.
  local stages="$BIN_DIR/kwok-stages.yaml" moddir ver go
  if [ -f "$stages" ] && [ "$stages" -nt "$ROOT/test/kwok/go.mod" ]; then
    log "kwok stages: up to date ($stages)"
    return 0
  fi
  go="$(find_go)"
  ver="$(go_mod_version test/kwok sigs.k8s.io/kwok)"
  [ -n "$ver" ] || die "cannot find the sigs.k8s.io/kwok version in test/kwok/go.mod"
  moddir="$(cd "$ROOT/test/kwok" && "$go" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  [ -n "$moddir" ] || die "kwok $ver: module directory not found"
  [ -d "$moddir/kustomize/stage" ] || die "kwok $ver: stages not found in $moddir"
  {
    printf '# Generated by scripts/test-toolchain.sh from sigs.k8s.io/kwok %s (Apache-2.0).\n' "$ver"
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      printf -- '---\n'
      cat "$moddir/kustomize/stage/$f"
    done
  } >"$stages.tmp"
  mv -f "$stages.tmp" "$stages"
}

# go_mod_version MODULE_DIR MODULE -> the version MODULE_DIR/go.mod requires of MODULE
go_mod_version() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m && $3 ~ /^v/ { print $3; exit }' "$ROOT/$1/go.mod"
}

# Helm and Kustomize render applications (libs/render). A binary already on PATH is used
# as it is (the tests look in .cache/bin first, then on PATH); otherwise it is built here.
build_helm() {
  if [ ! -x "$BIN_DIR/helm" ] && command -v helm >/dev/null 2>&1; then
    log "helm: found $(command -v helm) ($(helm version --short 2>/dev/null | head -n1))"
    return 0
  fi
  # Stamp the version like helm's Makefile does: the release, and the Kubernetes version
  # that `helm template` reports as .Capabilities.KubeVersion (client-go v0.N -> v1.N).
  local ver cgo minor
  ver="$(go_mod_version test/helm helm.sh/helm/v3)"
  cgo="$(go_mod_version test/helm k8s.io/client-go)"
  [ -n "$ver" ] && [ -n "$cgo" ] || die "cannot find helm.sh/helm/v3 and k8s.io/client-go versions in test/helm/go.mod"
  minor="$(printf '%s' "$cgo" | cut -d. -f2)"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$ver -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local pkgpath
  for pkgpath in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags="$ldflags -X $pkgpath.k8sVersionMajor=1 -X $pkgpath.k8sVersionMinor=$minor"
  done
  build_go_tool helm test/helm helm.sh/helm/v3/cmd/helm -ldflags="$ldflags"
}

build_kustomize() {
  if [ ! -x "$BIN_DIR/kustomize" ] && command -v kustomize >/dev/null 2>&1; then
    log "kustomize: found $(command -v kustomize) ($(kustomize version 2>/dev/null | head -n1))"
    return 0
  fi
  # kustomize reads its own version from the build info (module dependency), no -X needed.
  build_go_tool kustomize test/kustomize sigs.k8s.io/kustomize/kustomize/v5 -ldflags="-s -w"
}

# --- main ----------------------------------------------------------------------

START_COUNT=""
RENDER_TOOLS_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --render-tools)
      RENDER_TOOLS_ONLY=1
      shift
      ;;
    --start)
      [ $# -ge 2 ] || {
        usage
        exit 2
      }
      START_COUNT="$2"
      shift 2
      ;;
    --start=*)
      START_COUNT="${1#--start=}"
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage
      exit 2
      ;;
  esac
done

case "$START_COUNT" in
  '' | [1-9] | [1-9][0-9]) ;;
  *) die "--start needs a number of clusters (1-99), got '$START_COUNT'" ;;
esac

mkdir -p "$BIN_DIR"
# Serialize concurrent runs (parallel `npm test` invocations) so only one builds.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN_DIR/.toolchain.lock"
  flock 9
fi

if [ "$RENDER_TOOLS_ONLY" -eq 1 ]; then
  # Set-up for the hub: Helm and Kustomize sources render out of the box. Without Go (and
  # without the tools on PATH) the hub starts anyway and says which tools are missing.
  if ! (command -v helm >/dev/null && command -v kustomize >/dev/null) &&
    ! (GO="${GO:-}" find_go >/dev/null 2>&1); then
    log "WARNING: Go not found: helm and kustomize not built; Helm and Kustomize applications"
    log "         will fail until they are on PATH or AXLE_HELM_PATH/AXLE_KUSTOMIZE_PATH are set"
    exit 0
  fi
  build_helm
  build_kustomize
  exit 0
fi

ensure_etcd
ensure_chromium
build_kube_apiserver
build_workload_tools
build_helm
build_kustomize
# Later, same pattern (a wrapper module under test/<tool>/ with a `tool` directive):
#   build_go_tool etcd test/etcd go.etcd.io/etcd/server/v3   # etcd 3.6 instead of Debian's 3.4 (docs/test-clusters.md)

if [ -n "$START_COUNT" ]; then
  if command -v flock >/dev/null 2>&1; then exec 9>&-; fi
  exec node "$ROOT/scripts/test-cluster.mjs" --count "$START_COUNT"
fi
