#!/usr/bin/env bash
# Runs issue 10's benchmark suite with one command: starts a PostgreSQL 18 test server in its own
# directory, builds bench/pgtls_bench, runs W1..W6 for pgtls (every compiled backend) and libpq
# interleaved over TCP 127.0.0.1 with sslmode=require, then counts client instructions per
# query for W2 and W3 under callgrind (two iteration counts; the difference removes startup and
# connection setup), prints the tables and stops the server.
#
#   scripts/bench.sh            full run at issue 10's counts, 5 repeats (~9 minutes on the quiet 2-core VM)
#   scripts/bench.sh --smoke    every workload tiny, once (seconds); non-zero exit on failure
#   scripts/bench.sh --latency [MS]
#                               only W1 vs W1d (classic vs direct TLS negotiation) through a
#                               proxy delaying every chunk MS ms each way (default 5): shows the
#                               round trip direct negotiation saves, invisible on loopback
#
# Environment: BUILD_DIR (default /tmp/build-bench), PGTLS_TEST_DIR (default /tmp/pgtls-bench),
# BENCH_REPEATS (5), BENCH_N ("W1=200 W2=20000 W3=100000 W4=1000000 W5=1000000 W6=20000"),
# BENCH_WORKLOADS (all), BENCH_CLIENTS (every backend and libpq, e.g. "openssl,libpq"),
# BENCH_CALLGRIND (1; 0 skips the instruction counts), BENCH_LATENCY_MS (5: the delay of the
# latency run; 0 skips it), BENCH_LATENCY_N (W1 connections per latency run, 20),
# BENCH_OUT (results directory, default $BUILD_DIR/bench-results).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-/tmp/build-bench}
export PGTLS_TEST_DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-bench}
REPEATS=${BENCH_REPEATS:-5}
N=${BENCH_N:-"W1=200 W2=20000 W3=100000 W4=1000000 W5=1000000 W5b=1000000 W6=20000 W8=200"}
WORKLOADS=${BENCH_WORKLOADS:-W1,W1d,W1cb,W1p,W2,W3,W4b,W4s,W5,W5b,W6,W8}
CALLGRIND=${BENCH_CALLGRIND:-1}
LATENCY_MS=${BENCH_LATENCY_MS:-5}
LATENCY_N=${BENCH_LATENCY_N:-20}
OUT=${BENCH_OUT:-$BUILD_DIR/bench-results}
smoke=0 latency_only=0
case ${1:-} in
    --smoke) smoke=1 ;;
    --latency) latency_only=1; [[ -n ${2:-} ]] && LATENCY_MS=$2 ;;
    "") ;;
    *) echo "usage: $0 [--smoke | --latency [MS]]" >&2; exit 2 ;;
esac
clients_args=()
[[ -n ${BENCH_CLIENTS:-} ]] && clients_args=(--clients "$BENCH_CLIENTS")

if [[ ! -d $BUILD_DIR ]]; then
    meson setup "$BUILD_DIR" "$here" -Dbench=enabled
fi
ninja -C "$BUILD_DIR" bench/pgtls_bench
bench=$BUILD_DIR/bench/pgtls_bench

"$here/scripts/test-servers.sh" start >&2
trap '"$here/scripts/test-servers.sh" stop >&2 || true' EXIT
# shellcheck disable=SC1091
source "$PGTLS_TEST_DIR/env"
tcp="host=127.0.0.1 port=$PGTLS_PG18_PORT dbname=pgtls user=scramuser password=scram-secret sslmode=require"
unix="host=$PGTLS_PG18_SOCKET_DIR port=$PGTLS_PG18_PORT dbname=pgtls user=scramuser password=scram-secret sslmode=disable"

if (( smoke )); then
    "$bench" --smoke --quiet --conninfo "$tcp"
    "$bench" --smoke --quiet --workloads W1,W1d --latency-ms 1 --conninfo "$tcp"  # the delaying proxy works
    exit
