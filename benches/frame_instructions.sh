#!/usr/bin/env bash
# Instructions per cockpit frame at 200x50, counted with callgrind (repeatable on a shared, noisy
# machine, unlike wall time): the frame bench binary draws N frames of the mid-run cockpit with a
# full output ring (FRAME_BENCH_DRAW=cockpit:N) and of the floor, a plain Paragraph filling the
# screen (floor:N); per frame = (count at N - count at 0) / N, so the setup (the fixture, filling
# the ring) cancels out.
#
#     benches/frame_instructions.sh          # FRAMES=20 by default
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
frames=${FRAMES:-20}
bench=$(cargo bench --bench frame --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$bench" ] || { echo "could not build the frame bench"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Each measured run must succeed: a bench that dies early would count fewer instructions and
# look fast. (A failing count stops the script: its assignment's substitution fails under set -e.)
count() {
  if ! FRAME_BENCH_DRAW=$1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$bench" \
    >"$tmp/out" 2>"$tmp/vg.err"; then
    echo "the frame bench (FRAME_BENCH_DRAW=$1) failed under valgrind:" >&2
    tail -20 "$tmp/vg.err" >&2
    return 1
  fi
  grep -E '^summary:|^totals:' "$tmp/cg.out" | head -1 | awk '{print $2}'
}
floor=$(($(count "floor:$frames") - $(count floor:0)))
cockpit=$(($(count "cockpit:$frames") - $(count cockpit:0)))
printf 'floor: plain Paragraph 200x50 %12d instructions per frame\n' $((floor / frames))
printf 'cockpit mid-run, full ring     %12d instructions per frame  (%s x the floor)\n' \
  $((cockpit / frames)) "$(awk -v a="$cockpit" -v b="$floor" 'BEGIN {printf "%.2f", a / b}')"
