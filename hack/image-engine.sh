# Sourced by the image scripts: picks the container engine that works on this machine, in the
# order podman, buildah, docker (a docker CLI without a reachable daemon does not count). buildah
# runs as root with vfs storage and chroot isolation, which needs neither overlayfs nor a daemon
# nor user namespaces, so it works inside CI containers. Set ENGINE to force one.

BUILDAH_STORAGE_DRIVER="${BUILDAH_STORAGE_DRIVER:-vfs}"
# Where `make deps-image` unpacks the pinned buildah when the host has no engine (hack/image-deps.sh).
BUILDAH_PRIVATE_ROOT="${OXIDE_CCM_CACHE:-${XDG_CACHE_HOME:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache}/oxide-ccm}/image/buildah/root"

engine_log() { printf 'image: %s\n' "$*" >&2; }

engine_detect() {
  if [ -n "${ENGINE:-}" ]; then echo "$ENGINE"; return; fi
  if command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then echo podman; return; fi
  if command -v buildah >/dev/null 2>&1; then echo buildah; return; fi
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; return; fi
  if [ -x "$BUILDAH_PRIVATE_ROOT/usr/bin/buildah" ]; then echo buildah; return; fi
  # Never installed: `make deps-image` unpacks a pinned buildah into its cache instead.
  engine_log "no container engine: run make deps-image (it unpacks a pinned buildah into its cache),"
  engine_log "or install podman, buildah or docker (with a running daemon)"
  return 1
}

# The library directories of the unpacked buildah, for LD_LIBRARY_PATH.
buildah_private_libs() {
  local root=$1 d out=''
  for d in "$root"/usr/lib/*-linux-gnu "$root"/lib/*-linux-gnu; do [ -d "$d" ] && out="$out${out:+:}$d"; done
  printf '%s' "$out"
}

# The unpacked buildah. Its signature policy is ours (accept any image, as Debian's
# containers-common ships), since /etc/containers may not exist: buildah reads it when it commits
# a build and when it pushes.
buildah_private() {
  local root=$BUILDAH_PRIVATE_ROOT policy
  policy="$root/../policy.json"
  [ -f "$policy" ] || printf '{"default": [{"type": "insecureAcceptAnything"}]}\n' >"$policy"
  local args=("$@") i
  for i in "${!args[@]}"; do
    case "${args[$i]}" in
      build | bud | from | push | pull | commit)
        args=("${args[@]:0:$((i + 1))}" --signature-policy "$policy" "${args[@]:$((i + 1))}")
        break
        ;;
      manifest)
        if [ "${args[$((i + 1))]:-}" = push ]; then
          args=("${args[@]:0:$((i + 2))}" --signature-policy "$policy" "${args[@]:$((i + 2))}")
        fi
        break
        ;;
    esac
  done
  LD_LIBRARY_PATH="$(buildah_private_libs "$root")" "$root/usr/bin/buildah" "${args[@]}"
}

# The host's buildah, else the unpacked one.
buildah_cmd() {
  if command -v buildah >/dev/null 2>&1; then buildah "$@"; else buildah_private "$@"; fi
}

# buildah with the storage this project uses, so build, push and smoke see the same images.
# BUILDAH_ROOT selects a separate store (hack/image-repro.sh builds in fresh ones).
engine_buildah() {
  buildah_cmd --storage-driver "$BUILDAH_STORAGE_DRIVER" \
    ${BUILDAH_ROOT:+--root "$BUILDAH_ROOT/storage" --runroot "$BUILDAH_ROOT/run"} "$@"
}

# engine_build_multi ENGINE IMAGE CONTAINERFILE CONTEXT PLATFORMS EPOCH [build args...]
# One image per platform, gathered in the manifest list IMAGE. EPOCH stamps the image configs
# and every file in the layers; the engine's version label and the history (whose comments name
# local intermediate image ids) are left out, so two builds of the same context give the same
# layers and configs.
engine_build_multi() {
  local engine=$1 image=$2 file=$3 context=$4 platforms=$5 epoch=$6; shift 6
  case "$engine" in
    buildah | podman)
      # --manifest adds to an existing list: start from an empty one.
      engine_cli "$engine" manifest rm "$image" >/dev/null 2>&1 || true
      engine_cli "$engine" rmi "$image" >/dev/null 2>&1 || true
      local isolation=()
      [ "$engine" = buildah ] && isolation=(--isolation chroot)
      # One platform at a time, in the order given: a multi-platform build adds the images to the
      # list in whichever order they finish, and the order is part of the list's digest.
      local platform
      for platform in ${platforms//,/ }; do
        engine_cli "$engine" build "${isolation[@]}" --layers --platform "$platform" --manifest "$image" \
          --timestamp "$epoch" --identity-label=false --omit-history -f "$file" "$@" "$context"
      done
      ;;
    docker)
      # BuildKit: a multi-platform result cannot be loaded into the classic image store, so it is
      # written as an OCI archive beside the context (load or push it with your tools).
      SOURCE_DATE_EPOCH=$epoch docker buildx build --platform "$platforms" -f "$file" "$@" \
        --build-arg "SOURCE_DATE_EPOCH=$epoch" \
        --output "type=oci,dest=$context.oci.tar,rewrite-timestamp=true,name=$image" "$context"
      ;;
    *) engine_log "unknown engine $engine"; return 1 ;;
  esac
}

# buildah and podman share their command names for what these scripts use.
engine_cli() {
  local engine=$1; shift
  case "$engine" in
    buildah) engine_buildah "$@" ;;
    podman) podman "$@" ;;
  esac
}

# Pushes the manifest list (as an OCI image index) and every image in it.
engine_push() {
  local engine=$1 image=$2
  case "$engine" in
    buildah) engine_buildah manifest push --all --format oci ${ENGINE_PUSH_ARGS[@]+"${ENGINE_PUSH_ARGS[@]}"} "$image" "docker://$image" ;;
    podman) podman manifest push --all --format oci ${ENGINE_PUSH_ARGS[@]+"${ENGINE_PUSH_ARGS[@]}"} "$image" "docker://$image" ;;
    docker)
      engine_log "docker: push the OCI archive, e.g. skopeo copy --all oci-archive:dist/image-root.oci.tar docker://$image"
      return 1
      ;;
    *) engine_log "unknown engine $engine"; return 1 ;;
  esac
}

# engine_platform_image ENGINE LIST ARCH: the id of ARCH's image in the manifest list LIST.
engine_platform_image() {
  local engine=$1 list=$2 arch=$3
  engine_cli "$engine" manifest inspect "$list" |
    node_modules/.bin/node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const m = JSON.parse(s).manifests.find((m) => m.platform.architecture === process.argv[1]);
        if (!m) process.exit(1);
        console.log(m.digest);
      });' "$arch"
}
