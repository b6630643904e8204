#!/usr/bin/env bash
# Smoke-tests a built image (make image-smoke): hack/image-smoke.sh IMAGE
# With podman or docker the image runs as a container (--read-only, non-root, host network).
# With buildah alone (CI here: no runtime) the image's rootfs is mounted and its ENTRYPOINT run
# in a chroot as the image's USER, over a read-only bind mount of the rootfs, in a private mount
# namespace; host network, so the CCM reaches the loopback simulator and apiserver.
# hack/image-smoke.ts drives the checks either way.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/image-engine.sh

# Internal: `image-smoke.sh __enter ROOTFS VIEW USER CMD...`, run under `unshare --mount`.
if [ "${1:-}" = __enter ]; then
  rootfs=$2 view=$3 user=$4; shift 4
  mount --bind "$rootfs" "$view"
  mount -o remount,bind,ro "$view"
  mount -t proc proc "$view/proc" 2>/dev/null || mount --rbind /proc "$view/proc"
  for dev in null zero random urandom; do mount --bind "/dev/$dev" "$view/dev/$dev"; done
  # exec all the way down, so the runner's pid is node's pid (signals and RSS reach it).
  exec chroot --userspec="$user" "$view" "$@"
fi

IMAGE="${1:?usage: hack/image-smoke.sh IMAGE}"
NODE=node_modules/.bin/node
engine=$(engine_detect)
timeout_s="${SMOKE_TIMEOUT:-180}"

case "$engine" in
  buildah)
    [ "$(id -u)" = 0 ] || { engine_log "the buildah smoke test needs root (mount, chroot)"; exit 1; }
    ctr=$(engine_buildah from --pull-never "$IMAGE")
    view=$(mktemp -d)
    cleanup() {
      engine_buildah umount "$ctr" >/dev/null 2>&1 || true
      engine_buildah rm "$ctr" >/dev/null 2>&1 || true
      rmdir "$view"
    }
    trap cleanup EXIT
    rootfs=$(engine_buildah mount "$ctr")
    user=$(engine_buildah inspect --format '{{.OCIv1.Config.User}}' "$ctr")
    mapfile -t entrypoint < <(engine_buildah inspect --format '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}' "$ctr" | sed '/^$/d')
    # Mount points and the smoke files live in the container's copy, never in the image.
    mkdir -p "$rootfs/proc" "$rootfs/dev" "$rootfs/smoke"
    for dev in null zero random urandom; do : >"$rootfs/dev/$dev"; done
    files="$rootfs/smoke"
    # What the Go CCM's manifests run (command: [/usr/bin/oxide-cloud-controller-manager, …]), and
    # what scanners and auditors look for, must be in the image.
    [ "${entrypoint[*]}" = /usr/bin/oxide-cloud-controller-manager ] ||
      { engine_log "entrypoint is '${entrypoint[*]}', not /usr/bin/oxide-cloud-controller-manager"; exit 1; }
    for path in usr/bin/oxide-cloud-controller-manager usr/bin/node \
      usr/lib/oxide-cloud-controller-manager/node-flags \
      usr/share/doc/oxide-cloud-controller-manager/sbom.cdx.json \
      usr/share/doc/oxide-cloud-controller-manager/THIRD-PARTY-LICENSES.txt \
      usr/share/doc/oxide-cloud-controller-manager/LICENSE usr/share/doc/nodejs/LICENSE \
      var/lib/dpkg/status.d/libc6 usr/share/doc/libc6/copyright etc/os-release; do
      [ -e "$rootfs/$path" ] || { engine_log "missing /$path in $IMAGE"; exit 1; }
    done
    echo "ok: image files: entrypoint, node, node-flags, SBOM, licences, dpkg status, os-release"
    engine_log "running ${entrypoint[*]} as $user in a read-only chroot of $IMAGE"
    timeout "$timeout_s" "$NODE" hack/image-smoke.ts --files-dir "$files" --files-path /smoke -- \
      unshare --mount --propagation private bash "$PWD/hack/image-smoke.sh" __enter "$rootfs" "$view" "$user" \
      "${entrypoint[@]}"
    ;;
  podman | docker)
    files=$(mktemp -d)
    trap 'rm -rf "$files"' EXIT
    chmod 755 "$files"
    timeout "$timeout_s" "$NODE" hack/image-smoke.ts --files-dir "$files" --files-path /smoke -- \
      "$engine" run --rm --read-only --network=host --cap-drop=ALL --security-opt=no-new-privileges \
      -v "$files:/smoke:ro" -e OXIDE_HOST -e OXIDE_TOKEN -e OXIDE_PROJECT "$IMAGE"
    ;;
esac
