#!/usr/bin/env bash
# Builds the npm package `edge-attest` into dist/ (docs/release.md):
#   dist/edge-attest-<version>.tgz   made with `npm pack` from dist/package/
#   dist/SHA256SUMS                  its SHA-256, for `sha256sum -c`
# Reproducible: the toolchain is pinned (rust-toolchain.toml, wasm-bindgen in tools.sh),
# scripts/build.sh maps every absolute path out of the WASM, and npm pack writes fixed
# timestamps and modes, so two runs from two clones give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
pkg_version=$(node -p 'require("./release/package.json").version')
if [ "$version" != "$pkg_version" ]; then
  echo "release: Cargo.toml says $version, release/package.json $pkg_version (CHANGELOG.md: one version)" >&2
  exit 1
fi

stage=dist/package
rm -rf dist
mkdir -p "$stage"
OUT_DIR="$stage/worker" bash scripts/build.sh
cp -R release/bin release/lib "$stage/"
cp release/package.json README.md LICENSE CHANGELOG.md "$stage/"
mkdir -p "$stage/client"
cp client/index.js client/index.d.ts client/README.md "$stage/client/"
# The example configuration: the project's own wrangler.toml without the [build] step (the
# package holds the built worker) and with `main` set by `edge-attest init`.
awk '
  /^\[build\]$/ { skip = 1; next }
  skip && /^$/ { skip = 0; next }
  skip { next }
  /^# edge-attest: deploy with/ { print "# edge-attest " v ": written by `npx edge-attest init`; fill in the values below, then"; print "# `npx edge-attest check` and `npx wrangler deploy`."; next }
  { print }
' v="$version" wrangler.toml > "$stage/wrangler.example.toml"
if grep -q '^\[build\]' "$stage/wrangler.example.toml" || ! grep -q '^main = ' "$stage/wrangler.example.toml"; then
  echo "release: wrangler.example.toml came out wrong (a [build] step left, or no main)" >&2
  exit 1
fi
chmod 0755 "$stage/bin/edge-attest.js"
# Everything in the package is listed by `files`; a stray file fails here, not in a user's
# node_modules.
( cd "$stage" && npm pack --pack-destination .. --json --ignore-scripts > ../pack.json )
tarball="edge-attest-$version.tgz"
[ -f "dist/$tarball" ] || { echo "release: npm pack did not write dist/$tarball" >&2; exit 1; }
( cd dist && sha256sum "$tarball" > SHA256SUMS )
echo "release: dist/$tarball $(wc -c < "dist/$tarball") bytes, $(cut -c1-16 dist/SHA256SUMS)…" >&2
