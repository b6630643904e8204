#!/usr/bin/env bash
# Builds the test cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok, helm) and promtool (the chart's alert rules) from pinned sources through the Go module proxy and caches the binaries outside the
# checkout, keyed by version, so a fresh clone on the same machine (which is what CI is) reuses
# them. Only missing binaries are built. Prints the bin directory.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
# github.com/prometheus/prometheus publishes Prometheus 3.x as Go module versions v0.3xx.y:
# v0.316.0 is Prometheus v3.16.0.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
CACHE_ROOT="${OXIDE_CCM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oxide-ccm}"
BIN_DIR="$CACHE_ROOT/testbin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
# kwok is its own module with its own k8s.io requirements, independent of K8S_VERSION: one build
# serves every Kubernetes version's bin dir (linked into each).
KWOK_DIR="$CACHE_ROOT/testbin/kwok-$KWOK_VERSION"
# promtool, like kwok, does not depend on the Kubernetes version: one build, linked into each dir.
PROMTOOL_DIR="$CACHE_ROOT/testbin/promtool-$PROMETHEUS_VERSION"
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# k8s.io/kubernetes 1.37 declares go 1.26.0; pick a newer toolchain only if the local one is older.
if ! go version | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])'; then export GOTOOLCHAIN=go1.27.3; fi
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0

log() { printf 'testbin: %s\n' "$*" >&2; }

build_etcd() {
  local work; work=$(mktemp -d)
  # Expanded now and cleared once run, so the caller's own return does not fire it again.
  trap "rm -rf '$work'; trap - RETURN" RETURN
  cat >"$work/go.mod" <<MOD
module oxide-ccm/testbin/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  cat >"$work/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work" && go mod tidy >/dev/null 2>&1 && go build -trimpath -ldflags='-s -w' -o "$BIN_DIR/etcd.tmp" .)
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
}

# Builds the KUBE_BINS given as arguments (the missing ones) from k8s.io/kubernetes in one
# module, so later additions compile incrementally from Go's build cache.
build_kube() {
  local work minor bin pkgs=(); work=$(mktemp -d)
  # Expanded now and cleared once run, so the caller's own return does not fire it again.
  trap "rm -rf '$work'; trap - RETURN" RETURN
  minor="v0.${K8S_VERSION#v1.}"
  {
    printf 'module oxide-ccm/testbin/kube\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    # Staging modules are published as k8s.io/<name> v0.<minor>.<patch>; the main module's own
    # go.mod points them at ./staging, which only works inside the kubernetes repo.
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
      cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
      cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt \
      kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
      mount-utils pod-security-admission sample-apiserver streaming; do
      printf '\tk8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$minor"
    done
    printf ')\n'
  } >"$work/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for bin in "${KUBE_BINS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$bin"; done
    printf ')\n'
  } >"$work/tools.go"
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  (cd "$work" && go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$work" && go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null 2>&1 || true)
  for bin in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$bin"); done
  # One go build for all: packages compile once and the links run in parallel.
  (cd "$work" && go build -trimpath -ldflags="$ld" -o "$work/out/" "${pkgs[@]}")
  for bin in "$@"; do mv "$work/out/$bin" "$BIN_DIR/$bin"; done
}

build_kwok() {
  mkdir -p "$KWOK_DIR"
  # `go install pkg@version` builds kwok with its own go.mod (its k8s.io versions, not ours).
  GOBIN="$KWOK_DIR/.tmp" go install -trimpath -ldflags='-s -w' "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$KWOK_DIR/.tmp/kwok" "$KWOK_DIR/kwok"
  rmdir "$KWOK_DIR/.tmp"
}

build_promtool() {
  mkdir -p "$PROMTOOL_DIR"
  GOBIN="$PROMTOOL_DIR/.tmp" go install -trimpath -ldflags='-s -w' \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
  mv "$PROMTOOL_DIR/.tmp/promtool" "$PROMTOOL_DIR/promtool"
  rmdir "$PROMTOOL_DIR/.tmp"
}

build_helm() {
  GOBIN="$BIN_DIR" go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

mkdir -p "$BIN_DIR" "$KWOK_DIR" "$PROMTOOL_DIR"
timed() {
  local what=$1 start=$SECONDS; shift
  log "building $what (first time only)"
  "$@"
  log "built $what in $((SECONDS - start))s"
}
exec 9>"$BIN_DIR/.lock"
flock 9
[ -x "$BIN_DIR/etcd" ] || timed "etcd $ETCD_VERSION" build_etcd
missing=()
for bin in "${KUBE_BINS[@]}"; do [ -x "$BIN_DIR/$bin" ] || missing+=("$bin"); done
if [ "${#missing[@]}" -gt 0 ]; then
  timed "${missing[*]} $K8S_VERSION (~10-20 min on 2 cores from scratch)" build_kube "${missing[@]}"
fi
if [ ! -x "$KWOK_DIR/kwok" ]; then
  # Shared by every K8S_VERSION's bin dir, so it has a lock of its own.
  exec 8>"$KWOK_DIR/.lock"
  flock 8
  [ -x "$KWOK_DIR/kwok" ] || timed "kwok $KWOK_VERSION" build_kwok
  exec 8>&-
fi
ln -sfn "$KWOK_DIR/kwok" "$BIN_DIR/kwok"
if [ ! -x "$PROMTOOL_DIR/promtool" ]; then
  exec 7>"$PROMTOOL_DIR/.lock"
  flock 7
  [ -x "$PROMTOOL_DIR/promtool" ] || timed "promtool $PROMETHEUS_VERSION" build_promtool
  exec 7>&-
fi
ln -sfn "$PROMTOOL_DIR/promtool" "$BIN_DIR/promtool"
if [ "${WITH_HELM:-1}" = 1 ] && [ ! -x "$BIN_DIR/helm" ]; then
  timed "helm $HELM_VERSION" build_helm
fi
echo "$BIN_DIR"
