#!/usr/bin/env bash
# The cockpit end to end under tmux at 200x50 (issue 5, section 7): the real release binary on real
# plans running real `sh` commands. Every figure is a ratio against a floor measured in the same
# run, interleaved with it (floor, subject, floor, subject, ...), medians over BENCH_REPS.
#
#     benches/cockpit.sh                 # builds `cargo build --release` first
#     BENCH_REPS=5 IDLE_SECS=10 benches/cockpit.sh
#
# Figures:
#  1. `seq 1 2000000` as a stage: from starting the cockpit (`cockpit --start V --exit-when-done`,
#     or `run V --detach` + `cockpit ID --exit-when-done` while `--start` does not exist) to its
#     exit, against `seq 1 2000000 | cat > /dev/null`; the log must be complete.
#  2. During a flood (the same `seq 1 2000000`, repeated until the bench stops it, because one run
#     of it is over in well under 100 ms): how often the output pane changes (capture-pane every
#     50 ms), and how long `j` takes to show its effect (the pipeline selection moves to the next
#     stage, so the output pane's title becomes `Output after (not started)`); floor: the same key
#     on an idle cockpit (a stage running `sleep 60`), measured in each rep right before that
#     rep's flood, so floor and flood samples interleave. The key's goal is absolute (<= 50 ms,
#     what a person notices); the ratio to the idle floor is reported beside it.
#  3. 8 targets printing `seq 1 250000` at once: peak RSS (VmHWM) of the cockpit and the driver.
#  4. 256 lines of 64 KiB, and 16 MiB without a newline: wall time against the command `| cat`,
#     peak RSS of the cockpit and the driver.
#  5. Idle (a stage running `sleep 60`; a release paused at a gate): cockpit CPU and wake-ups
#     (context switches over all its threads, listed per thread).
#
# Knobs: BENCH_REPS (default 3), IDLE_SECS (10), ADV_SECS (2: pane sampling per flood),
# KEY_SAMPLES (3: `j` presses per flood), FLIGHTDECK_BIN (skip the build, use this binary).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

reps=${BENCH_REPS:-3}
idle_secs=${IDLE_SECS:-10}
adv_secs=${ADV_SECS:-2}
key_samples=${KEY_SAMPLES:-3}
command -v tmux >/dev/null || { echo "tmux is missing"; exit 1; }

if [ -n "${FLIGHTDECK_BIN:-}" ]; then
  bin=$FLIGHTDECK_BIN
else
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-target}/release/flightdeck
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[ -x "$bin" ] || { echo "no binary at $bin"; exit 1; }
has_start=0
if "$bin" cockpit --help 2>/dev/null | grep -q -- '--start'; then has_start=1; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fd-cockpit-bench.XXXXXX")
data=$tmp/data
sock=fd-bench-$$
tm() { tmux -L "$sock" -f /dev/null "$@"; }

# ---------------------------------------------------------------------------------------------
# Clean-up: stop every flood, end the tmux server (its panes' cockpits get SIGHUP), then every
# driver this run started (SIGTERM: it cancels its release and ends its commands' process groups).
cleanup() {
  set +e
  touch "$tmp"/plans/*/stop 2>/dev/null
  tm kill-server 2>/dev/null
  local lock pid
  for lock in "$data"/plans/*/*/driver.lock; do
    [ -f "$lock" ] || continue
    pid=$(cat "$lock" 2>/dev/null)
    if [ -z "$pid" ] || ! is_our_driver "$pid"; then continue; fi
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do is_our_driver "$pid" || break; sleep 0.05; done
    is_our_driver "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A live `flightdeck drive` process of this run (guards against pid reuse).
is_our_driver() {
  local cmd
  [ -r "/proc/$1/cmdline" ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *" drive $data/"* ]]
}

die() {
  echo "cockpit.sh: $*" >&2
  exit 1
}

# Poll `cmd` every 20 ms until it succeeds; give up after $1 seconds.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((${EPOCHREALTIME%.*} + secs))
  until "$@"; do
    [ "${EPOCHREALTIME%.*}" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what"
    sleep 0.02
  done
}
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else print v[int((NR + 1) / 2)]}'; }

# ---------------------------------------------------------------------------------------------
# Plans: each scenario in its own directory with its own plan name.
mkplan() { # name, then the stage tables
  local dir=$tmp/plans/$1
  mkdir -p "$dir"
  printf '[plan]\nname = "%s"\n\n%s\n' "$1" "$2" >"$dir/flightdeck.toml"
  "$bin" check --plan "$dir/flightdeck.toml" >/dev/null || die "plan $1 is invalid"
}
after='[[stage]]
id = "after"
needs = ["STAGE"]
run = "true"'
hold='[[stage]]
id = "hold"
needs = ["STAGE"]
gate = "hold"
run = "true"

