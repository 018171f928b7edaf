#!/bin/sh
# An environment's state, for drift: here a file shipped with the demo (probes/ENV.json).
set -eu
cat "probes/$1.json"
