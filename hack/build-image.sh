#!/usr/bin/env bash
# Builds the multi-architecture image (linux/amd64 + linux/arm64, one manifest list) offline from
# pinned inputs only (make build):
#   hack/build-image.sh [--stage-only] [IMAGE]
# Stages dist/image-root/<arch>/{debian,node,app} (one directory per image layer) from:
#   - the Debian packages hack/image-inputs.lock pins (fetched by `make deps-image` into
#     ~/.cache/oxide-ccm/image), unpacked with dpkg-deb, with their dpkg status entries
#     (var/lib/dpkg/status.d/<pkg>) and copyright files; docs, man pages, locales and glibc's
#     gconv modules (node uses ICU, never iconv) are left out,
#   - bin/node and LICENSE of the pinned npm package node-linux-<arch>; node with its symbol
#     tables and debug sections stripped (the pinned binutils-multiarch's `strip --strip-all`,
#     deterministic: the SBOM records the npm binary's sha256 and the shipped one's, so anyone can
#     redo the step from the npm package and compare),
#   - the launcher (launcher/, /usr/bin/oxide-cloud-controller-manager), cross-compiled with the
#     pinned Go, CGO off; hack/node-flags; the bundle and its licence texts (`make bundle`),
#   - a CycloneDX SBOM (hack/image-sbom.ts), also copied to dist/<name>-<version>-<arch>.cdx.json.
# Then builds Containerfile for both platforms: COPY only, so nothing runs under emulation.
# Reproducible: file times, image and history timestamps are SOURCE_DATE_EPOCH (default: the
# commit time), ownership is root, modes are normalized.
# Env: VERSION, SOURCE_DATE_EPOCH, ARCHES ("amd64 arm64"), ENGINE (podman|buildah|docker).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/image-engine.sh

stage_only=0
if [ "${1:-}" = --stage-only ]; then stage_only=1; shift; fi
IMAGE="${1:-${IMAGE:-ghcr.io/oxidecomputer/oxide-cloud-controller-manager:dev}}"
VERSION="${VERSION:-dev}"
ARCHES="${ARCHES:-amd64 arm64}"
NAME=oxide-cloud-controller-manager
BUNDLE="dist/$NAME.mjs"
LOCK=hack/image-inputs.lock
CACHE="${OXIDE_CCM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oxide-ccm}/image"
ROOT="dist/image-root"
SOURCE_URL="https://github.com/oxidecomputer/$NAME"

SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# A build from uncommitted changes must not claim to be the commit.
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  REVISION="$REVISION-dirty"
  engine_log "the work tree has uncommitted changes: revision label $REVISION"
fi

for tool in dpkg-deb tar go readelf sha256sum; do
  command -v "$tool" >/dev/null || { engine_log "$tool is required (see make deps-image)"; exit 1; }
done
[ -f "$BUNDLE" ] || { engine_log "missing $BUNDLE (make bundle)"; exit 1; }

# Every pinned input must be in the cache with the pinned hash; fetching is `make deps-image`.
sri_sha512() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }
cached() { # kind name version arch -> path
  case "$1" in
    deb) echo "$CACHE/debs/${2}_${3//:/%3a}_$4.deb" ;;
    npm) echo "$CACHE/npm/$2-$3.tgz" ;;
  esac
}
while read -r kind name version arch hash; do
  case "$kind" in
    deb | npm)
      file=$(cached "$kind" "$name" "$version" "$arch")
      got=none
      if [ -f "$file" ]; then
        if [ "$kind" = deb ]; then got="sha256:$(sha256sum "$file" | cut -d' ' -f1)"; else got=$(sri_sha512 "$file"); fi
      fi
      [ "$got" = "$hash" ] || { engine_log "$name $version ($arch) is not in $CACHE with the pinned hash: run make deps-image"; exit 1; }
      ;;
  esac
done < <(grep -v '^#' "$LOCK")
GO_VERSION=$(awk '$1 == "go" { print $3 }' "$LOCK")
export GOTOOLCHAIN="go$GO_VERSION" GOFLAGS=-mod=mod CGO_ENABLED=0
[ "$(go env GOVERSION)" = "go$GO_VERSION" ] || { engine_log "Go go$GO_VERSION is not available: run make deps-image"; exit 1; }

triplet() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }

