#!/usr/bin/env bash
# Pushes the manifest list hack/build-image.sh built (both architectures) with the same engine:
#   hack/push-image.sh IMAGE
# Registry credentials come from the engine's own login (`podman login ghcr.io`, …).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/image-engine.sh
IMAGE="${1:?usage: hack/push-image.sh IMAGE}"
engine=$(engine_detect)
engine_log "pushing $IMAGE with $engine"
engine_push "$engine" "$IMAGE"