[gates.hold]
approvals = 1
checklist = []'
stage() { # id, run (TOML literal string), extra lines, the table after it
  printf '[[stage]]\nid = "%s"\nrun = '"'"'%s'"'"'\n%s\n\n%s\n' "$1" "$2" "$3" "${4//STAGE/$1}"
}
# shellcheck disable=SC2016 # for the plan's shell, not this one
lines64k='yes "$(head -c 65536 /dev/zero | tr "\0" x)" | head -n 256'
nonl='head -c 16777216 /dev/zero | tr "\0" x'
fan='[environments.prod]
targets = ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"]
'
mkplan seq "$(stage flood 'seq 1 2000000' '' "$after")"
mkplan seqhold "$(stage flood 'seq 1 2000000' '' "$hold")"
# Until the bench creates `stop` (at most two minutes).
# shellcheck disable=SC2016
mkplan storm "$(stage flood 'end=$(($(date +%s) + 120)); while [ ! -e stop ] && [ "$(date +%s)" -lt "$end" ]; do seq 1 2000000; done' '' "$after")"
mkplan fan "$fan$(stage flood 'seq 1 250000' $'environment = "prod"\nconcurrency = 8' "$hold")"
mkplan long "$(stage flood "$lines64k" '' "$after")"
mkplan longhold "$(stage flood "$lines64k" '' "$hold")"
mkplan nonl "$(stage flood "$nonl" '' "$after")"
mkplan nonlhold "$(stage flood "$nonl" '' "$hold")"
mkplan idle "$(stage sleep 'sleep 60' '' "$after")"
mkplan gate "$(stage build 'true' '' "$hold")"

# The pane's program: start the cockpit on a new release, time it, write "rc t0 t1" (µs).
cat >"$tmp/pane.sh" <<'EOF'
#!/usr/bin/env bash
bin=$1 dir=$2 ver=$3 res=$4 start=$5
cd "$dir" || exit 1
t0=$EPOCHREALTIME
if [ "$start" = 1 ]; then
  "$bin" cockpit --start "$ver" --exit-when-done 2>"$res.err"
  rc=$?
elif id=$("$bin" run "$ver" --detach 2>"$res.err"); then
  "$bin" cockpit "$id" --exit-when-done 2>>"$res.err"
  rc=$?
else
  rc=255
fi
t1=$EPOCHREALTIME
echo "$rc ${t0/./} ${t1/./}" >"$res.tmp" && mv "$res.tmp" "$res"
EOF

export FLIGHTDECK_DATA_DIR=$data FLIGHTDECK_USER=bench
tm new-session -d -s keep -x 200 -y 50 "sleep 86400"

n=0
# Start the cockpit on a new release of plan $1 in its own tmux session (200x50). Sets: ver,
# sess, res (result file), rdir (release folder).
start() {
  n=$((n + 1))
  ver=1.0.$n
  sess=r$n
  res=$tmp/res.$n
  rdir=$data/plans/$1/$ver
  pdir=$tmp/plans/$1
  # Several arguments: tmux runs them without a shell, so the pane's pid is pane.sh's bash.
  tm new-session -d -s "$sess" -x 200 -y 50 bash "$tmp/pane.sh" "$bin" "$pdir" "$ver" "$res" "$has_start"
}
finished() { [ -f "$res" ]; }
# The cockpit's pid: the child of the pane's shell whose first argument is `cockpit`.
cockpit_pid() {
  local sh c kids
  sh=$(tm display-message -p -t "$sess" '#{pane_pid}' 2>/dev/null) || return 1
  # (The file has no final newline: `read` fails at its end even when it read the pids.)
  read -ra kids <"/proc/$sh/task/$sh/children" 2>/dev/null || true
  for c in "${kids[@]}"; do
    if [ "$(tr '\0' '\n' <"/proc/$c/cmdline" 2>/dev/null | sed -n 2p)" = cockpit ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}
has_cockpit() { cpid=$(cockpit_pid); }
driver_gone() { ! is_our_driver "$dpid"; }
has_driver() { [ -s "$rdir/driver.lock" ] && dpid=$(cat "$rdir/driver.lock") && is_our_driver "$dpid"; }
at_gate() { grep -q '"kind":"gate_reached"' "$rdir/journal.jsonl" 2>/dev/null; }
capture() { tm capture-pane -p -t "$sess" 2>/dev/null; }
shows() { capture | grep -qF -- "$1"; }
# The output pane (its title row to the row above the status bar).
out_area() { capture | awk '/┌ Output/ {f = 1} f' | sed '$d'; }
wall_ms() { awk '{printf "%.1f\n", ($3 - $2) / 1000}' "$res"; }
rc_of() { awk '{print $1}' "$res"; }
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }
floor_ms() { # wall time of a shell command
  local t0=$EPOCHREALTIME
  sh -c "$1" >/dev/null
  local t1=$EPOCHREALTIME
  awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN {printf "%.1f\n", (b - a) / 1000}'
}
end_release() { # cancel a held release; wait for the cockpit and the driver to go
  (cd "$pdir" && "$bin" cancel "$ver" >/dev/null 2>&1) || true
  wait_for 20 "the cockpit to exit" finished
  wait_for 20 "the driver to exit" driver_gone
  rm -rf "$rdir"
}
# Press $1 and wait until the pane shows $2: milliseconds.
key_ms() {
  local t0=$EPOCHREALTIME deadline=$((${EPOCHREALTIME%.*} + 10))
  tm send-keys -t "$sess" "$1"
  until shows "$2"; do
    [ "${EPOCHREALTIME%.*}" -lt "$deadline" ] || die "key $1 never showed '$2'"
  done
  local t1=$EPOCHREALTIME
  awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN {printf "%.1f\n", (b - a) / 1000}'
}

