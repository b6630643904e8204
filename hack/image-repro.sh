#!/usr/bin/env bash
# Checks that the image is reproducible (make image-repro): builds HEAD twice, each time in a
# fresh clone (another path, another umask, new file times) with its own empty buildah store, so
# no layer can come from a cache, then compares what the builds produced, per architecture: the
# layer digests, the config digest and the manifest digest; then the OCI index and the set of
# compressed blobs a push would send.
# Uses the inputs `make deps-image` fetched. Needs buildah (root, vfs); exits 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/image-engine.sh

[ "$(engine_detect)" = buildah ] || { engine_log "image-repro needs buildah (make deps-image unpacks one)"; exit 1; }
rev=$(git rev-parse HEAD)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/occm-repro.XXXXXX")
cleanup() {
  for n in 1 2; do
    [ -d "$work/store$n" ] && BUILDAH_ROOT="$work/store$n" engine_buildah rmi --all -f >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

# One line per fact: "<what> <digest>", sorted, so two builds compare with diff.
describe() {
  local list=$1 arch digest
  engine_buildah manifest inspect "$list" >"$work/list.json"
  for arch in $(node_modules/.bin/node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).manifests.map(m => m.platform.architecture).join(" ")' "$work/list.json"); do
    digest=$(node_modules/.bin/node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).manifests.find(m => m.platform.architecture === process.argv[2]).digest' "$work/list.json" "$arch")
    echo "$arch manifest $digest"
    engine_buildah inspect --type image --format '{{.Manifest}}' "${list%:*}@$digest" |
      node_modules/.bin/node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
          const m = JSON.parse(s);
          console.log(`${process.argv[1]} config ${m.config.digest}`);
          m.layers.forEach((l, i) => console.log(`${process.argv[1]} layer${i} ${l.digest} ${l.size}`));
        });' "$arch"
  done
}

for n in 1 2; do
  src="$work/src$n"
  git clone -q --no-hardlinks --no-checkout . "$src"
  git -C "$src" checkout -q --detach "$rev"
  ln -s "$PWD/node_modules" "$src/node_modules"
  engine_log "build $n of $rev in $src (umask $([ "$n" = 1 ] && echo 022 || echo 077))"
  (
    cd "$src"
    [ "$n" = 1 ] && umask 022 || umask 077
    export BUILDAH_ROOT="$work/store$n"
    node_modules/.bin/node hack/bundle.ts >/dev/null
    bash hack/build-image.sh "localhost/occm-repro:$n" >/dev/null 2>"$work/build$n.log" ||
      { cat "$work/build$n.log" >&2; exit 1; }
    {
      describe "localhost/occm-repro:$n"
      # What a registry would receive: the OCI index and the gzip-compressed blobs.
      engine_buildah manifest push -q --all --format oci "localhost/occm-repro:$n" "oci:$work/oci$n" >/dev/null
      echo "pushed index $(grep -o 'sha256:[0-9a-f]*' "$work/oci$n/index.json")"
      echo "pushed blobs $(ls "$work/oci$n/blobs/sha256" | sort | sha256sum | cut -c1-64) ($(ls "$work/oci$n/blobs/sha256" | wc -l) blobs, $(du -sb "$work/oci$n/blobs" | cut -f1) bytes)"
    } | sort >"$work/describe$n"
  )
done

if diff -u "$work/describe1" "$work/describe2" >&2; then
  sed 's/^/image-repro: /' "$work/describe1"
  engine_log "two builds of $rev are identical"
else
  for n in 1 2; do
    BUILDAH_ROOT="$work/store$n" engine_buildah inspect --type image --format '{{json .OCIv1}}' \
      "localhost/occm-repro:$n" >"$work/config$n.json" 2>/dev/null || true
  done
  diff <(tr ',' '\n' <"$work/config1.json") <(tr ',' '\n' <"$work/config2.json") >&2 || true
  engine_log "the two builds of $rev differ (diff above)"
  exit 1
fi
