#!/usr/bin/env bash
# Starts and stops a PostgreSQL 15 primary and a hot standby with real streaming replication,
# for the multi-host suite (tests/integration/multihost_test.cpp).
#
#   scripts/test-replica.sh start    (re)create both servers, wait for streaming, write the env file
#   scripts/test-replica.sh stop     stop both servers, remove the env file (safe to repeat)
#   scripts/test-replica.sh status   show both servers; exit 0 only if both run
#   scripts/test-replica.sh stop-one primary|standby    stop one server, keep its data and port
#   scripts/test-replica.sh restart primary|standby     start it again on its port
#
# Everything lives in $PGTLS_TEST_DIR (default /tmp/pgtls-test), next to scripts/test-servers.sh's
# servers and sharing its PKI ($PGTLS_TEST_DIR/pki, made by scripts/make-pki.sh when missing):
#   replica.env            KEY=VALUE lines: PGTLS_REPLICA_PRIMARY_PORT, PGTLS_REPLICA_STANDBY_PORT,
#                          PGTLS_REPLICA_{PRIMARY,STANDBY}_SOCKET_DIR, PGTLS_REPLICA_{..}_LOG,
#                          PGTLS_REPLICA_PG_BIN, PGTLS_TEST_PKI
#   replica/primary/{data,socket,tls,server.log}   replica/standby/{data,socket,tls,server.log}
#
# Both servers: 127.0.0.1 and ::1 only, ssl = on with server.crt, the users of
# scripts/test-servers.sh (trustuser, pwuser, md5user, scramuser, sslonly, "ünïcode"), database
# pgtls. The standby is made with `pg_basebackup -R` and streams from the primary over its Unix
# socket. Servers run as user postgres; must run as root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-test}
PKI=$DIR/pki
R=$DIR/replica
ENV_FILE=$DIR/replica.env
BIN=${PGTLS_PG15_BIN:-/usr/lib/postgresql/15/bin}
NODES=(primary standby)

log() { echo "test-replica: $*"; }
die() { echo "test-replica: error: $*" >&2; exit 1; }

as_pg() { (cd "$DIR" && runuser -u postgres -- "$@" 9>&-); }
port_in_use() { [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]; }
pick_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port found"
}
is_running() {
    [[ -f $R/$1/data/postmaster.pid ]] && as_pg "$BIN/pg_ctl" -D "$R/$1/data" status >/dev/null 2>&1
}
psql_on() { # NODE SQL...
    local node=$1
    shift
    as_pg "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$R/$node/socket" -p "$(cat "$R/$node/port")" \
        -U postgres -d postgres "$@"
}

# The PKI is scripts/test-servers.sh's; make it the same way (and stamp it the same way, so that
# script reuses it) when it does not exist yet.
ensure_pki() {
    local script=$ROOT/scripts/make-pki.sh
    if [[ ! -f $PKI/server.crt || ! -f $PKI/client-ca.crt ]]; then
        rm -rf "$PKI"
        "$script" "$PKI" >"$DIR/make-pki.log" 2>&1 || { cat "$DIR/make-pki.log" >&2; die "make-pki.sh failed"; }
        sha256sum "$script" | cut -d' ' -f1 >"$PKI/.made-by"
        log "PKI: made $PKI"
    fi
}

write_conf() {
    local node=$1 port=$2 d=$R/$1
    cat >"$d/data/pgtls.conf" <<EOF
# Written by scripts/test-replica.sh; rewritten at every start.
listen_addresses = '127.0.0.1,::1'
port = $port
unix_socket_directories = '$d/socket'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = on
wal_level = replica
max_wal_senders = 5
hot_standby = on
wal_receiver_status_interval = 1s
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '$d/tls/server.crt'
ssl_key_file = '$d/tls/server.key'
ssl_ca_file = '$d/tls/client-ca.crt'
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    chown postgres: "$d/data/pgtls.conf"
}

write_hba() {
    local f=$1 addr
    {
        echo "# Written by scripts/test-replica.sh"
        echo "local replication postgres trust"
        echo "local all all trust"
        for addr in 127.0.0.1/32 ::1/128; do
            echo "hostssl all sslonly $addr scram-sha-256"
            echo "host all trustuser $addr trust"
            echo "host all pwuser $addr password"
            echo "host all md5user $addr md5"
            echo "host all scramuser $addr scram-sha-256"
            echo "host all \"ünïcode\" $addr scram-sha-256"
        done
    } >"$f"
    chown postgres: "$f"
}

prepare_dir() {
    local d=$R/$1
    mkdir -p "$d/data" "$d/socket" "$d/tls"
    install -m 0644 "$PKI/server.crt" "$d/tls/server.crt"
    install -m 0644 "$PKI/client-ca.crt" "$d/tls/client-ca.crt"
    install -m 0600 "$PKI/server.key" "$d/tls/server.key"
    chown -R postgres: "$d"
    chmod 0700 "$d/data"
}

start_node() {
    local node=$1 port=$2 d=$R/$1 try
    for try in 1 2 3 4 5; do
        write_conf "$node" "$port"
        if as_pg "$BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 30 start </dev/null >/dev/null; then
            echo "$port" >"$d/port"
            return 0
        fi
        if grep -q 'Address already in use' "$d/server.log" 2>/dev/null && ((try < 5)); then
            port=$(pick_port)
            continue
        fi
        tail -n 20 "$d/server.log" >&2 || true
        die "$node: server did not start (log: $d/server.log)"
    done
}

