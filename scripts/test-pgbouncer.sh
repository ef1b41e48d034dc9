#!/usr/bin/env bash
# Starts and stops PgBouncer (Debian package `pgbouncer`) in transaction pooling mode in front of
# the PostgreSQL 18 server of scripts/test-servers.sh, with TLS on both sides, for
# tests/integration/pgbouncer_test.cpp.
#
#   scripts/test-pgbouncer.sh start    (re)start PgBouncer, write the env file
#   scripts/test-pgbouncer.sh stop     stop it, remove the env file (safe to repeat)
#   scripts/test-pgbouncer.sh status   exit 0 only if it runs
#
# Needs scripts/test-servers.sh start first (reads ${PGTLS_TEST_DIR:-/tmp/pgtls-test}/env).
# Writes $PGTLS_TEST_DIR/pgbouncer.env: PGTLS_PGBOUNCER_PORT (127.0.0.1), PGTLS_PGBOUNCER_DB
# (pgtls, mapped to the pg18 server's pgtls), PGTLS_PGBOUNCER_SERVER_PORT, PGTLS_PGBOUNCER_POOL_SIZE,
# PGTLS_PGBOUNCER_LOG, PGTLS_TEST_PKI. Everything else lives in $PGTLS_TEST_DIR/pgbouncer/.
#
# Clients: client_tls_sslmode=require with the test PKI's server.crt (CN localhost, SAN
# 127.0.0.1), auth_type=scram-sha-256 against an auth_file with plain-text passwords (so
# PgBouncer can also log in to the server with SCRAM): scramuser/scram-secret and
# pwuser/pw-secret. Server side: server_tls_sslmode=verify-full with the test CA.
# pool_mode=transaction, default_pool_size=4 (so interleaving clients share server connections).
# Runs as user postgres; must run as root.
set -euo pipefail

DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-test}
B=$DIR/pgbouncer
ENV_FILE=$DIR/pgbouncer.env
PGBOUNCER=${PGTLS_PGBOUNCER_BIN:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}
POOL_SIZE=4
# Clients PgBouncer accepts (bench/c10k.sh raises it; the file-descriptor limit must allow it).
MAX_CLIENT_CONN=${PGTLS_PGBOUNCER_MAX_CLIENT_CONN:-500}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKI=$DIR/pki
RIG_NAME=test-pgbouncer
# shellcheck source=lib/pg-rig.sh
. "$ROOT/scripts/lib/pg-rig.sh"

pid_of() { [[ -f $B/pgbouncer.pid ]] && cat "$B/pgbouncer.pid"; }
is_running() {
    local pid
    pid=$(pid_of) || return 1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && grep -q pgbouncer "/proc/$pid/cmdline" 2>/dev/null
}

cmd_stop() {
    rm -f "$ENV_FILE"
    local pid i
    if is_running; then
        pid=$(pid_of)
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$B/pgbouncer.pid"
    log "stopped"
}

cmd_start() {
    [[ -x $PGBOUNCER ]] || die "pgbouncer not installed (Debian package 'pgbouncer')"
    [[ -f $DIR/env ]] || die "test servers not running: run scripts/test-servers.sh start first"
    local server_port pki port try
    server_port=$(sed -n 's/^PGTLS_PG18_PORT=//p' "$DIR/env")
    pki=$(sed -n 's/^PGTLS_TEST_PKI=//p' "$DIR/env")
    [[ -n $server_port && -f $pki/server.crt ]] || die "$DIR/env lacks the pg18 server or the PKI"
    cmd_stop >/dev/null
    rm -rf "$B"
    mkdir -p "$B/tls" "$B/socket"
    install -m 0644 "$pki/server.crt" "$B/tls/server.crt"
    install -m 0600 "$pki/server.key" "$B/tls/server.key"
    install -m 0644 "$pki/ca.crt" "$B/tls/ca.crt"
    install -m 0644 "$pki/client-ca.crt" "$B/tls/client-ca.crt"
    cat >"$B/userlist.txt" <<'EOF'
"scramuser" "scram-secret"
"pwuser" "pw-secret"
EOF
    chmod 0600 "$B/userlist.txt"
    chown -R postgres: "$B"
    for try in 1 2 3 4 5; do
        port=$(pick_port)
        cat >"$B/pgbouncer.ini" <<EOF
; Written by scripts/test-pgbouncer.sh
[databases]
pgtls = host=127.0.0.1 port=$server_port dbname=pgtls

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $B/socket
pidfile = $B/pgbouncer.pid
logfile = $B/pgbouncer.log
auth_type = scram-sha-256
auth_file = $B/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = $MAX_CLIENT_CONN
server_reset_query =
ignore_startup_parameters = extra_float_digits
client_tls_sslmode = require
client_tls_cert_file = $B/tls/server.crt
client_tls_key_file = $B/tls/server.key
client_tls_ca_file = $B/tls/client-ca.crt
server_tls_sslmode = verify-full
server_tls_ca_file = $B/tls/ca.crt
EOF
        chown postgres: "$B/pgbouncer.ini"
        : >"$B/pgbouncer.log"
        chown postgres: "$B/pgbouncer.log"
        # runuser's PAM session resets the open-files limit (1024 on Debian): raise it to the
        # hard limit so max_client_conn clients fit.
        (cd "$B" && runuser -u postgres -- sh -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"' \
            "$PGBOUNCER" -d -q "$B/pgbouncer.ini" </dev/null 9>&- >"$B/start.log" 2>&1) ||
            { cat "$B/start.log" "$B/pgbouncer.log" >&2; die "pgbouncer did not start"; }
        local i
        for ((i = 0; i < 50; i++)); do
            port_in_use "$port" && is_running && break
            sleep 0.1
        done
        if is_running && port_in_use "$port"; then break; fi
        if grep -q 'Address already in use' "$B/pgbouncer.log" && ((try < 5)); then cmd_stop >/dev/null; continue; fi
        cat "$B/pgbouncer.log" >&2
        die "pgbouncer is not listening on $port"
    done
    {
        echo "PGTLS_TEST_PKI=$pki"
        echo "PGTLS_PGBOUNCER_PORT=$port"
        echo "PGTLS_PGBOUNCER_DB=pgtls"
        echo "PGTLS_PGBOUNCER_SERVER_PORT=$server_port"
        echo "PGTLS_PGBOUNCER_POOL_SIZE=$POOL_SIZE"
        echo "PGTLS_PGBOUNCER_LOG=$B/pgbouncer.log"
    } >"$ENV_FILE.tmp"
    chmod 0644 "$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    log "$("$PGBOUNCER" --version | head -1) on 127.0.0.1:$port -> pg18 127.0.0.1:$server_port (transaction pooling, TLS both sides)"
    log "env: $ENV_FILE"
}

cmd_status() {
    if is_running; then
        echo "pgbouncer running (pid $(pid_of)), $(sed -n 's/^listen_port = //p' "$B/pgbouncer.ini" 2>/dev/null)"
        return 0
    fi
    echo "pgbouncer stopped"
    return 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (pgbouncer runs as user postgres)"
id postgres >/dev/null 2>&1 || die "user postgres missing: run scripts/install-deps.sh"
mkdir -p "$DIR"
exec 9>"$DIR/.pgbouncer-lock"
flock -w 60 9 || die "another invocation holds $DIR/.pgbouncer-lock"

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