stage_debian() {
  local arch=$1 dir=$2 deb pkg status
  mkdir -p "$dir/var/lib/dpkg/status.d"
  while read -r _ pkg version debarch _; do
    deb=$(cached deb "$pkg" "$version" "$debarch")
    dpkg-deb -x "$deb" "$dir"
    status="$dir/var/lib/dpkg/status.d/$pkg"
    # The control paragraph with dpkg's Status line, as distroless images record packages;
    # Trivy, Grype and Syft read this directory.
    dpkg-deb -f "$deb" | awk '{ print } /^Package:/ { print "Status: install ok installed" }' >"$status"
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums >"$status.md5sums" 2>/dev/null || rm -f "$status.md5sums"
    [ -f "$dir/usr/share/doc/$pkg/copyright" ] || { engine_log "$pkg: no copyright file"; exit 1; }
  done < <(awk -v a="$arch" '$1 == "deb" && ($4 == a || $4 == "all")' "$LOCK")
  # Only the copyright of each package's docs; nothing else below is read at run time.
  find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  rm -rf "$dir/usr/share/man" "$dir/usr/share/info" "$dir/usr/share/locale" \
    "$dir/usr/share/lintian" "$dir/usr/share/gdb" "$dir/usr/share/gcc" \
    "$dir/usr/lib/$(triplet "$arch")/gconv"
  find "$dir" -depth -type d -empty -delete
  # What update-ca-certificates would write: every Mozilla root, in name order.
  mkdir -p "$dir/etc/ssl/certs"
  for crt in $(LC_ALL=C ls "$dir/usr/share/ca-certificates/mozilla/"*.crt); do
    sed -e '$a\' "$crt"
  done >"$dir/etc/ssl/certs/ca-certificates.crt"
  # os.userInfo() and glibc's getpwuid need the user to exist; hosts lookups use files then DNS.
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$dir/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$dir/etc/group"
  printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
}

