#!/usr/bin/env bash
# Wake-ups of an idle driver: a release scheduled (`run --at`) well past the window, and one
# paused at a gate, each watched for WINDOW seconds (default 60) once settled, against an idle
# `sleep` process watched over the same window (the floor: 0).
#
#   cargo build --release && benches/wakeups.sh [WINDOW]
#
# A wake-up is a voluntary context switch of any of the process's threads (/proc/PID/task/*/
# status): the thread ran and went back to sleep. The issue's figure: a scheduled release's
# driver waiting 60 s with 0 wake-ups.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/target/release/flightdeck"
window="${1:-60}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
git init -q
cat > flightdeck.toml <<'PLAN'
[plan]
name = "wakeups"
[environments.prod]
[gates.go]
approvals = 1
allow_self_approval = true
[[stage]]
id = "deploy"
environment = "prod"
run = "true"
[[stage]]
id = "after"
needs = ["deploy"]
gate = "go"
run = "true"
PLAN
export FLIGHTDECK_DATA_DIR="$work/data"

switches() { # PID -> total voluntary switches of its threads
  cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n}'
}
driver_of() { "$bin" status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["driver"])'; }

"$bin" run 1.0 --at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" >/dev/null 2>&1
"$bin" run 2.0 --detach >/dev/null 2>&1
until "$bin" status 2.0 --json | grep -q '"state": *"paused"'; do sleep 0.1; done
sleep 3600 & idle=$!
scheduled=$(driver_of 1.0)
gated=$(driver_of 2.0)
sleep 2 # settle: both have done their starting work
a_s=$(switches "$scheduled"); a_g=$(switches "$gated"); a_i=$(switches "$idle")
sleep "$window"
b_s=$(switches "$scheduled"); b_g=$(switches "$gated"); b_i=$(switches "$idle")
echo "wake-ups in ${window} s:"
echo "  scheduled release's driver: $((b_s - a_s))"
echo "  driver paused at a gate:    $((b_g - a_g))"
echo "  idle sleep (floor):         $((b_i - a_i))"
"$bin" cancel 1.0 >/dev/null; "$bin" cancel 2.0 >/dev/null
