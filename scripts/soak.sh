#!/usr/bin/env bash
# `make soak`: the fault soak (bench/soak.mjs); writes docs/soak.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false
node bench/soak.mjs
