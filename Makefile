# Each target does its own set-up (see scripts/tools.sh). `make` alone runs `help`.
.PHONY: help test demo build release fixtures bench profile size fuzz soak

## List the targets with what each does (the `##` lines above each target; the default).
help:
	@echo "make <target>, one of:"
	@awk '/^## / { doc[++n] = substr($$0, 4); next } \
	  /^[a-z][a-z-]*:/ { for (i = 1; i <= n; i++) printf "  %-9s %s\n", (i == 1 ? substr($$1, 1, length($$1) - 1) : ""), doc[i] } \
	  { n = 0 }' $(MAKEFILE_LIST)

## Run every test: lints, native unit tests, and the worker in workerd against local stand-ins.
test:
	bash scripts/test.sh

## Start the local stand-ins for Supabase and Stytch and the worker bound to them
## (`make demo B2B=1`: against a Stytch B2B project).
demo:
	B2B="$(B2B)" bash scripts/demo.sh

## Build the worker into build/.
build:
	bash scripts/build.sh

## The npm package: dist/edge-attest-<version>.tgz and dist/SHA256SUMS, reproducible
## (docs/release.md).
release:
	bash scripts/release.sh

## Regenerate tests/fixtures/tokens.json (new throwaway keys; commit the result).
fixtures:
	PATH="$$PWD/node_modules/.bin:$$PATH" node tests/fixtures/generate.mjs

## Benchmark against the jose reference worker in bare workerd (prints figures, writes
## bench/results.json and bench/micro-results.json, redraws docs/benchmarks.png).
bench:
	bash scripts/bench.sh

## Where the CPU goes, whole workerd process (Linux perf): edge-attest, jose and the runtime
## floor side by side, by category, plus edge-attest's hottest functions.
profile:
	CARGO_PROFILE_RELEASE_STRIP=false OUT_DIR=build-prof bash scripts/build.sh
	PATH="$$PWD/node_modules/.bin:$$PATH" node bench/perf.mjs

## Where the WASM's bytes go: code by module (edge-attest's folders, then each crate).
size:
	CARGO_PROFILE_RELEASE_STRIP=false OUT_DIR=build-prof bash scripts/build.sh
	PATH="$$PWD/node_modules/.bin:$$PATH" node bench/size.mjs

## Fuzz every parser under libFuzzer for FUZZ_SECONDS each (default 60); `make test` runs a
## short smoke of the same properties. A failing input is kept in fuzz/regressions/.
fuzz:
	bash scripts/fuzz.sh

## Fault soak: 20,000 exchanges at concurrency 32 through the compiled worker while the
## stand-ins inject faults; checks and reports, writes docs/soak.md (SOAK_* variables).
soak:
	bash scripts/soak.sh
