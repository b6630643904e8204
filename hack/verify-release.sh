#!/usr/bin/env bash
# Verifies a published release from the registry alone (make verify-release):
#   hack/verify-release.sh IMAGE CHART_REPO   (IMAGE: repo:X.Y.Z; CHART_REPO: oci://…)
# with the release's public key COSIGN_PUB (cosign.pub, published with the release). Checks:
#   1. the manifest list's signature, and each image's (cosign verify, offline key: no
#      transparency log); the signature covers the digest, so the digest is what was signed;
#   2. each image's SBOM attestation is signed by the same key, names that image's digest as its
#      subject, and equals the SBOM inside that image (read from the image's layer in the registry);
#   3. the chart's signature, and that its appVersion is the image's tag.
# Prints one line per check; exits non-zero at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${1:?usage: hack/verify-release.sh IMAGE CHART_REPO}"
CHART_REPO="${2:?usage: hack/verify-release.sh IMAGE CHART_REPO}"
: "${COSIGN_PUB:?set COSIGN_PUB to the release public key file}"
NAME=oxide-cloud-controller-manager
SBOM_PATH="usr/share/doc/$NAME/sbom.cdx.json"
tools=$(bash hack/release-tools.sh | tail -n1)
helm="${HELM:-$(bash hack/testbin.sh | tail -n1)/helm}"
node=node_modules/.bin/node
crane_args=() cosign_args=() helm_args=()
if [ "${REGISTRY_PLAIN_HTTP:-}" = true ]; then
  crane_args=(--insecure)
  cosign_args=(--allow-insecure-registry --allow-http-registry)
  helm_args=(--plain-http)
fi
crane() { "$tools/crane" "$@" "${crane_args[@]}"; }
cosign() { "$tools/cosign" "$@"; }
ok() { printf 'verify-release: ok  %s\n' "$*"; }
fail() { printf 'verify-release: FAIL %s\n' "$*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

repo="${IMAGE%:*}"
tag="${IMAGE##*:}"
index=$(crane digest "$IMAGE") || fail "$IMAGE: not in the registry"
cosign verify --key "$COSIGN_PUB" --insecure-ignore-tlog=true "${cosign_args[@]}" "$repo@$index" \
  >"$work/index.sig.json" 2>"$work/err" || fail "$repo@$index: no valid signature: $(cat "$work/err")"
ok "$IMAGE = $repo@$index, signed by COSIGN_PUB"

crane manifest "$repo@$index" >"$work/index.json"
platforms=$($node -e '
  const idx = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const m of idx.manifests) console.log(`${m.platform.os}/${m.platform.architecture} ${m.digest}`);' \
  "$work/index.json")
[ -n "$platforms" ] || fail "$repo@$index lists no images"
while read -r platform digest; do
  cosign verify --key "$COSIGN_PUB" --insecure-ignore-tlog=true "${cosign_args[@]}" "$repo@$digest" \
    >/dev/null 2>"$work/err" || fail "$platform $repo@$digest: no valid signature: $(cat "$work/err")"
  cosign verify-attestation --key "$COSIGN_PUB" --insecure-ignore-tlog=true --type cyclonedx \
    "${cosign_args[@]}" "$repo@$digest" >"$work/att.json" 2>"$work/err" ||
    fail "$platform $repo@$digest: no valid SBOM attestation: $(cat "$work/err")"
  # The SBOM inside the image: the file in the image's last layer (the app layer), from the registry.
  crane manifest "$repo@$digest" >"$work/manifest.json"
  layer=$($node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).layers.at(-1).digest)' "$work/manifest.json")
  crane blob "$repo@$layer" | tar -xzO "$SBOM_PATH" >"$work/sbom.json" 2>/dev/null ||
    tar -xzO -f <(crane blob "$repo@$layer") "./$SBOM_PATH" >"$work/sbom.json" ||
    fail "$platform: no $SBOM_PATH in the image's app layer"
  $node -e '
    const fs = require("fs");
    const [attFile, sbomFile, digest] = process.argv.slice(1);
    const line = fs.readFileSync(attFile, "utf8").trim().split("\n")[0];
    const statement = JSON.parse(Buffer.from(JSON.parse(line).payload, "base64").toString());
    const subjects = statement.subject.map((s) => `sha256:${s.digest.sha256}`);
    if (!subjects.includes(digest)) throw new Error(`attestation subject ${subjects} is not ${digest}`);
    const inImage = JSON.parse(fs.readFileSync(sbomFile, "utf8"));
    // cosign re-encodes the predicate (Go sorts object keys): compare the documents, not bytes.
    if (!require("util").isDeepStrictEqual(statement.predicate, inImage))
      throw new Error("the attested SBOM differs from the SBOM inside the image");
    console.log(`${inImage.components.length} components`);' \
    "$work/att.json" "$work/sbom.json" "$digest" >"$work/components" 2>"$work/err" ||
    fail "$platform: $(cat "$work/err")"
  ok "$platform $repo@$digest: signed; SBOM attestation signed, about this digest, equal to the image's own ($(cat "$work/components"))"
done <<<"$platforms"

chart_ref="${CHART_REPO#oci://}/$NAME"
chart_digest=$(crane digest "$chart_ref:$tag") || fail "chart $chart_ref:$tag: not in the registry"
cosign verify --key "$COSIGN_PUB" --insecure-ignore-tlog=true "${cosign_args[@]}" "$chart_ref@$chart_digest" \
  >/dev/null 2>"$work/err" || fail "chart $chart_ref@$chart_digest: no valid signature: $(cat "$work/err")"
"$helm" pull "$CHART_REPO/$NAME" --version "$tag" --destination "$work" "${helm_args[@]}" >/dev/null 2>&1 ||
  fail "helm pull $CHART_REPO/$NAME --version $tag"
app=$(tar -xzO -f "$work/$NAME-$tag.tgz" "$NAME/Chart.yaml" | sed -n "s/^appVersion: *'\{0,1\}\([^']*\)'\{0,1\}$/\1/p")
[ "$app" = "$tag" ] || fail "chart appVersion $app is not the image tag $tag"
ok "chart $chart_ref:$tag@$chart_digest: signed; appVersion $app"
