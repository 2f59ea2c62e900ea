#!/usr/bin/env bash
# Builds the worker into build/ (or $OUT_DIR), installing the pinned tools when missing:
#   build/index.js       the entry module (src/runtime/entry.js)
#   build/glue/          wasm-bindgen's JS glue and the WASM module (index_bg.wasm)
# `wrangler deploy` and `wrangler dev` bundle build/index.js. Extra arguments go to cargo,
# e.g. `scripts/build.sh --features selftest`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
out="${OUT_DIR:-build}"
# No absolute path of this machine in the WASM (panic locations name source files): the
# clone and cargo's home are mapped to fixed names, so a build from another folder or machine
# is byte-identical (docs/release.md). Separated by 0x1f, so paths with spaces stay whole.
sep=$'\x1f'
remap="--remap-path-prefix=$PWD=/edge-attest${sep}--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
export CARGO_ENCODED_RUSTFLAGS="${CARGO_ENCODED_RUSTFLAGS:+$CARGO_ENCODED_RUSTFLAGS$sep}$remap"
cargo build --lib --release --locked --target wasm32-unknown-unknown "$@" >&2
rm -rf "$out"
mkdir -p "$out"
# The module target, with wasm-bindgen's reset function: after a panic (a trap) src/runtime/entry.js
# gives the next request a fresh instance. (Not --force-enable-abort-handler: its lazy reset
# fires inside whichever call comes next, possibly a callback of the old instance carrying
# old pointers.) No wasm-opt: binaryen's -Oz measured larger after gzip (209 vs 205 KB).
wasm-bindgen "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/edge_attest.wasm" \
  --out-dir "$out/glue" --out-name index --target module --no-typescript \
  --experimental-reset-state-function 2>&1 \
  | { grep -v "target_features\` custom section is missing" || true; } >&2
# wrangler's bundler takes `import m from "x.wasm"` (a compiled module); wasm-bindgen writes
# a source-phase import, which it does not parse yet. (Through a temporary file, not `sed -i`:
# BSD sed, as on macOS, would take the script for -i's backup suffix.)
glue="$out/glue/index.js"
sed 's|^import source wasmModule from "\./index_bg\.wasm";$|import wasmModule from "./index_bg.wasm";|' \
  "$glue" > "$glue.tmp" && mv "$glue.tmp" "$glue"
if ! grep -q '^import wasmModule from "./index_bg.wasm";$' "$glue"; then
  echo "build: unexpected wasm-bindgen output (no wasm import to rewrite in $glue)" >&2
  exit 1
fi
# wasm-bindgen lists a snippet module once per import site in the imports object; the
# repeated keys name the same module, and bundlers warn about them. Keep the first of each.
awk '/^ *"\.\/snippets\/[^"]+": import[0-9]+,$/ { if ($1 in seen) next; seen[$1] = 1 } { print }' \
  "$glue" > "$glue.tmp" && mv "$glue.tmp" "$glue"
cp src/runtime/entry.js "$out/index.js"
wasm="$out/glue/index_bg.wasm"
echo "built $out: $(wc -c < "$wasm") bytes wasm, $(gzip -9c "$wasm" | wc -c) bytes gzip" >&2
