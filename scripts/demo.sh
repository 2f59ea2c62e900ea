#!/usr/bin/env bash
# `make demo`: builds the worker, then starts the stand-ins and the worker on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec env PATH="$PWD/node_modules/.bin:$PATH" node dev/demo.mjs
