#!/usr/bin/env bash
# Builds the container image from local artifacts only (works offline):
#   hack/build-image.sh [--stage-only] [IMAGE]
# Stages dist/image-root with the pinned Node.js binary, exactly the shared libraries `ldd`
# reports for it (at the same paths), CA certificates, a passwd entry for the nonroot user and
# the bundle (dist/oxide-cloud-controller-manager.mjs, from `make bundle`), then builds
# Containerfile with that directory as context. FROM scratch cannot run ldd, hence the staging.
# Env: VERSION (image label), STRIP=0 keeps the node binary's symbols, ENGINE forces an engine.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/image-engine.sh

stage_only=0
if [ "${1:-}" = --stage-only ]; then stage_only=1; shift; fi
IMAGE="${1:-${IMAGE:-ghcr.io/oxidecomputer/oxide-cloud-controller-manager:dev}}"
VERSION="${VERSION:-dev}"
NODE_BIN="node_modules/node/bin/node"
BUNDLE="dist/oxide-cloud-controller-manager.mjs"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
ROOT="dist/image-root"

for f in "$NODE_BIN" "$BUNDLE" "$CA_BUNDLE"; do
  [ -f "$f" ] || { engine_log "missing $f (run make deps bundle; CA certificates: install ca-certificates)"; exit 1; }
done
command -v ldd >/dev/null || { engine_log "ldd is required to find node's shared libraries"; exit 1; }

rm -rf "$ROOT"
mkdir -p "$ROOT/sys/etc/ssl/certs" "$ROOT/nodejs/bin" "$ROOT/app"

# Symbols are only for native debuggers; stripping saves ~18 MB of the ~126 MB binary.
if [ "${STRIP:-1}" = 1 ] && command -v strip >/dev/null; then
  strip -o "$ROOT/nodejs/bin/node" "$NODE_BIN"
else
  cp "$NODE_BIN" "$ROOT/nodejs/bin/node"
fi
chmod 0755 "$ROOT/nodejs/bin/node"

# Every absolute path ldd prints (libraries and the ELF interpreter), copied as the file it
# resolves to but at the path the loader asks for, so symlinks like /lib64 -> usr/lib64 on the
# build host do not matter.
libs=$(ldd "$NODE_BIN" | grep -oE '/[^ )]+' | sort -u)
[ -n "$libs" ] || { engine_log "ldd found no libraries for $NODE_BIN (static binary?)"; exit 1; }
for lib in $libs; do
  mkdir -p "$ROOT/sys$(dirname "$lib")"
  cp -L "$lib" "$ROOT/sys$lib"
done

cp -L "$CA_BUNDLE" "$ROOT/sys/etc/ssl/certs/ca-certificates.crt"
# os.userInfo() and glibc's getpwuid need the user to exist; hosts lookups use files then DNS.
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$ROOT/sys/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ROOT/sys/etc/group"
printf 'hosts: files dns\n' >"$ROOT/sys/etc/nsswitch.conf"

cp "$BUNDLE" "$ROOT/app/oxide-cloud-controller-manager.mjs"
# No package.json beside the bundle: the .mjs extension already makes it ESM.
chmod -R a+rX,go-w "$ROOT"

engine_log "staged $ROOT ($(du -sh "$ROOT" | cut -f1)): node, $(echo "$libs" | wc -w) libraries, CA bundle, app"
[ "$stage_only" = 1 ] && exit 0

engine=$(engine_detect)
engine_log "building $IMAGE with $engine"
engine_build "$engine" "$IMAGE" Containerfile "$ROOT" --build-arg "VERSION=$VERSION" >&2
engine_log "built $IMAGE: $(engine_image_size "$engine" "$IMAGE" | head -n1) uncompressed"
echo "$IMAGE"
