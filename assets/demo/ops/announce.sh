#!/bin/sh
# Announce the release with its notes (the notes file flightdeck wrote from the git history).
set -eu
. ./ops/colors.sh
printf '%sstorefront %s is live%s\n\n' "$green$bold" "$1" "$reset"
if [ -r "$2" ]; then
    cat "$2"
fi
