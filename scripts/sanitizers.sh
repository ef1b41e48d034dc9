#!/usr/bin/env bash
# Runs the test suites under sanitizers:
#   1. AddressSanitizer + UndefinedBehaviorSanitizer (build-asan): the unit suites and, when
#      the test servers run (PGTLS_TEST_DIR, scripts/test-servers.sh start), the integration
#      suites. UBSan findings are fatal (-fno-sanitize-recover=all).
#   2. ThreadSanitizer (build-tsan): the pool/concurrency tests (unit tests whose name contains
#      "pool", and the integration ones when servers run).
# Exits non-zero on any failing test or sanitizer report.
#
#   PGTLS_TEST_DIR=/tmp/pgtls-test scripts/sanitizers.sh [asan|tsan|all]
#   SAN_BUILD_ROOT=/tmp scripts/sanitizers.sh      # where build-asan/build-tsan go (default: repo)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
broot=${SAN_BUILD_ROOT:-$root}
env_file=${PGTLS_TEST_DIR:-/tmp/pgtls-test}/env
integration=false
[ -f "$env_file" ] && integration=true
common=(-Dbench=disabled -Dexamples=false -Dtools=false -Db_lundef=false -Dbuildtype=debug
        -Dintegration_tests=$integration)
status=0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

run_suites() {  # build dir, suites...
    local b=$1; shift
    for s in "$@"; do
        echo "== $b: suite $s"
        meson test -C "$b" --suite "$s" --print-errorlogs --timeout-multiplier 4 || status=1
    done
}

if [ "$what" = asan ] || [ "$what" = all ]; then
    b=$broot/build-asan
    [ -f "$b/build.ninja" ] || meson setup "$b" "$root" "${common[@]}" -Db_sanitize=address,undefined \
        -Dcpp_args=-fno-sanitize-recover=all -Dcpp_link_args=-fno-sanitize-recover=all
    ninja -C "$b"
    suites=(unit backends)
    $integration && suites+=(integration)
    run_suites "$b" "${suites[@]}"
fi

if [ "$what" = tsan ] || [ "$what" = all ]; then
    b=$broot/build-tsan
    [ -f "$b/build.ninja" ] || meson setup "$b" "$root" "${common[@]}" -Db_sanitize=thread
    ninja -C "$b"
    # Pool/concurrency tests: every registered test whose name mentions "pool".
    mapfile -t pool_tests < <(meson test -C "$b" --list 2>/dev/null | grep -i pool | sed 's/^.* \/ //')
    if [ ${#pool_tests[@]} -eq 0 ]; then
        echo "no pool tests registered"; status=1
    else
        echo "== $b: ${pool_tests[*]}"
        meson test -C "$b" --print-errorlogs --timeout-multiplier 4 "${pool_tests[@]}" || status=1
    fi
fi
exit $status
