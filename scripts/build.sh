#!/usr/bin/env bash
# Builds the worker into build/ (or $OUT_DIR), installing the pinned tools when missing.
# Extra arguments go to cargo, e.g. `scripts/build.sh --features selftest`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
out="${OUT_DIR:-build}"
# --no-opt: worker-build cannot download wasm-opt here, and binaryen's -Oz measured larger
# after gzip (209 KB vs 205 KB) on this module, so the module ships as cargo and
# wasm-bindgen leave it.
WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" worker-build --release --no-opt -d "$out" "$@" >&2
wasm="$out/index_bg.wasm"
echo "built $out: $(wc -c < "$wasm") bytes wasm, $(gzip -9c "$wasm" | wc -c) bytes gzip" >&2
