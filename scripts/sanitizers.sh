#!/usr/bin/env bash
# Runs the test suites under sanitizers, on every TLS backend found (one build with all of them):
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer (clang, build-asan): the
#         unit and backends suites and, when the test servers run, the integration suite (the
#         same suites as scripts/test.sh, tool and examples included). UBSan findings are fatal.
#         The tree is also built with -Dfuzzing=true (the library's layers, and only they, carry
#         libFuzzer's -fsanitize=fuzzer-no-link: meson.build's layer_cpp_args), so
#         `FUZZ_BUILD_DIR=<root>/build-asan scripts/fuzz.sh` reuses it instead of a build of its own.
#   tsan  ThreadSanitizer (build-tsan): every test binary that runs threads (pool, SCRAM key
#         cache, fake servers, TLS peers; with servers cancel, pools, PgBouncer, two fault
#         binaries, and the async API: its resolver thread under the async connection and
#         both async pools); only their targets are built.
# Exits non-zero on any failing test or sanitizer report.
#
#   PGTLS_TEST_DIR=/tmp/pgtls-test scripts/sanitizers.sh [asan|tsan|all]
#   SAN_BUILD_ROOT=/tmp scripts/sanitizers.sh      # where build-asan/build-tsan go (default: repo)
#
# The integration suites need scripts/test-servers.sh, test-replica.sh and test-pgbouncer.sh
# started with the same PGTLS_TEST_DIR (scripts/test.sh starts all three); without
# $PGTLS_TEST_DIR/env only the suites without servers run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
broot=${SAN_BUILD_ROOT:-$root}
test_dir=${PGTLS_TEST_DIR:-/tmp/pgtls-test}
integration=false
[ -f "$test_dir/env" ] && integration=true
# One PKI for the servers and every suite, as scripts/test.sh does.
[ -f "$test_dir/pki/server.crt" ] && export PGTLS_TEST_PKI=$test_dir/pki
common=(--wrap-mode=nodownload -Dbench=disabled -Db_lundef=false -Dbuildtype=debugoptimized
        -Dintegration_tests=$integration)
status=0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp}

t0=$SECONDS
took() { echo "sanitizers: $1 took $((SECONDS - t0)) s"; t0=$SECONDS; }

run_tests() {  # build dir, label, meson test args...
    local b=$1 label=$2; shift 2
    echo "== $b: $label"
    meson test -C "$b" --no-rebuild --print-errorlogs --timeout-multiplier 4 --num-processes 2 "$@" ||
        status=1
    took "$label"
}

if [ "$what" = asan ] || [ "$what" = all ]; then
    b=$broot/build-asan
    san='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer'
    if [ ! -f "$b/build.ninja" ]; then
        CXX=${SAN_CXX:-clang++} meson setup "$b" "$root" "${common[@]}" -Dfuzzing=true \
            -Dcpp_args="$san" -Dcpp_link_args="$san"
    fi
    ninja -C "$b" || status=1
    took "asan build"
    # The integration suite includes the fault-injection binaries (suite faults: proxies
    # cutting and silencing connections, server restarts, network namespaces when root). One
    # meson test run for all three suites, so the short unit and backends ones fill the slot
    # the longest server suites leave free at the end.
    if $integration; then
        run_tests "$b" "asan suites unit backends integration" --suite unit --suite backends --suite integration
    else
        run_tests "$b" "asan suites unit backends" --suite unit --suite backends
    fi
fi

if [ "$what" = tsan ] || [ "$what" = all ]; then
    b=$broot/build-tsan
    [ -f "$b/build.ninja" ] || meson setup "$b" "$root" "${common[@]}" -Dtools=false -Dexamples=false \
        -Db_sanitize=thread
    # Every test binary that runs threads: the pool and its SCRAM key cache; fake servers and
    # TLS peers on their own threads (hostile-server, conformance); with servers, cancel from
    # another thread (integration), pools under load, through PgBouncer, across a server
    # restart and a silent network (faults_server_restart, faults_network_loss), and the one
    # thread the async API starts, the host-name lookup (async_resolver), under the
    # loop-driven pools too (async_pool, asio_pool).
    tests=(pool pbkdf2_cache hostile-server-1of2 hostile-server-2of2 conformance)
    targets=(tests/pool/pool_test tests/pool/pbkdf2_cache_test tests/hostile/hostile_server_test
             tests/backends/conformance_test)
    if $integration; then
        tests+=(integration pool_integration pool_integration_restart pgbouncer faults_server_restart faults_network_loss
                async_resolver async_pool asio_pool)
        targets+=(tests/integration/integration_test tests/integration/pool_integration_test
                  tests/integration/pgbouncer_test tests/faults/faults_server_restart_test
                  tests/faults/faults_network_loss_test tests/async/async_resolver_test
                  tests/async/async_pool_test tests/async/asio_pool_test)
    fi
    ninja -C "$b" "${targets[@]}" || status=1
    took "tsan build"
    run_tests "$b" "tsan ${tests[*]}" "${tests[@]}"
fi
exit $status
