#!/usr/bin/env bash
# Instructions to load and validate a plan, counted with callgrind (repeatable on a shared,
# noisy machine, unlike wall time). Compares `flightdeck check` on the shipped example plan and on a
# generated 1,000-stage plan against `check` on a minimal plan (process start-up and argument
# parsing: the floor), all in the same run.
#
#     cargo build --release && benches/check_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/flightdeck
[ -x "$bin" ] || { echo "build first: cargo build --release"; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[plan]\nname = "min"\n\n[[stage]]\nid = "a"\nrun = "true"\n' > "$tmp/min.toml"
{
  printf '[plan]\nname = "big"\n\n[environments.prod]\ntargets = ["a", "b", "c"]\n'
  for i in $(seq 0 999); do
    printf '\n[[stage]]\nid = "s%d"\nrun = ["./deploy.sh {version} {env}", "./verify.sh {target}"]\nenvironment = "prod"\nconcurrency = 2\ntimeout = "10m"\nretries = 1\n' "$i"
    [ "$i" -gt 0 ] && printf 'needs = ["s%d"]\n' $((i - 1))
  done
} > "$tmp/big.toml"
# Each measured run must succeed: a `check` that fails early would count fewer instructions and
# look fast. (A failing count stops the script: its assignment's substitution fails under set -e.)
count() {
  if ! valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$bin" check --plan "$1" \
    >"$tmp/out" 2>"$tmp/vg.err"; then
    echo "flightdeck check --plan $1 failed under valgrind:" >&2
    cat "$tmp/out" "$tmp/vg.err" >&2
    return 1
  fi
  grep -E '^summary:|^totals:' "$tmp/cg.out" | head -1 | awk '{print $2}'
}
floor=$(count "$tmp/min.toml")
example=$(count config.example.toml)
big=$(count "$tmp/big.toml")
printf 'check minimal plan     %12d instructions (floor)\n' "$floor"
printf 'check example plan     %12d instructions  (+%d over the floor)\n' "$example" $((example - floor))
printf 'check 1,000-stage plan %12d instructions  (+%d over the floor, %d per stage)\n' "$big" $((big - floor)) $(((big - floor) / 1000))
