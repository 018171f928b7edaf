#!/usr/bin/env bash
# Two builds of flightdeck on the same train, interleaved: what a change to trains costs or saves.
#
#   benches/train_ab.sh OLD_BINARY NEW_BINARY [PAIRS]      (default 6 pairs)
#
# The train is `benches/train.rs`'s: 20 plans of 10 `true` stages, chained across plans (19
# cross-plan needs). Each run starts it with `train start` on a fresh data folder and times it
# until the trains journal says `train_finished`; the two binaries take turns (the machines are
# shared and noisy). Prints each pair, then both medians and their ratio.
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") pairs=${3:-6}
root=$(mktemp -d /tmp/flightdeck-train-ab.XXXXXX)
trap 'rm -rf "$root"' EXIT
ws=$root/ws
for p in $(seq 0 19); do
  dir=$ws/$(printf 'p%02d' "$p")
  mkdir -p "$dir"
  {
    printf '[plan]\nname = "p%02d"\n\n' "$p"
    for i in $(seq 0 9); do
      printf '[[stage]]\nid = "s%d"\n' "$i"
      if [ "$i" -gt 0 ]; then
        printf 'needs = ["s%d"]\n' $((i - 1))
      elif [ "$p" -gt 0 ]; then
        printf 'needs = ["p%02d:s9"]\n' $((p - 1))
      fi
      printf 'run = "true"\n\n'
    done
  } > "$dir/flightdeck.toml"
done
printf '[workspace]\nname = "bench"\nplans = ["p*/flightdeck.toml"]\n' > "$ws/flightdeck-workspace.toml"

# Milliseconds from `train start` to `train_finished`, on a data folder of its own.
one() {
  local data journal start
  data=$(mktemp -d "$root/data.XXXXXX")
  journal=$data/plans/@bench/.trains/trains.jsonl
  start=$(date +%s%N)
  (cd "$ws" && FLIGHTDECK_DATA_DIR=$data FLIGHTDECK_USER=bench "$1" train start t --version 1.0.0 >/dev/null)
  for _ in $(seq 1 15000); do
    grep -q '"train_finished"' "$journal" 2>/dev/null && break
    sleep 0.002
  done
  grep -q '"train_finished"' "$journal" || { echo "the train never finished ($1)" >&2; exit 1; }
  echo $((($(date +%s%N) - start) / 1000000))
  rm -rf "$data"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

olds=() news=()
for i in $(seq 1 "$pairs"); do
  o=$(one "$old") n=$(one "$new")
  olds+=("$o") news+=("$n")
  echo "pair $i: old $o ms, new $n ms"
done
mo=$(printf '%s\n' "${olds[@]}" | median) mn=$(printf '%s\n' "${news[@]}" | median)
echo "median: old $mo ms, new $mn ms; new/old $(awk -v a="$mn" -v b="$mo" 'BEGIN {printf "%.2f", a / b}')"
