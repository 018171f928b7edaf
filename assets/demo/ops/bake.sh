#!/bin/sh
# Bake: one reading of prod's health (the stage repeats it every 2s for 8s).
set -eu
. ./ops/colors.sh
n=$(( $(date +%s) % 7 ))
printf '%ssampling the last minute of traffic...%s\n' "$dim" "$reset"
sleep 0.5
printf '%s%s%s error rate 0.0%s%%, p99 %sms: %swithin budget%s\n' \
    "$magenta" "$1" "$reset" "$n" "$(( 180 + n * 3 ))" "$green" "$reset"
