# Sourced by the image scripts: picks the container engine that works on this machine, in the
# order podman, buildah, docker (a docker CLI without a reachable daemon does not count). buildah
# runs as root with vfs storage and chroot isolation, which needs neither overlayfs nor a daemon
# nor user namespaces, so it works inside CI containers. Set ENGINE to force one.

BUILDAH_STORAGE_DRIVER="${BUILDAH_STORAGE_DRIVER:-vfs}"

engine_log() { printf 'image: %s\n' "$*" >&2; }

engine_detect() {
  if [ -n "${ENGINE:-}" ]; then echo "$ENGINE"; return; fi
  if command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then echo podman; return; fi
  if command -v buildah >/dev/null 2>&1; then echo buildah; return; fi
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; return; fi
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
    engine_log "no container engine found; installing buildah from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >&2
    echo buildah
    return
  fi
  engine_log "no container engine: install podman, buildah or docker (with a running daemon)"
  return 1
}

# buildah with the storage this project uses, so build, push and smoke see the same images.
engine_buildah() { buildah --storage-driver "$BUILDAH_STORAGE_DRIVER" "$@"; }

# engine_build ENGINE IMAGE CONTAINERFILE CONTEXT [extra build args...]
engine_build() {
  local engine=$1 image=$2 file=$3 context=$4; shift 4
  case "$engine" in
    buildah) engine_buildah bud --isolation chroot --layers -f "$file" -t "$image" "$@" "$context" ;;
    podman) podman build -f "$file" -t "$image" "$@" "$context" ;;
    docker) docker build -f "$file" -t "$image" "$@" "$context" ;;
    *) engine_log "unknown engine $engine"; return 1 ;;
  esac
}

engine_push() {
  local engine=$1 image=$2
  case "$engine" in
    buildah) engine_buildah push "$image" "docker://$image" ;;
    podman) podman push "$image" ;;
    docker) docker push "$image" ;;
    *) engine_log "unknown engine $engine"; return 1 ;;
  esac
}

# The image's size as the engine reports it (uncompressed layers, human-readable).
engine_image_size() {
  local engine=$1 image=$2
  case "$engine" in
    buildah) engine_buildah images --format '{{.Size}}' "$image" ;;
    podman) podman images --format '{{.Size}}' "$image" ;;
    docker) docker images --format '{{.Size}}' "$image" ;;
  esac
}
