#!/usr/bin/env bash
# Pushes the manifest list hack/build-image.sh built (both architectures) with the same engine:
#   hack/push-image.sh IMAGE
# Registry credentials come from the engine's own login (`podman login ghcr.io`, …) and, for the
# release steps, from ~/.docker/config.json (cosign, helm registry login).
# RELEASE=true (make push) also publishes what makes the release verifiable (docs/operations.md,
# "Releasing"; hack/verify-release.sh checks it from the registry alone):
#   - a signature of the manifest list and of each image, made with COSIGN_KEY (cosign, no
#     transparency log: an offline key);
#   - per image, its CycloneDX SBOM (dist/<name>-<version>-<arch>.cdx.json, the one inside the
#     image) as a signed in-toto attestation (cosign attest --type cyclonedx) attached to it;
#   - the chart, packaged, as an OCI artifact at CHART_REPO (helm push), signed the same way.
# Env: RELEASE, COSIGN_KEY (file; its password in COSIGN_PASSWORD), CHART_REPO (oci://…),
# REGISTRY_PLAIN_HTTP=true for a registry without TLS (the test's registry on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/image-engine.sh
IMAGE="${1:?usage: hack/push-image.sh IMAGE}"
NAME=oxide-cloud-controller-manager
engine=$(engine_detect)
engine_log "pushing $IMAGE with $engine"
if [ "${REGISTRY_PLAIN_HTTP:-}" = true ]; then
  [ "$engine" = docker ] || ENGINE_PUSH_ARGS=(--tls-verify=false)
fi
engine_push "$engine" "$IMAGE"

[ "${RELEASE:-}" = true ] || exit 0

: "${COSIGN_KEY:?RELEASE=true: set COSIGN_KEY to the cosign private key file (docs/operations.md)}"
: "${CHART_REPO:?RELEASE=true: set CHART_REPO, e.g. oci://ghcr.io/oxidecomputer/charts}"
VERSION="${VERSION:?}"
tools=$(bash hack/release-tools.sh | tail -n1)
helm="${HELM:-$(bash hack/testbin.sh | tail -n1)/helm}"
crane_args=() cosign_args=() helm_args=()
if [ "${REGISTRY_PLAIN_HTTP:-}" = true ]; then
  crane_args=(--insecure)
  cosign_args=(--allow-insecure-registry --allow-http-registry)
  helm_args=(--plain-http)
fi
cosign() { "$tools/cosign" "$@"; }
repo="${IMAGE%:*}"

# What was pushed, by digest: everything below refers to these, never to a tag.
index=$("$tools/crane" digest "${crane_args[@]}" "$IMAGE")
engine_log "pushed $repo@$index"
# --recursive: the list and each image in it.
cosign sign --yes --key "$COSIGN_KEY" --tlog-upload=false --recursive "${cosign_args[@]}" "$repo@$index"
for arch in ${ARCHES:-amd64 arm64}; do
  digest=$("$tools/crane" digest "${crane_args[@]}" --platform "linux/$arch" "$repo@$index")
  sbom="dist/$NAME-$VERSION-$arch.cdx.json"
  [ -f "$sbom" ] || { engine_log "missing $sbom (make build writes it)"; exit 1; }
  cosign attest --yes --key "$COSIGN_KEY" --tlog-upload=false --type cyclonedx --predicate "$sbom" \
    "${cosign_args[@]}" "$repo@$digest"
  engine_log "linux/$arch $repo@$digest: signed, SBOM attested"
done

# The chart: packaged from the tree that built the image, pushed as an OCI artifact, signed.
"$helm" package charts/$NAME --destination dist >/dev/null
pushed=$("$helm" push "dist/$NAME-$VERSION.tgz" "$CHART_REPO" "${helm_args[@]}" 2>&1)
printf '%s\n' "$pushed" >&2
chart_digest=$(printf '%s\n' "$pushed" | sed -n 's/^Digest: //p')
[ -n "$chart_digest" ] || { engine_log "helm push printed no digest"; exit 1; }
chart_ref="${CHART_REPO#oci://}/$NAME"
cosign sign --yes --key "$COSIGN_KEY" --tlog-upload=false "${cosign_args[@]}" "$chart_ref@$chart_digest"
engine_log "chart $chart_ref:$VERSION@$chart_digest: pushed, signed"
