#!/usr/bin/env bash
# `make bench`: end-to-end and micro benchmarks, edge-attest against the jose reference.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false
echo "== native core (pure Rust, no workerd)"
cargo run --quiet --release --example bench_core
echo "== verification alone in workerd"
OUT_DIR=build-selftest bash scripts/build.sh --features selftest
node bench/micro.mjs
echo "== end to end in workerd"
node bench/run.mjs
if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then node bench/chart.mjs; fi