rows=()
row() { # figure, result, floor, ratio, goal, pass
  rows+=("$(printf '%-52s|%-26s|%-24s|%-9s|%-14s|%s' "$@")")
}
pass() { awk "BEGIN {exit !($1)}" && echo PASS || echo FAIL; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}'; }
note() { printf '  %s\n' "$*" >&2; }

echo "flightdeck cockpit bench: $bin, BENCH_REPS=$reps, tmux $(tmux -V | cut -d' ' -f2) 200x50," \
  "start: $([ $has_start = 1 ] && echo 'cockpit --start' || echo 'run --detach + cockpit ID')" >&2

# ---------------------------------------------------------------------------------------------
# 1. seq 1 2000000: wall time, log complete.
note "1. seq 1 2000000 ($reps reps, interleaved with the floor)"
: >"$tmp/f1" && : >"$tmp/s1"
log_ok=yes
for _ in $(seq 1 "$reps"); do
  floor_ms 'seq 1 2000000 | cat > /dev/null' >>"$tmp/f1"
  start seq
  wait_for 60 "the cockpit to exit" finished
  [ "$(rc_of)" = 0 ] || die "cockpit exited $(rc_of): $(cat "$res.err")"
  wall_ms >>"$tmp/s1"
  log=$rdir/logs/flood.1.log
  lines=$(grep -c '^o ' "$log")
  last=$(grep '^o ' "$log" | tail -1)
  if [ "$lines" != 2000000 ] || [ "$last" != "o 2000000" ]; then
    log_ok="NO: $lines lines, last '$last'"
  fi
  rm -rf "$rdir"
done
f1=$(median <"$tmp/f1")
s1=$(median <"$tmp/s1")
note "floor $(tr '\n' ' ' <"$tmp/f1")ms; cockpit $(tr '\n' ' ' <"$tmp/s1")ms; log complete: $log_ok"
p1=$(pass "$s1 <= 10 * $f1")
[ "$log_ok" = yes ] || p1="FAIL (log incomplete)"
row "1 seq 1 2000000 start->exit, log complete: ${log_ok%%:*}" "${s1} ms" "${f1} ms (| cat)" \
  "$(ratio "$s1" "$f1")" "<= 10x" "$p1"

