#!/bin/sh
# Pretend to build the storefront: coloured steps with a pause between them.
set -eu
. ./ops/colors.sh
version=$1
printf '%sBuilding storefront %s%s\n' "$bold" "$version" "$reset"
for step in "resolving 214 dependencies" "compiling catalog" "compiling cart" "compiling checkout" \
    "compiling search" "bundling web assets"; do
    sleep 0.3
    printf '  %s%10s%s %s\n' "$green" "ok" "$reset" "$step"
done
printf '%sFinished%s storefront %s in 1.8s\n' "$green$bold" "$reset" "$version"
