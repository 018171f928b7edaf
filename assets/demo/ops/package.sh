#!/bin/sh
# Package the storefront for one target: a few seconds of progress lines.
set -eu
. ./ops/colors.sh
target=$1
version=$2
printf '%s%s%s packaging storefront %s\n' "$cyan$bold" "$target" "$reset" "$version"
# A little slower or faster per target, so the fan-out does not move in lockstep.
pause="0.$(( ${#target} % 3 + 2 ))"
bar=""
for pct in 10 20 30 40 50 60 70 80 90 100; do
    sleep "$pause"
    bar="$bar#"
    printf '  [%s%-10s%s] %s%3d%%%s\n' "$green" "$bar" "$reset" "$yellow" "$pct" "$reset"
done
size=$(( ${#target} * 7 % 30 + 12 ))
printf '%sdone%s storefront-%s-%s.tar.gz (%s MB)\n' "$green$bold" "$reset" "$version" "$target" "$size"