# ---------------------------------------------------------------------------------------------
# 2. During a flood: pane advances per second; `j` latency against idle.
note "2. flood: output pane sampled every 50 ms for ${adv_secs}s, then $key_samples x (j, k) per rep"
: >"$tmp/adv" && : >"$tmp/jf" && : >"$tmp/kf" && : >"$tmp/ji" && : >"$tmp/ki"
for _ in $(seq 1 "$reps"); do
  # The floor of this rep: the same keys on an idle cockpit, right before the flood.
  start idle
  wait_for 30 "the cockpit" has_cockpit
  wait_for 30 "the driver" has_driver
  wait_for 30 "the running stage" shows 'sleep running'
  for _ in $(seq 1 "$key_samples"); do
    key_ms j 'Output after (' >>"$tmp/ji"
    key_ms k 'Output sleep —' >>"$tmp/ki"
  done
  end_release
  rm -f "$tmp/plans/storm/stop"
  start storm
  wait_for 30 "the flood in the output pane" eval 'out_area | grep -qE "^│[0-9]+ "'
  prev=$(out_area)
  changes=0 samples=0
  t0=$EPOCHREALTIME
  end=$((${EPOCHREALTIME%.*} + adv_secs))
  while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
    # Every 50 ms from t0 (a capture takes a few ms of that).
    due=$((${t0/./} + (samples + 1) * 50000 - ${EPOCHREALTIME/./}))
    [ "$due" -gt 0 ] && sleep "$(printf '0.%06d' "$due")"
    cur=$(out_area)
    samples=$((samples + 1))
    [ "$cur" != "$prev" ] && changes=$((changes + 1))
    prev=$cur
  done
  t1=$EPOCHREALTIME
  awk -v c="$changes" -v s="$samples" -v a="${t0/./}" -v b="${t1/./}" \
    'BEGIN {printf "%.1f %.1f %d %d\n", c / ((b - a) / 1e6), s / ((b - a) / 1e6), c, s}' >>"$tmp/adv"
  for _ in $(seq 1 "$key_samples"); do
    key_ms j 'Output after (' >>"$tmp/jf"
    key_ms k 'Output flood —' >>"$tmp/kf"
  done
  touch "$tmp/plans/storm/stop"
  wait_for 60 "the cockpit to exit" finished
  note "flood log: $(du -h "$rdir/logs/flood.1.log" | cut -f1)"
  rm -rf "$rdir"
done
adv=$(awk '{print $1}' "$tmp/adv" | median)
sampling=$(awk '{print $2}' "$tmp/adv" | median)
note "pane changes/s per rep: $(awk '{print $1}' "$tmp/adv" | tr '\n' ' ')(samples/s $sampling;" \
  "$(awk '{c += $3; s += $4} END {print c " of " s}' "$tmp/adv") samples differed from the one before)"
note "j during flood: $(tr '\n' ' ' <"$tmp/jf")ms; k (back to the flood): $(tr '\n' ' ' <"$tmp/kf")ms"

