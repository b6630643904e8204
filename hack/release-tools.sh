#!/usr/bin/env bash
# Builds (first time) or locates the release tools through the Go module proxy, cached outside the
# checkout like the test binaries (hack/testbin.sh), and prints their directory:
#   registry, crane  github.com/google/go-containerregistry (an in-memory OCI registry on loopback
#                    for `make image-release-test`; crane reads digests and blobs)
#   cosign           github.com/sigstore/cosign/v2 (signatures and attestations with a key; no
#                    transparency log, no keyless signing: nothing here reaches the internet)
# Used by hack/push-image.sh (RELEASE=true), hack/verify-release.sh and hack/image-release-test.sh.
set -euo pipefail

GGCR_VERSION="${GGCR_VERSION:-v0.22.1}"
COSIGN_VERSION="${COSIGN_VERSION:-v2.6.5}"
CACHE_ROOT="${OXIDE_CCM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oxide-ccm}"
DIR="$CACHE_ROOT/release-tools/ggcr-$GGCR_VERSION-cosign-$COSIGN_VERSION"
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0

log() { printf 'release-tools: %s\n' "$*" >&2; }
timed() {
  local what=$1 start=$SECONDS; shift
  log "building $what (first time only)"
  "$@"
  log "built $what in $((SECONDS - start))s"
}
install() { GOBIN="$DIR/.tmp" go install -trimpath -ldflags='-s -w' "$@"; mv "$DIR"/.tmp/* "$DIR/"; rmdir "$DIR/.tmp"; }

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
if [ ! -x "$DIR/registry" ] || [ ! -x "$DIR/crane" ]; then
  timed "registry and crane $GGCR_VERSION" install \
    "github.com/google/go-containerregistry/cmd/registry@$GGCR_VERSION" \
    "github.com/google/go-containerregistry/cmd/crane@$GGCR_VERSION"
fi
if [ ! -x "$DIR/cosign" ]; then
  timed "cosign $COSIGN_VERSION" install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
fi
echo "$DIR"
