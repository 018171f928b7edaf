#!/bin/sh
# Pretend to deploy a version to an environment (or roll it back with --previous).
set -eu
. ./ops/colors.sh
env=$1
version=$2
if [ "$version" = "--previous" ]; then
    printf '%srolling %s back%s to the previous version\n' "$yellow$bold" "$env" "$reset"
    sleep 0.5
    printf '%srolled back%s\n' "$green" "$reset"
    exit 0
fi
printf '%sDeploying storefront %s to %s%s (%s)\n' "$bold" "$version" "$env" "$reset" "${BASE_URL:-}"
for step in "draining old instances" "starting 4 new instances" "health checks passing" \
    "switching traffic" "cleaning up"; do
    sleep 0.35
    printf '  %s->%s %s\n' "$blue" "$reset" "$step"
done
printf '%s%s now runs %s%s\n' "$green$bold" "$env" "$version" "$reset"
