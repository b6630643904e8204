#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kubectl) from pinned sources through the
# Go module proxy and caches the binaries outside the checkout, keyed by version, so a fresh
# clone on the same machine (which is what CI is) reuses them. Prints the bin directory.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
CACHE_ROOT="${OXIDE_CCM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oxide-ccm}"
BIN_DIR="$CACHE_ROOT/testbin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

# k8s.io/kubernetes 1.37 declares go 1.26.0; pick a newer toolchain only if the local one is older.
if ! go version | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])'; then export GOTOOLCHAIN=go1.27.3; fi
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0

log() { printf 'testbin: %s\n' "$*" >&2; }

build_etcd() {
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
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

build_kube() {
  local work minor; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
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
  cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  (cd "$work" && go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$work" && go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null 2>&1 || true)
  (cd "$work" && go build -trimpath -ldflags="$ld" -o "$BIN_DIR/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$BIN_DIR/kube-apiserver.tmp" "$BIN_DIR/kube-apiserver"
  (cd "$work" && go build -trimpath -ldflags="$ld" -o "$BIN_DIR/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
  mv "$BIN_DIR/kubectl.tmp" "$BIN_DIR/kubectl"
}

build_helm() {
  GOBIN="$BIN_DIR" go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

mkdir -p "$BIN_DIR"
exec 9>"$BIN_DIR/.lock"
flock 9
[ -x "$BIN_DIR/etcd" ] || { log "building etcd $ETCD_VERSION (first time only)"; build_etcd; }
if [ ! -x "$BIN_DIR/kube-apiserver" ] || [ ! -x "$BIN_DIR/kubectl" ]; then
  log "building kube-apiserver and kubectl $K8S_VERSION (first time only; ~10-20 min on 2 cores)"
  build_kube
fi
if [ "${WITH_HELM:-1}" = 1 ] && [ ! -x "$BIN_DIR/helm" ]; then
  log "building helm $HELM_VERSION (first time only)"
  build_helm
fi
echo "$BIN_DIR"
