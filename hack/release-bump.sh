#!/usr/bin/env bash
# Sets the release version everywhere it is written, then prints the steps that follow:
#   hack/release-bump.sh 0.2.0        (or: make release-bump VERSION=0.2.0)
# Makefile VERSION, chart version/appVersion, src/version.ts (--version), package.json and its
# lock, and the plain manifest's image tag (re-rendered from the chart). test/chart.test.ts fails
# if any of them disagree. CHANGELOG.md: the "Unreleased" section becomes "[X.Y.Z] - <today>"
# under a new empty "Unreleased" (skipped if X.Y.Z already has an entry; refused if there is
# nothing to release). test/release-bump.test.ts runs it on a copy of these files.
set -euo pipefail
cd "$(dirname "$0")/.."

new="${1:?usage: hack/release-bump.sh X.Y.Z}"
new="${new#v}"
if ! [[ "$new" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "release-bump: '$new' is not a semantic version (X.Y.Z or X.Y.Z-pre)" >&2
  exit 2
fi
old=$(sed -n 's/^VERSION ?= //p' Makefile)
[ -n "$old" ] || { echo "release-bump: no 'VERSION ?= ' line in the Makefile" >&2; exit 1; }
# The image and chart names are the Go CCM's (last release 0.7.1): a version that goes backwards
# would make `helm upgrade` and image tags look like a downgrade.
lowest=$(printf '%s\n%s\n' "$old" "$new" | sort -V | head -n1)
if [ "$new" != "$old" ] && [ "$lowest" = "$new" ]; then
  echo "release-bump: $new is lower than the current $old; versions only go up" >&2
  exit 2
fi

if ! grep -q "^## \[$new\]" CHANGELOG.md; then
  notes=$(awk '/^## \[Unreleased\]/ { on = 1; next } /^## \[/ { on = 0 } on && /^- /' CHANGELOG.md)
  [ -n "$notes" ] || { echo "release-bump: CHANGELOG.md has no entries under [Unreleased]" >&2; exit 1; }
  repo=https://github.com/oxidecomputer/oxide-cloud-controller-manager
  awk -v v="$new" -v d="$(date -u +%F)" -v repo="$repo" '
    /^## \[Unreleased\]/ && !done { print; print ""; print "## [" v "] - " d; done = 1; next }
    /^\[Unreleased\]: / { print "[Unreleased]: " repo "/compare/v" v "...HEAD"; print "[" v "]: " repo "/releases/tag/v" v; next }
    { print }' CHANGELOG.md >CHANGELOG.md.tmp
  mv CHANGELOG.md.tmp CHANGELOG.md
fi

sed -i "s/^VERSION ?= .*/VERSION ?= $new/" Makefile
sed -i -e "s/^version: .*/version: $new/" -e "s/^appVersion: .*/appVersion: '$new'/" \
  charts/oxide-cloud-controller-manager/Chart.yaml
sed -i "s/^export const VERSION = '.*';/export const VERSION = '$new';/" src/version.ts
grep -q "^export const VERSION = '$new';" src/version.ts ||
  { echo "release-bump: could not set VERSION in src/version.ts" >&2; exit 1; }
npm version "$new" --no-git-tag-version --allow-same-version >/dev/null
bash hack/render-manifest.sh >manifests/oxide-cloud-controller-manager.yaml.tmp
mv manifests/oxide-cloud-controller-manager.yaml.tmp manifests/oxide-cloud-controller-manager.yaml

files="CHANGELOG.md Makefile charts/oxide-cloud-controller-manager/Chart.yaml src/version.ts package.json package-lock.json manifests/oxide-cloud-controller-manager.yaml"
cat <<NEXT
release-bump: $old -> $new in: $files

Next (docs/operations.md, "Releasing"):
  review CHANGELOG.md's [$new] entry
  make test
  git commit -m "Release v$new" -- $files
  git tag v$new
  RELEASE=true make deps-image build image-smoke
  COSIGN_KEY=cosign.key RELEASE=true make push
  COSIGN_PUB=cosign.pub make verify-release
  git push origin main v$new
NEXT
