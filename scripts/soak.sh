#!/usr/bin/env bash
# `make soak`: the fault soak (bench/soak.mjs); writes docs/soak.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false
# Responses may carry up to 128 KB of headers on Workers; Node reads 16 KiB by default.
node --max-http-header-size=131072 bench/soak.mjs
