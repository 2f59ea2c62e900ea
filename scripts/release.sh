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
mkdir -p "$stage/react" "$stage/server"
cp react/index.js react/index.d.ts "$stage/react/"
cp server/index.js server/index.d.ts "$stage/server/"
chmod 0755 "$stage/bin/edge-attest.js"
# Everything in the package is listed by `files`; a stray file fails here, not in a user's
# node_modules.
( cd "$stage" && npm pack --pack-destination .. --json --ignore-scripts > ../pack.json )
tarball="edge-attest-$version.tgz"
[ -f "dist/$tarball" ] || { echo "release: npm pack did not write dist/$tarball" >&2; exit 1; }
# sha256sum where there is one (Linux), else `shasum -a 256` (macOS): the same line format.
if command -v sha256sum >/dev/null 2>&1; then sha256=(sha256sum); else sha256=(shasum -a 256); fi
( cd dist && "${sha256[@]}" "$tarball" > SHA256SUMS )
echo "release: dist/$tarball $(wc -c < "dist/$tarball") bytes, $(cut -c1-16 dist/SHA256SUMS)…" >&2
