#!/usr/bin/env bash
# The release path end to end against a real OCI registry on loopback (make image-release-test):
#   1. make deps-image, with the host's package state recorded before and after (it must not
#      change: /var/lib/dpkg/status and the apt lists, by checksum);
#   2. a throwaway cosign key pair; go-containerregistry's registry on 127.0.0.1 (in memory);
#   3. RELEASE=true make build push with IMAGE_REPO and CHART_REPO in that registry: the manifest
#      list, both images, their signatures and SBOM attestations, the chart (hack/push-image.sh);
#   4. make verify-release against the registry alone (hack/verify-release.sh);
#   5. the negative checks: another key, and a re-tagged image, must fail verification.
# Runs as root on a host that can build the image (docs/operations.md, "Releasing"). Stops the
# registry and removes the key on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\nimage-release-test: %s\n' "$*"; }
work=$(mktemp -d)
registry_pid=''
cleanup() {
  [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

host_state() {
  sha256sum /var/lib/dpkg/status
  (cd /var/lib/apt/lists 2>/dev/null && find . -type f -exec sha256sum {} + | sort)
}
log "1. make deps-image (host package state before/after)"
host_state >"$work/host-before"
dpkg -l | wc -l | sed 's/^/dpkg -l lines before: /'
make --no-print-directory deps-image
host_state >"$work/host-after"
dpkg -l | wc -l | sed 's/^/dpkg -l lines after:  /'
if ! diff "$work/host-before" "$work/host-after"; then
  echo "image-release-test: make deps-image changed the host's package state" >&2
  exit 1
fi
echo "host package state unchanged: $(head -n1 "$work/host-after")"

log "2. release tools, a cosign key pair, a registry on loopback"
tools=$(bash hack/release-tools.sh | tail -n1)
export COSIGN_PASSWORD=''
(cd "$work" && "$tools/cosign" generate-key-pair >/dev/null 2>&1)
"$tools/registry" -port 0 >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do
  port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$work/registry.log")
  [ -n "$port" ] && break
  sleep 0.2
done
[ -n "${port:-}" ] || { cat "$work/registry.log"; exit 1; }
registry="localhost:$port"
echo "registry: $registry (in memory, loopback, pid $registry_pid)"

version=$(sed -n 's/^VERSION ?= //p' Makefile)
repo="$registry/oxidecomputer/oxide-cloud-controller-manager"
charts="oci://$registry/oxidecomputer/charts"
export REGISTRY_PLAIN_HTTP=true

log "3. RELEASE=true make build push"
COSIGN_KEY="$work/cosign.key" RELEASE=true make --no-print-directory build push IMAGE_REPO="$repo" \
  CHART_REPO="$charts"

log "4. make verify-release (the registry and cosign.pub only)"
rm -rf dist/image-root
COSIGN_PUB="$work/cosign.pub" make --no-print-directory verify-release IMAGE_REPO="$repo" CHART_REPO="$charts"

log "5. what must fail: another key; an unsigned image under the release tag"
(mkdir -p "$work/other" && cd "$work/other" && "$tools/cosign" generate-key-pair >/dev/null 2>&1)
if COSIGN_PUB="$work/other/cosign.pub" bash hack/verify-release.sh "$repo:$version" "$charts" 2>"$work/err"; then
  echo "image-release-test: verification passed with another key" >&2
  exit 1
fi
echo "another key: refused ($(tail -n1 "$work/err"))"
# An image nobody signed, pushed under the release's tag: the tag moves, the signature does not.
"$tools/crane" copy --insecure "$repo@$("$tools/crane" digest --insecure --platform linux/amd64 "$repo:$version")" \
  "$repo:unsigned" >/dev/null
"$tools/crane" mutate --insecure --label tampered=true -t "$repo:$version" "$repo:unsigned" >/dev/null
if COSIGN_PUB="$work/cosign.pub" bash hack/verify-release.sh "$repo:$version" "$charts" 2>"$work/err"; then
  echo "image-release-test: verification passed for a re-tagged, unsigned image" >&2
  exit 1
fi
echo "re-tagged image: refused ($(tail -n1 "$work/err"))"
log "passed"
