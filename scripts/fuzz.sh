#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -Dfuzzing=true, which instruments libpgtls's layers with
# -fsanitize=fuzzer-no-link; everything with address,undefined) and runs each (by default every
# target of fuzz/meson.build) for SECONDS (default 60) from its seed corpus fuzz/corpus/<target>/.
# Exits non-zero on any crash, leak, timeout, sanitizer report or broken property (UBSan is
# fatal: -fno-sanitize-recover=all). Prints the exec count of every target.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   FUZZ_BUILD_DIR=/tmp/build-fuzz scripts/fuzz.sh 600      # a longer local campaign
#   FUZZ_BUILD_DIR=build-asan scripts/fuzz.sh 60    # reuse the tree of `scripts/sanitizers.sh asan`
#                                                   # (an existing FUZZ_BUILD_DIR is used as it is)
#
# New corpus entries and crash artifacts go to $FUZZ_BUILD_DIR/fuzz-work/, never into the repo.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=("$@")

san='-fsanitize=address,undefined -fno-sanitize-recover=all'
if [ ! -f "$build/build.ninja" ]; then
    CXX=${CXX:-clang++} meson setup "$build" "$root" -Dfuzzing=true -Dtests=false -Dexamples=false \
        -Dtools=false -Dbench=disabled -Db_lundef=false -Dbuildtype=debugoptimized \
        -Dcpp_args="$san" -Dcpp_link_args="$san"
fi
# By default every target fuzz/meson.build defines, in its order: the one list of them (an
# existing tree first regenerates, should fuzz/meson.build have changed since its setup).
if [ ${#targets[@]} -eq 0 ]; then
    ninja -C "$build" build.ninja >/dev/null
    mapfile -t targets < <(meson introspect --targets "$build" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["defined_in"].endswith("fuzz/meson.build"): print(t["name"])')
    [ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: $build defines no fuzz targets (-Dfuzzing=true?)" >&2; exit 1; }
fi
ninja -C "$build" "${targets[@]/#/fuzz/}"

work=$build/fuzz-work
mkdir -p "$work"
# Targets run side by side, FUZZ_JOBS at a time (default: one per core): each still gets
# SECONDS of one core, and the campaign takes SECONDS x targets / jobs.
jobs_max=${FUZZ_JOBS:-$(nproc)}
run_one() {  # target
    local t=$1 log=$work/$1.log seeds=() result
    mkdir -p "$work/corpus/$t" "$work/artifacts"
    [ -d "$root/fuzz/corpus/$t" ] && seeds=("$root/fuzz/corpus/$t")
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/fuzz/$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$t-" "$work/corpus/$t" "${seeds[@]}" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
    fi
    echo "$result" >"$work/$t.result"
}
echo "== ${#targets[@]} targets, ${seconds}s each, $jobs_max at a time"
for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
    rm -f "$work/$t.result"
    run_one "$t" &
done
wait || true

status=0
summary=""
for t in "${targets[@]}"; do
    log=$work/$t.log
    result=$(cat "$work/$t.result" 2>/dev/null || echo FAILED)
    if [ "$result" != ok ]; then
        status=1
        echo "== $t FAILED"
        grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -20 || true
    fi
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 || true)
    summary+=$(printf '%-24s %-7s execs=%-10s %s' "$t" "$result" "${execs:-?}" "$cov")$'\n'
done
echo
echo "== summary (${seconds}s each; logs in $work)"
printf '%s' "$summary"
exit $status
