#!/usr/bin/env bash
# Crash injection, continuously: `tests/suite/crash.rs`'s loop on a release build.
#
#   benches/crash.sh [ITERATIONS]      (default 500; CRASH_SEED picks the first seed, default 1000)
#
# Each iteration creates a fresh plan (a fan-out over 4 targets, a retried stage, a chain, and a
# last stage that fails half the time with on_failure = "rollback"), SIGKILLs the driver at a
# random moment (sometimes a deploy child too, sometimes the resumed driver as well), then
# resumes until the release is final, and checks:
#   - the release ends in a final state;
#   - `verify` passes;
#   - no process of the iteration is left;
#   - every run the journal calls succeeded did its work (a ledger written by the commands);
#   - no work ran twice unless the journal shows an interrupted (or killed) attempt;
#   - a release whose rollback started ends rolled_back (its rollback commands never fail).
# It prints the counts of each and the seeds of any iteration that broke a rule, and exits
# non-zero if one did. `cargo test` runs the same loop for 5 seeds (`crash_smoke`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CRASH_ITERATIONS="${1:-${CRASH_ITERATIONS:-500}}"
export CRASH_SEED="${CRASH_SEED:-1000}"
cargo test --release --locked --test suite -- --ignored --exact crash::crash_loop --nocapture