# The pinned strip (make deps-image unpacks binutils-multiarch): what it is, and running it.
STRIP_ROOT="$CACHE/binutils/root"
STRIP_VERSION=$(awk '$1 == "tool-deb" && $2 == "binutils-multiarch" { print $3; exit }' "$LOCK")
run_strip() {
  local bin libs=''
  bin=$(ls "$STRIP_ROOT"/usr/bin/*-strip 2>/dev/null | head -n1)
  [ -n "$bin" ] || { engine_log "no strip in $STRIP_ROOT: run make deps-image"; exit 1; }
  for d in "$STRIP_ROOT"/usr/lib/*-linux-gnu; do libs="$libs${libs:+:}$d"; done
  LD_LIBRARY_PATH="$libs" "$bin" "$@"
}

# node's .symtab, .strtab and .debug_* sections (about 18 MB of 127) are read by debuggers and
# profilers, never when it runs; .dynsym, which the loader needs, stays.
stage_node() {
  local arch=$1 dir=$2 name version tgz
  read -r _ name version _ _ < <(awk -v a="$arch" '$1 == "npm" && $4 == a' "$LOCK")
  tgz=$(cached npm "$name" "$version")
  mkdir -p "$dir/usr/bin" "$dir/usr/share/doc/nodejs"
  tar -xzf "$tgz" -O package/bin/node >"$dir/../node.npm"
  sha256sum "$dir/../node.npm" | cut -d' ' -f1 >"$dir/../node.npm.sha256"
  run_strip --strip-all -o "$dir/usr/bin/node" "$dir/../node.npm"
  rm "$dir/../node.npm"
  tar -xzf "$tgz" -O package/LICENSE >"$dir/usr/share/doc/nodejs/LICENSE"
  chmod 0755 "$dir/usr/bin/node"
}

stage_app() {
  local arch=$1 dir=$2 lib doc
  lib="$dir/usr/lib/$NAME" doc="$dir/usr/share/doc/$NAME"
  mkdir -p "$dir/usr/bin" "$lib" "$doc"
  (cd launcher && GOOS=linux GOARCH="$arch" go build -trimpath -buildvcs=false \
    -ldflags='-s -w -buildid=' -o "../$dir/usr/bin/$NAME" .)
  cp "$BUNDLE" "$lib/$NAME.mjs"
  cp hack/node-flags "$lib/node-flags"
  cp LICENSE "$doc/LICENSE"
  {
    cat "$BUNDLE.THIRD-PARTY-LICENSES.txt"
    printf '\n%s\nGo %s standard library, compiled into /usr/bin/%s (BSD-3-Clause)\n%s\n\n' \
      "$(printf '=%.0s' {1..78})" "$GO_VERSION" "$NAME" "$(printf '=%.0s' {1..78})"
    cat "$(go env GOROOT)/LICENSE"
  } >"$doc/THIRD-PARTY-LICENSES.txt"
}

# libc6 ships libraries that only a program linked against them, or an LD_PRELOAD tool, loads:
# libmvec, libthread_db (debuggers), libmemusage, libc_malloc_debug, libpcprofile (preload tools),
# libnsl, libnss_compat, libnss_hesiod, libBrokenLocale, libanl, libutil, librt, libresolv (glibc
# 2.34+ has the last three in libc.so.6). Keep what node and the launcher load, transitively, and
# the NSS modules nsswitch.conf names; leave out the rest (about 1.6 MB).
prune_libs() {
  local arch=$1 root=$2 want lib dir name keep queue next
  want=" $(basename "$(readelf -lW "$root/node/usr/bin/node" | sed -n 's/.*program interpreter: \(.*\)]/\1/p')") "
  queue=$(readelf -dW "$root/node/usr/bin/node" "$root/app/usr/bin/$NAME" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
  while [ -n "$queue" ]; do
    next=''
    for lib in $queue; do
      [[ "$want" == *" $lib "* ]] && continue
      want="$want$lib "
      for dir in "lib/$(triplet "$arch")" "usr/lib/$(triplet "$arch")"; do
        [ -e "$root/debian/$dir/$lib" ] &&
          next="$next $(readelf -dW "$root/debian/$dir/$lib" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')"
      done
    done
    queue=$next
  done
  for dir in "lib/$(triplet "$arch")" "usr/lib/$(triplet "$arch")"; do
    for lib in "$root/debian/$dir"/lib*.so*; do
      [ -e "$lib" ] || continue
      name=$(basename "$lib")
      keep=0
      case "$name" in libnss_files.so.* | libnss_dns.so.*) keep=1 ;; esac
      [[ "$want" == *" $name "* ]] && keep=1
      # libstdc++.so.6 is a link to libstdc++.so.6.0.30: keep the file a kept link points to.
      for lib2 in $want; do
        [ "$(readlink "$root/debian/$dir/$lib2" 2>/dev/null)" = "$name" ] && keep=1
      done
      [ "$keep" = 1 ] || rm "$lib"
    done
  done
}

# The loader and every library node and the launcher ask for must be in the image: checked on
# the staged files (readelf reads any architecture), since arm64 cannot be run here.
check_links() {
  local arch=$1 root=$2 bin interp lib found
  for bin in "$root/node/usr/bin/node" "$root/app/usr/bin/$NAME"; do
    interp=$(readelf -lW "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    [ -z "$interp" ] || [ -e "$root/debian$interp" ] || { engine_log "$arch: $bin: no $interp"; exit 1; }
    for lib in $(readelf -dW "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
      found=0
      for d in "lib/$(triplet "$arch")" "usr/lib/$(triplet "$arch")"; do
        [ -e "$root/debian/$d/$lib" ] && found=1
      done
      [ "$found" = 1 ] || { engine_log "$arch: $bin needs $lib, not in the image"; exit 1; }
    done
  done
}

rm -rf "$ROOT"
for arch in $ARCHES; do
  dir="$ROOT/$arch"
  stage_debian "$arch" "$dir/debian"
  stage_node "$arch" "$dir/node"
  stage_app "$arch" "$dir/app"
  prune_libs "$arch" "$dir"
  check_links "$arch" "$dir"
  sbom="$dir/app/usr/share/doc/$NAME/sbom.cdx.json"
  node_modules/.bin/node hack/image-sbom.ts --root "$dir" --arch "$arch" --version "$VERSION" \
    --revision "$REVISION" --image "${IMAGE%:*}" --out "$sbom" \
    --node-npm-sha256 "$(cat "$dir/node.npm.sha256")" \
    --node-strip "binutils-multiarch $STRIP_VERSION: strip --strip-all" >&2
  rm "$dir/node.npm.sha256"
  cp "$sbom" "dist/$NAME-$VERSION-$arch.cdx.json"
  # Owner and group come from the engine (root); modes must not depend on the host's umask.
  chmod -R u+rwX,go+rX,go-w "$dir"
  engine_log "staged $dir: $(du -sh --apparent-size "$dir" | cut -f1)"
done
[ "$stage_only" = 1 ] && exit 0

engine=$(engine_detect)
engine_log "building $IMAGE for $(printf 'linux/%s ' $ARCHES)with $engine"
platforms=$(printf 'linux/%s,' $ARCHES)
engine_build_multi "$engine" "$IMAGE" Containerfile "$ROOT" "${platforms%,}" "$SOURCE_DATE_EPOCH" \
  --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED" \
  --build-arg "SOURCE=$SOURCE_URL" >&2
echo "$IMAGE"
