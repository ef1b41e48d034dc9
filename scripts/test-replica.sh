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
RIG_NAME=test-replica
# shellcheck source=lib/pg-rig.sh
. "$ROOT/scripts/lib/pg-rig.sh"

is_running() { pg_is_running "$BIN" "$R/$1"; }
psql_on() { # NODE SQL...
    local node=$1
    shift
    as_pg "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$R/$node/socket" -p "$(cat "$R/$node/port")" \
        -U postgres -d postgres "$@"
}

write_conf_of() { # NODE PORT
    pg_write_conf "$R/$1" "$2" on "max_connections = 100
wal_level = replica
max_wal_senders = 5
hot_standby = on
wal_receiver_status_interval = 1s"
}

write_hba() {
    local f=$1
    {
        echo "# Written by scripts/test-replica.sh"
        echo "local replication postgres trust"
        echo "local all all trust"
        pg_hba_host_lines on
    } >"$f"
    chown postgres: "$f"
}

start_node() { # NODE PORT
    local node=$1
    # shellcheck disable=SC2317  # called through pg_start
    conf() { write_conf_of "$node" "$1"; }
    pg_start "$BIN" "$R/$node" "$2" conf
}

stop_node() { pg_stop "$BIN" "$R/$1"; }

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
    make_pki
    # Primary.
    pg_prepare_dir "$R/primary"
    pg_initdb "$BIN" "$R/primary"
    write_hba "$R/primary/data/pg_hba.conf"
    start_node primary "$(pick_port)"
    pg_roles_sql | PGCLIENTENCODING=UTF8 psql_on primary >/dev/null
    # Standby: a base backup of the primary with standby.signal and primary_conninfo (-R).
    pg_prepare_dir "$R/standby"
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

rig_prologue

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
