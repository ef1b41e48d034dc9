#!/usr/bin/env bash
# Prints one closing line "tests: N passed, N failed, N skipped" over the last `meson test`
# run of each build directory given (from BUILD/meson-logs/testlog.json). Counts Meson tests
# (one per test executable), not the GoogleTest cases inside them.
#
#   scripts/test-summary.sh BUILD_DIR...
set -euo pipefail

passed=0 failed=0 skipped=0
for dir in "$@"; do
    log=$dir/meson-logs/testlog.json
    [[ -f $log ]] || continue
    while read -r result; do
        case $result in
            OK | EXPECTEDFAIL) passed=$((passed + 1)) ;;
            SKIP) skipped=$((skipped + 1)) ;;
            *) failed=$((failed + 1)) ;;  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS
        esac
    done < <(grep -o '"result": *"[A-Z]*"' "$log" | sed 's/.*"\([A-Z]*\)"$/\1/')
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