# 5a. Idle with a stage running `sleep 60`: CPU and wake-ups.
cpu_wakes() { # pid, seconds -> "cpu% wakes/s" on stdout, per-thread wake-ups on stderr
  local pid=$1 secs=$2 tck a b
  tck=$(getconf CLK_TCK)
  snap() {
    local t
    for t in /proc/"$pid"/task/*; do
      awk -v tid="${t##*/}" -v comm="$(cat "$t/comm")" \
        '/^voluntary_ctxt/ {v = $2} /^nonvoluntary_ctxt/ {n = $2} END {print tid, v + n, v, n, comm}' "$t/status"
    done
  }
  ticks() { sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
  snap >"$tmp/ctx0"
  a=$(ticks)
  local t0=$EPOCHREALTIME
  sleep "$secs"
  b=$(ticks)
  local t1=$EPOCHREALTIME
  snap >"$tmp/ctx1"
  local dt
  dt=$(awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN {print (b - a) / 1e6}')
  # "tid all voluntary nonvoluntary comm" (a thread's name may hold spaces: `notify-rs inoti`).
  awk -v dt="$dt" 'NR == FNR {c[$1] = $2; v[$1] = $3; n[$1] = $4; next}
    {d = $2 - c[$1]; dv = $3 - v[$1]; dn = $4 - n[$1]; t = $1; $1 = $2 = $3 = $4 = ""; sub(/^ +/, "")
     printf "    thread %s (%s): %d context switches (%d voluntary, %d involuntary), %.2f/s\n", t, $0, d, dv, dn, d / dt}' \
    "$tmp/ctx0" "$tmp/ctx1" >&2
  awk -v dt="$dt" 'NR == FNR {c[$1] = $2; next} {s += $2 - c[$1]} END {printf "%.2f ", s / dt}' \
    "$tmp/ctx0" "$tmp/ctx1" >"$tmp/w"
  awk -v a="$a" -v b="$b" -v t="$tck" -v dt="$dt" 'BEGIN {printf "%.2f", 100 * (b - a) / t / dt}'
  printf ' %s\n' "$(cat "$tmp/w")"
}
note "5a. idle: a stage running sleep 60, ${idle_secs}s"
start idle
wait_for 30 "the cockpit" has_cockpit
wait_for 30 "the driver" has_driver
wait_for 30 "the running stage" shows 'sleep running'
idle_rss=$(kib "$cpid" VmHWM)
sleep 1 # settle: measure the steady state, not the first frames
read -r idle_cpu idle_wakes < <(cpu_wakes "$cpid" "$idle_secs")
end_release
ji=$(median <"$tmp/ji")
jf=$(median <"$tmp/jf")
note "j idle: $(tr '\n' ' ' <"$tmp/ji")ms; k idle: $(tr '\n' ' ' <"$tmp/ki")ms"
row "2 flood: output pane changes per second" "$adv /s" "$sampling /s (sampling)" \
  "$(ratio "$adv" "$sampling")" ">= 10/s" "$(pass "$adv >= 10")"
row "2 flood: j shows its effect (median)" "$jf ms" "$ji ms (idle)" "$(ratio "$jf" "$ji")" "<= 50 ms" \
  "$(pass "$jf <= 50")"

# 5b. Paused at a gate.
note "5b. idle: paused at a gate, ${idle_secs}s"
start gate
wait_for 30 "the cockpit" has_cockpit
wait_for 30 "the driver" has_driver
wait_for 30 "the gate" at_gate
wait_for 30 "the pause on screen" shows 'paused'
sleep 1 # settle
read -r gate_cpu gate_wakes < <(cpu_wakes "$cpid" "$idle_secs")
end_release

# ---------------------------------------------------------------------------------------------
# 3 and 4: peak RSS at a gate after the flood (the driver waits there, so both VmHWM are read
# before either process exits), and wall times for 4.
held_rss() { # plan -> rss="cockpit_kib driver_kib" (max over reps)
  local c=0 d=0 x
  for _ in $(seq 1 "$reps"); do
    start "$1"
    wait_for 30 "the cockpit" has_cockpit
    wait_for 30 "the driver" has_driver
    wait_for 120 "the gate" at_gate
    wait_for 120 "the cockpit to show the end of the run" shows 'exit 0 after'
    x=$(kib "$cpid" VmHWM) && [ "$x" -gt "$c" ] && c=$x
    x=$(kib "$dpid" VmHWM) && [ "$x" -gt "$d" ] && d=$x
    end_release
  done
  rss="$c $d"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
rss_rows() { # label, "c d"
  local c=${2% *} d=${2#* }
  row "$1: cockpit peak RSS" "$(mib "$c")" "$(mib "$idle_rss") (idle)" "$(ratio "$c" "$idle_rss")" "< 32 MiB" \
    "$(pass "$c < 32768")"
  row "$1: driver peak RSS" "$(mib "$d")" "" "" "< 32 MiB" "$(pass "$d < 32768")"
}
note "1. seq 1 2000000: peak RSS"
held_rss seqhold
rss_rows "1 seq 1 2000000" "$rss"
note "3. 8 x seq 1 250000: peak RSS"
held_rss fan
rss_rows "3 8 targets x seq 1 250000" "$rss"

timed() { # plan, floor command, label
  : >"$tmp/ft" && : >"$tmp/st"
  for _ in $(seq 1 "$reps"); do
    floor_ms "$2 | cat > /dev/null" >>"$tmp/ft"
    start "$1"
    wait_for 120 "the cockpit to exit" finished
    [ "$(rc_of)" = 0 ] || die "cockpit exited $(rc_of): $(cat "$res.err")"
    wall_ms >>"$tmp/st"
    rm -rf "$rdir"
  done
  local f s
  f=$(median <"$tmp/ft")
  s=$(median <"$tmp/st")
  note "floor $(tr '\n' ' ' <"$tmp/ft")ms; cockpit $(tr '\n' ' ' <"$tmp/st")ms"
  row "$3 start->exit" "$s ms" "$f ms (| cat)" "$(ratio "$s" "$f")" "<= 10x" "$(pass "$s <= 10 * $f")"
}
note "4. 256 lines of 64 KiB"
timed long "$lines64k" "4 256 lines of 64 KiB"
held_rss longhold
rss_rows "4 256 lines of 64 KiB" "$rss"
note "4. 16 MiB without a newline"
timed nonl "$nonl" "4 16 MiB, no newline"
held_rss nonlhold
rss_rows "4 16 MiB, no newline" "$rss"

row "5 idle, stage running sleep 60: cockpit CPU" "${idle_cpu}% of a core" "" "" "< 0.5%" \
  "$(pass "$idle_cpu < 0.5")"
row "5 idle, stage running sleep 60: wake-ups" "$idle_wakes /s" "" "" "<= 2/s" "$(pass "$idle_wakes <= 2")"
row "5 idle, paused at a gate: cockpit CPU" "${gate_cpu}% of a core" "" "" "< 0.5%" "$(pass "$gate_cpu < 0.5")"
row "5 idle, paused at a gate: wake-ups" "$gate_wakes /s" "" "" "~0/s" "$(pass "$gate_wakes < 0.2")"

echo
printf '%-52s|%-26s|%-24s|%-9s|%-14s|%s\n' figure result floor ratio goal pass
printf '%s\n' "${rows[@]}"
