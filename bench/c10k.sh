#!/usr/bin/env bash
# C10k: one thread holds 10,000 TLS connections through PgBouncer (TLS and SCRAM on the client
# side, a pool of 4 server connections behind it), each running 10 queries, once per compiled
# TLS backend (bench/c10k.cpp). Restarts the PgBouncer rig of scripts/test-pgbouncer.sh with
# room for the clients, and restarts it with its defaults afterwards.
#
#   PGTLS_TEST_DIR=/tmp/pgtls-test bench/c10k.sh [BUILD_DIR] [c10k options...]
# Needs scripts/test-servers.sh start first. Prints a Markdown table (see BENCHMARKS.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
export PGTLS_TEST_DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-test}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PGTLS_PGBOUNCER_MAX_CLIENT_CONN=11000 bash "$root/scripts/test-pgbouncer.sh" start >&2
trap 'bash "$root/scripts/test-pgbouncer.sh" start >&2 || true' EXIT
# shellcheck disable=SC1091
. "$PGTLS_TEST_DIR/pgbouncer.env"
ci="host=127.0.0.1 port=$PGTLS_PGBOUNCER_PORT dbname=$PGTLS_PGBOUNCER_DB user=scramuser password=scram-secret sslmode=verify-ca sslrootcert=$PGTLS_TEST_PKI/ca.crt"
"$build/bench/c10k" --conninfo "$ci" "$@"
