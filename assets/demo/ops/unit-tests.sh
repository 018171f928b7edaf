#!/bin/sh
# The unit tests, flaky on purpose: the first attempt of each release fails, the retry passes.
set -eu
. ./ops/colors.sh
marker="state/unit-tests-$1.failed-once"
mkdir -p state
printf 'running 48 tests\n'
for t in cart::totals cart::currency catalog::search checkout::coupons checkout::tax; do
    sleep 0.15
    printf 'test %s ... %sok%s\n' "$t" "$green" "$reset"
done
sleep 0.2
if [ ! -e "$marker" ]; then
    : >"$marker"
    printf 'test checkout::payment_timeout ... %sFAILED%s\n' "$red$bold" "$reset"
    printf '%sflaky:%s connection reset by the payment sandbox (it happens)\n' "$yellow" "$reset"
    printf '%stest result: FAILED.%s 47 passed; 1 failed\n' "$red" "$reset"
    exit 1
fi
printf 'test checkout::payment_timeout ... %sok%s\n' "$green" "$reset"
printf '%stest result: ok.%s 48 passed; 0 failed\n' "$green" "$reset"
