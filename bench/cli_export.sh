#!/usr/bin/env bash
# The CLI export benchmark of issue 22: `pgtls --format csv` against `psql --csv` exporting the
# same query over TLS (127.0.0.1, sslmode=require, PostgreSQL 18 of scripts/test-servers.sh) to
# /dev/null, interleaved in one run. Measures the client process only: user+sys CPU and peak
# RSS from GNU time (getrusage of the child), wall time for reference. Prints a Markdown table
# of medians [min–max] and pgtls/psql ratios of the medians.
#
#   bench/cli_export.sh                 N = 1,000,000 and 10,000,000 rows, 3 runs each
#   bench/cli_export.sh --smoke         N = 10,000, one run, and a byte comparison of the outputs
#
# Environment: BUILD_DIR (default /tmp/build-bench; configured as scripts/bench.sh does when
# missing), PGTLS_CLI (a pgtls binary to use instead of building), PSQL (default the newest
# /usr/lib/postgresql/*/bin/psql, else psql),
# PGTLS_TEST_DIR (default /tmp/pgtls-bench; servers already running there are reused, else
# started and stopped), BENCH_ROWS ("1000000 10000000"), BENCH_REPEATS (3), BENCH_CALLGRIND
# (1: also count client instructions per row under valgrind --tool=callgrind at 1,000 and
# 200,000 rows, the difference removing start-up, connection and SCRAM; 0 skips it).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-/tmp/build-bench}
export PGTLS_TEST_DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-bench}
ROWS=${BENCH_ROWS:-"1000000 10000000"}
REPEATS=${BENCH_REPEATS:-3}
# Debian's /usr/bin/psql is a Perl wrapper that execs the real binary: its start-up would be
# counted as psql's CPU, so the newest real binary is preferred.
PSQL=${PSQL:-$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)}
PSQL=${PSQL:-psql}
TIME=/usr/bin/time
CALLGRIND=${BENCH_CALLGRIND:-1}
smoke=0
case ${1:-} in
    --smoke) smoke=1; ROWS=10000; REPEATS=1; CALLGRIND=0 ;;
    "") ;;
    *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac
[[ -x $TIME ]] || { echo "$0: needs GNU time at $TIME" >&2; exit 2; }

if [[ -z ${PGTLS_CLI:-} ]]; then
    [[ -d $BUILD_DIR ]] || meson setup "$BUILD_DIR" "$here" >&2
    ninja -C "$BUILD_DIR" tools/pgtls >&2
    PGTLS_CLI=$BUILD_DIR/tools/pgtls
fi

if ! "$here/scripts/test-servers.sh" status >/dev/null 2>&1; then
    "$here/scripts/test-servers.sh" start >&2
    trap '"$here/scripts/test-servers.sh" stop >&2 || true' EXIT
fi
# shellcheck disable=SC1091
source "$PGTLS_TEST_DIR/env"
conninfo="host=127.0.0.1 port=$PGTLS_PG18_PORT dbname=pgtls user=scramuser password=scram-secret sslmode=require"
export PGHOST=127.0.0.1 PGPORT=$PGTLS_PG18_PORT PGDATABASE=pgtls PGUSER=scramuser PGPASSWORD=scram-secret PGSSLMODE=require

# int, text, timestamptz and numeric; no empty strings (psql writes '' unquoted, pgtls quoted).
query() {
    echo "SELECT i, 'row ' || i AS t, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' AS ts," \
         "(i * 1.25)::numeric(14,2) AS n FROM generate_series(1,$1) i"
}

if (( smoke )); then
    cmp <("$PSQL" -X --csv -c "$(query 10000)") <("$PGTLS_CLI" --format csv -c "$(query 10000)" "$conninfo") \
        || { echo "$0: psql --csv and pgtls --format csv differ" >&2; exit 1; }
fi