stop_node() {
    local node=$1 d=$R/$1
    [[ -f $d/data/postmaster.pid ]] || return 0
    if ! as_pg "$BIN/pg_ctl" -D "$d/data" -m fast -w -t 20 stop >/dev/null 2>&1; then
        as_pg "$BIN/pg_ctl" -D "$d/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    fi
    if [[ -f $d/data/postmaster.pid ]] && is_running "$node"; then die "$node: could not stop"; fi
    rm -f "$d/data/postmaster.pid"
}

write_env() {
    local tmp=$ENV_FILE.tmp node key
    {
        echo "PGTLS_TEST_DIR=$DIR"
        echo "PGTLS_TEST_PKI=$PKI"
        echo "PGTLS_REPLICA_PG_BIN=$BIN"
        for node in "${NODES[@]}"; do
            key=${node^^}
            echo "PGTLS_REPLICA_${key}_PORT=$(cat "$R/$node/port")"
            echo "PGTLS_REPLICA_${key}_SOCKET_DIR=$R/$node/socket"
            echo "PGTLS_REPLICA_${key}_DATA=$R/$node/data"
            echo "PGTLS_REPLICA_${key}_LOG=$R/$node/server.log"
        done
    } >"$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$ENV_FILE"
}

cmd_stop() {
    rm -f "$ENV_FILE"
    stop_node standby
    stop_node primary
    log "stopped"
}

cmd_start() {
    local port i state
    cmd_stop >/dev/null
    rm -rf "$R"
    ensure_pki
    # Primary.
    prepare_dir primary
    as_pg "$BIN/initdb" -D "$R/primary/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        >"$R/primary/initdb.log" 2>&1 || { cat "$R/primary/initdb.log" >&2; die "initdb failed"; }
    echo "include 'pgtls.conf'" >>"$R/primary/data/postgresql.conf"
    write_hba "$R/primary/data/pg_hba.conf"
    start_node primary "$(pick_port)"
    PGCLIENTENCODING=UTF8 psql_on primary >/dev/null <<'EOF'
SET client_min_messages = error;
SET password_encryption = 'scram-sha-256';
CREATE ROLE trustuser LOGIN;
CREATE ROLE pwuser LOGIN PASSWORD 'pw-secret';
CREATE ROLE scramuser LOGIN PASSWORD 'scram-secret';
CREATE ROLE sslonly LOGIN PASSWORD 'ssl-secret';
CREATE ROLE "ünïcode" LOGIN PASSWORD 'pässwörd';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5-secret';
CREATE DATABASE pgtls;
\c pgtls
GRANT ALL ON SCHEMA public TO PUBLIC;
EOF
    # Standby: a base backup of the primary with standby.signal and primary_conninfo (-R).
    prepare_dir standby
    rm -rf "$R/standby/data"
    as_pg "$BIN/pg_basebackup" -h "$R/primary/socket" -p "$(cat "$R/primary/port")" -U postgres \
        -D "$R/standby/data" -R -X stream -c fast --no-sync >"$R/standby/basebackup.log" 2>&1 ||
        { cat "$R/standby/basebackup.log" >&2; die "pg_basebackup failed"; }
    chmod 0700 "$R/standby/data"
    rm -f "$R/standby/data/postmaster.pid" "$R/standby/data/postmaster.opts"
    start_node standby "$(pick_port)"
    # Streaming, as the primary sees it.
    for ((i = 0; i < 100; i++)); do
        state=$(psql_on primary -c "SELECT state FROM pg_stat_replication" 2>/dev/null || true)
        [[ $state == streaming ]] && break
        sleep 0.2
    done
    [[ $state == streaming ]] || die "standby is not streaming (state '${state}'; logs in $R/*/server.log)"
    [[ $(psql_on standby -c "SELECT pg_is_in_recovery()") == t ]] || die "standby is not in recovery"
    write_env
    log "primary port $(cat "$R/primary/port"), standby port $(cat "$R/standby/port"), streaming"
    log "env: $ENV_FILE"
}

cmd_status() {
    local node all=0
    for node in "${NODES[@]}"; do
        if is_running "$node"; then s=running; else s=stopped; all=1; fi
        printf '%-8s %-8s port %s\n' "$node" "$s" "$(cat "$R/$node/port" 2>/dev/null || echo -)"
    done
    if is_running primary; then
        echo "replication: $(psql_on primary -c "SELECT coalesce(string_agg(state, ','), 'none') FROM pg_stat_replication")"
    fi
    return $all
}

check_node() { case ${1:-} in primary|standby) ;; *) die "unknown server '${1:-}' (primary, standby)" ;; esac; }

[[ $(id -u) -eq 0 ]] || die "must run as root (servers run as user postgres)"
id postgres >/dev/null 2>&1 || die "user postgres missing: run scripts/install-deps.sh"
[[ $DIR == /* && $DIR != *[[:space:]]* ]] || die "PGTLS_TEST_DIR must be an absolute path without spaces"
mkdir -p "$DIR"
chmod 0755 "$DIR"
# Shares scripts/test-servers.sh's lock: both may create the PKI.
exec 9>"$DIR/.lock"
flock -w 120 9 || die "another invocation holds $DIR/.lock"

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    stop-one) check_node "${2:-}"; stop_node "$2"; log "$2: stopped" ;;
    restart)
        check_node "${2:-}"
        [[ -f $R/$2/port ]] || die "$2 was never started"
        stop_node "$2"
        start_node "$2" "$(cat "$R/$2/port")"
        [[ ! -f $ENV_FILE ]] || write_env
        log "$2: running on port $(cat "$R/$2/port")"
        ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