fi

mkdir -p "$OUT"

# W1 classic vs W1d direct through the delaying proxy: the difference is one round trip.
latency_run() {
    echo
    echo "# W1/W1d through a proxy adding $LATENCY_MS ms each way: $bench --latency-ms $LATENCY_MS --interleave-workloads --workloads W1,W1d --repeats $REPEATS --n W1=$LATENCY_N"
    "$bench" --latency-ms "$LATENCY_MS" --interleave-workloads --workloads W1,W1d --repeats "$REPEATS" --n "W1=$LATENCY_N" "${clients_args[@]}" \
        --conninfo "$tcp" 2>"$OUT/runs-latency.log" | tee "$OUT/latency.md"
}
if (( latency_only )); then
    latency_run
    exit
fi

echo "# pgtls_bench $(date -u +%FT%TZ) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# server: PostgreSQL 18 from scripts/test-servers.sh (fsync=off, synchronous_commit=off, full_page_writes=off), TLS on 127.0.0.1:$PGTLS_PG18_PORT"
nargs=()
for kv in $N; do nargs+=(--n "$kv"); done
echo "# command: $bench --workloads $WORKLOADS --repeats $REPEATS ${nargs[*]} --conninfo '<tcp, sslmode=require>'"
echo
"$bench" --workloads "$WORKLOADS" --repeats "$REPEATS" "${nargs[@]}" "${clients_args[@]}" --conninfo "$tcp" 2>"$OUT/runs.log" | tee "$OUT/table.md"
[[ $LATENCY_MS != 0 ]] && latency_run

(( CALLGRIND )) || exit 0
command -v valgrind >/dev/null || { echo "valgrind not installed: no instruction counts" >&2; exit 0; }

# Total instructions of one whole process (startup + connect + n queries).
instructions() {  # workload client n conninfo
    local f="$OUT/callgrind.$1.$2.$3.$5.out"
    valgrind --tool=callgrind --callgrind-out-file="$f" "$bench" --no-fork --quiet \
        --workloads "$1" --clients "$2" --repeats 1 --n "$1=$3" --conninfo "$4" >/dev/null 2>"$f.log"
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
}

clients=$({ "$bench" --help 2>&1 || true; } | sed -n 's/.*--clients \([^]]*\)].*/\1/p')
first_backend=${clients#libpq,}; first_backend=${first_backend%%,*}
echo
echo "| client instructions per query (callgrind, (I(n2) − I(n1)) / (n2 − n1)) | client | n1 → n2 | instructions/query | ratio to libpq |"
echo "|---|---|---|---|---|"
for spec in "W2 200 2200 tcp" "W3 1000 3000 tcp" "W2 200 2200 unix"; do
    read -r w n1 n2 where <<<"$spec"
    ci=$tcp; label="$w TLS"
    [[ $where == unix ]] && { ci=$unix; label="$w Unix socket, no TLS"; }
    declare -A per=()
    for c in ${clients//,/ }; do
        [[ $where == unix && $c != libpq && $c != "$first_backend" ]] && continue  # one pgtls run is enough without TLS
        a=$(instructions "$w" "$c" "$n1" "$ci" "$where"); b=$(instructions "$w" "$c" "$n2" "$ci" "$where")
        per[$c]=$(( (b - a) / (n2 - n1) ))
    done
    for c in ${clients//,/ }; do
        [[ -n ${per[$c]:-} ]] || continue
        ratio="–"
        [[ $c != libpq && -n ${per[libpq]:-} ]] && ratio=$(awk -v a="${per[$c]}" -v b="${per[libpq]}" 'BEGIN{printf "%.2f", a/b}')
        echo "| $label | $c | $n1 → $n2 | ${per[$c]} | $ratio |"
    done
    unset per
done | tee "$OUT/instructions.md"
echo
echo "callgrind profiles: $OUT/callgrind.*.out (callgrind_annotate --inclusive=yes FILE)"
