#!/usr/bin/env bash
# `make fuzz`: every fuzz target (fuzz/fuzz_targets/) under libFuzzer, coverage-guided, for
# FUZZ_SECONDS each (default 60), with a 2 s limit per input (time bounded by input size) and
# inputs up to 20 KB, and the target's dictionary (fuzz/dictionaries/<target>.dict: the words
# its property's inputs are made of) when it has one. cargo-fuzz runs on the stable toolchain with `--sanitizer none` (the
# crate forbids unsafe code) and `-a` (debug assertions: overflow checks). An input that
# breaks a property is copied to fuzz/regressions/<target>/, where `make test` (the smoke in
# tests/fuzz_smoke.rs) replays it from then on, and the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qw "$CARGO_FUZZ_VERSION"; then
  echo "setup: installing cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes)" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked >&2
fi
seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-token jwks cookie request_head stytch_answer gateway_path gateway_request_head gateway_set_cookie gateway_bearer}"
cargo test --locked --quiet --test fuzz_smoke write_seeds -- --ignored >/dev/null
failed=""
for t in $targets; do
  echo "== fuzz $t (${seconds} s)"
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  # The run's own output is kept: a target that does not build (or libFuzzer failing for a
  # reason of its own) fails the run rather than reading as "held".
  log="fuzz/artifacts/$t.log"
  dict=()
  [ -f "fuzz/dictionaries/$t.dict" ] && dict=("-dict=fuzz/dictionaries/$t.dict")
  set +e
  cargo fuzz run -s none -a "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -timeout=2 -max_len=20000 -print_final_stats=1 ${dict[@]+"${dict[@]}"} >"$log" 2>&1
  status=$?
  set -e
  grep -E "^#[0-9]+.*DONE|panicked|ERROR|SUMMARY|stat::number_of_executed_units|Test unit written" "$log" || true
  if [ "$status" -ne 0 ] && ! ls fuzz/artifacts/"$t"/* >/dev/null 2>&1; then
    echo "fuzz: $t did not run (exit $status); its output is in $log:" >&2
    tail -20 "$log" >&2
    failed="$failed $t"
  fi
  for crash in fuzz/artifacts/"$t"/*; do
    [ -e "$crash" ] || continue
    mkdir -p "fuzz/regressions/$t"
    cp "$crash" "fuzz/regressions/$t/"
    rm -f "$crash"
    failed="$failed $t"
    echo "fuzz: $t broke a property; the input is kept in fuzz/regressions/$t/$(basename "$crash")" >&2
  done
done
if [ -n "$failed" ]; then
  echo "fuzz: failing targets:$failed" >&2
  exit 1
fi
echo "fuzz: every target held for ${seconds} s"
