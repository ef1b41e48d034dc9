#!/usr/bin/env bash
# The one command that builds pgtls and runs every test suite against real servers.
#
#   scripts/test.sh [MESON_TEST_ARGS...]     e.g. scripts/test.sh --suite unit
#
# 1. scripts/install-deps.sh (installs only what is missing)
# 2. meson setup build-test -Dwerror=true (reconfigures if it exists), ninja
# 3. scripts/test-servers.sh start + check (PostgreSQL 15 ssl on/off, PostgreSQL 18), the
#    replica, PgBouncer and Kerberos rigs
# 4. meson test --print-errorlogs --num-processes 2
# The servers are stopped however this ends. Exit status: meson test's.
# Environment: PGTLS_BUILD_DIR (default: build-test in the repo), PGTLS_TEST_DIR (servers/PKI).
# Must run as root (apt-get, and the servers run as user postgres).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PGTLS_BUILD_DIR:-$ROOT/build-test}
cd "$ROOT"

phase_start=$SECONDS
phase() {
    echo "test.sh: $1 took $((SECONDS - phase_start)) s"
    phase_start=$SECONDS
}

echo "== install dependencies"
scripts/install-deps.sh
phase "install-deps"

echo "== build ($BUILD)"
setup_args=(-Dwerror=true --wrap-mode=nodownload)
if [[ -f $BUILD/build.ninja ]]; then
    meson setup --reconfigure "$BUILD" "${setup_args[@]}" >/dev/null
else
    meson setup "$BUILD" "${setup_args[@]}"
fi
ninja -C "$BUILD" -j "$(nproc)"
phase "build"

echo "== start test servers"
trap 'scripts/test-kerberos.sh stop || true; scripts/test-pgbouncer.sh stop || true; scripts/test-replica.sh stop || true; scripts/test-servers.sh stop || true' EXIT
scripts/test-servers.sh start
scripts/test-servers.sh check
# A primary + hot standby (multi-host, target_session_attrs) and PgBouncer in front of pg18.
scripts/test-replica.sh start
scripts/test-pgbouncer.sh start
# An MIT KDC and a PostgreSQL 15 with gss/hostgssenc lines (Kerberos cases).
scripts/test-kerberos.sh start
scripts/test-kerberos.sh check
# One PKI for the servers and every suite (the backends suite makes its own without this).
export PGTLS_TEST_PKI=${PGTLS_TEST_DIR:-/tmp/pgtls-test}/pki
phase "server start"

echo "== meson test"
rc=0
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@" || rc=$?
phase "tests"
scripts/test-summary.sh "$BUILD"
exit $rc