runs=$(mktemp)
# One line per run: client rows user_s sys_s rss_kib wall_s.
measure() {
    local client=$1 n=$2 out
    out=$(mktemp)
    if [[ $client == psql ]]; then
        "$TIME" -f "%U %S %M %e" -o "$out" "$PSQL" -X --csv -c "$(query "$n")" >/dev/null
    else
        "$TIME" -f "%U %S %M %e" -o "$out" "$PGTLS_CLI" --format csv -c "$(query "$n")" "$conninfo" >/dev/null
    fi
    read -r user sys rss wall <"$out"
    rm -f "$out"
    echo "$client $n $user $sys $rss $wall" | tee -a "$runs" >&2
}

echo "# bench/cli_export.sh $(date -u +%FT%TZ) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# psql: $("$PSQL" --version); pgtls: $("$PGTLS_CLI" --version); server: PostgreSQL 18, TLS on 127.0.0.1"
echo "# query: $(query N)"
for n in $ROWS; do
    for ((r = 0; r < REPEATS; ++r)); do
        # Alternate which client goes first so neither always follows the other.
        if (( r % 2 == 0 )); then measure psql "$n"; measure pgtls "$n"; else measure pgtls "$n"; measure psql "$n"; fi
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    client, n, user, sys_, rss, wall = line.split()
    runs.setdefault((int(n), client), []).append((float(user) + float(sys_), int(rss) / 1024, float(wall)))
def cell(values, unit, digits):
    return f"{statistics.median(values):.{digits}f} {unit} [{min(values):.{digits}f}–{max(values):.{digits}f}]"
print("| rows | client | runs | client CPU (user+sys) | peak RSS | wall | CPU pgtls/psql | RSS pgtls/psql |")
print("|---|---|---|---|---|---|---|---|")
for n in sorted({n for n, _ in runs}):
    med = {c: [statistics.median(x[i] for x in runs[(n, c)]) for i in range(3)] for c in ("psql", "pgtls") if (n, c) in runs}
    for c in ("psql", "pgtls"):
        if (n, c) not in runs:
            continue
        r = runs[(n, c)]
        ratio = (f"{med['pgtls'][0] / med['psql'][0]:.2f} | {med['pgtls'][1] / med['psql'][1]:.3f}"
                 if c == "pgtls" and "psql" in med and med["psql"][0] > 0 else "– | –")
        print(f"| {n:,} | {c} | {len(r)} | {cell([x[0] for x in r], 's', 2)} | {cell([x[1] for x in r], 'MiB', 1)} "
              f"| {cell([x[2] for x in r], 's', 2)} | {ratio} |")
PY
rm -f "$runs"

# Instructions are the stable figure on a shared VM (time is not): two row counts, one
# callgrind run each per client.
instructions() {
    local client=$1 n=$2 cmd
    if [[ $client == psql ]]; then cmd=("$PSQL" -X --csv -c "$(query "$n")"); else cmd=("$PGTLS_CLI" --format csv -c "$(query "$n")" "$conninfo"); fi
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "${cmd[@]}" 2>&1 >/dev/null |
        sed -n 's/.*I *refs: *//p' | tr -d ,
}
if (( CALLGRIND )) && command -v valgrind >/dev/null; then
    echo
    echo "| client | instructions, 1,000 rows | instructions, 200,000 rows | per row | per row pgtls/psql |"
    echo "|---|---|---|---|---|"
    declare -A per_row
    for client in psql pgtls; do
        small=$(instructions "$client" 1000)
        large=$(instructions "$client" 200000)
        per_row[$client]=$(( (large - small) / 199000 ))
        ratio="–"
        [[ $client == pgtls ]] && ratio=$(python3 -c "print(f'{${per_row[pgtls]} / ${per_row[psql]}:.2f}')")
        printf '| %s | %s | %s | %s | %s |\n' "$client" "$(printf "%'d" "$small")" "$(printf "%'d" "$large")" \
            "$(printf "%'d" "${per_row[$client]}")" "$ratio"
    done
fi
