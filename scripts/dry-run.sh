#!/usr/bin/env bash
# The deployable bundle, as `wrangler deploy` would upload it: a dry run of the real
# wrangler.toml for the top level and each environment it has, from this checkout. Fails if
# wrangler cannot bundle or warns about the configuration (a variable an environment lacks,
# say), or if an environment's bindings are not the top level's (wrangler does not warn when
# an environment lacks a rate limit, which would silently mean no limit there); prints the
# upload and WASM sizes and the bindings. The 150 KB gzip budget is reported by
# `make bench`, not asserted here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false NO_COLOR=1 FORCE_COLOR=0
top_bindings=""
for env in "" $(sed -nE 's/^\[env\.([a-z0-9-]+)\]$/\1/p' wrangler.toml); do
  out="$(mktemp -d)"
  if ! log="$(wrangler deploy --dry-run --env="$env" --outdir "$out" 2>&1)"; then
    echo "$log"
    echo "dry run failed for the ${env:-top-level} configuration" >&2
    exit 1
  fi
  if grep -q "WARNING" <<<"$log"; then
    echo "$log"
    echo "wrangler warned about the ${env:-top-level} configuration" >&2
    exit 1
  fi
  bindings="$(grep -oE '^env\.[A-Z_]+ \([^)]*\) +(KV Namespace|Rate Limit)' <<<"$log" | sed -E 's/ +/ /g')"
  names="$(grep -oE '^env\.[A-Z_]+' <<<"$bindings" | sort | paste -sd' ' -)"
  if [ -z "$env" ]; then
    top_bindings="$names"
  elif [ "$names" != "$top_bindings" ]; then
    echo "the $env environment binds [$names], the top level [$top_bindings]" >&2
    exit 1
  fi
  wasm="$(ls "$out"/*.wasm)"
  echo "${env:-top level}: $(grep -o 'Total Upload: .*' <<<"$log");" \
    "WASM $(wc -c < "$wasm") B, $(gzip -9c "$wasm" | wc -c) B gzip -9;" \
    "entry $(wc -c < "$out/index.js") B;" \
    "bindings: $(paste -sd, - <<<"$bindings")"
  rm -rf "$out"
done
