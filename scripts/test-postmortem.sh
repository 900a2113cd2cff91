#!/usr/bin/env bash
# After a failed `swift test` (make test): the last lines of its output name what ended it, so that a CI log that
# keeps only the tail still says which tests were running, which failed, and where a crash happened.
# Usage: scripts/test-postmortem.sh OUTPUT_FILE
set -uo pipefail
out=${1:?usage: scripts/test-postmortem.sh OUTPUT_FILE}
[ -f "$out" ] || { echo "test-postmortem: $out not found"; exit 0; }
echo "---- make test: swift test failed; from $out ----"
crash=$(grep -m1 -E '^\*\*\* (Program crashed|Signal [0-9]+)' "$out")
if grep -q -E '^\*\*\* Program crashed' "$out"; then
    grep -m1 -E '^\*\*\* Program crashed' "$out"
    # the crashed thread's innermost frames (SWIFT_BACKTRACE in the Makefile keeps the report to that thread)
    awk '/ crashed:$/ { on = 1; print; next } on && /^ *[0-9]+ / { if (++n <= 10) print; next } on && n > 0 && /^$/ { exit }' "$out" \
        | cut -c1-160
elif [ -n "$crash" ]; then
    echo "$crash"
fi
grep -E '^(Fatal error|.*: Fatal error:)' "$out" | head -3 | cut -c1-200
# a sanitizer's report (make test-asan): its headline and innermost frames
grep -m1 -A12 'ERROR: AddressSanitizer' "$out"
# Swift Testing: tests that started and never ended were running when the process stopped
running=$(awk '
    /^◇ Test (case |run started)/ { next }
    /^◇ Test .* started\.$/ { n = $0; sub(/^◇ Test /, "", n); sub(/ started\.$/, "", n); open[n]++; at[n] = NR; next }
    /^(✔|✘) Test .* (passed|failed) after [0-9.]+ seconds/ {
        n = $0; sub(/^(✔|✘) Test /, "", n); sub(/( with [0-9]+ test cases?)? (passed|failed) after [0-9.]+ seconds.*$/, "", n); open[n]--; next }
    /^➜ Test .* skipped/ { n = $0; sub(/^➜ Test /, "", n); sub(/ skipped(: .*|\.)$/, "", n); open[n]--; next }
    END { for (n in open) if (open[n] > 0) print at[n] "\t" n }' "$out" | sort -n | cut -f2-)
failed=$(grep -E '^✘ Test .* failed after' "$out" | sed -E 's/^✘ Test (.*) failed after.*/\1/; s/ with [0-9]+ test cases?$//' | sort -u)
if [ -n "$failed" ]; then
    echo "failed ($(echo "$failed" | wc -l)):"
    echo "$failed" | head -8 | cut -c1-160 | sed 's/^/  /'
fi
if [ -n "$running" ]; then
    # Swift Testing announces many tests at once, so the last ones to start are the likeliest to have been running
    echo "started and never ended: $(echo "$running" | wc -l); the last 8 to start:"
    echo "$running" | tail -8 | cut -c1-160 | sed 's/^/  /'
fi
grep -E '^(✔|✘) Test run with' "$out" | tail -1
exit 0
