#!/usr/bin/env bash
# `make demo`: builds the worker, then starts the stand-ins and the worker on 127.0.0.1.
# `make demo B2B=1`: the same against a Stytch B2B project (members in organizations).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec env PATH="$PWD/node_modules/.bin:$PATH" B2B="${B2B:-}" node dev/demo.mjs
