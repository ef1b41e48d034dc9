#!/usr/bin/env bash
# Starts and stops the Kerberos test rig: a throwaway MIT KDC on loopback and a PostgreSQL 15
# (Debian's is built with GSSAPI) that authenticates with gss and offers GSSAPI encryption.
#
#   scripts/test-kerberos.sh start   (re)create the realm, principals, keytab, ccache, server
#   scripts/test-kerberos.sh stop    stop the server and the KDC, remove krb-env (safe to repeat)
#   scripts/test-kerberos.sh check   psql 15 (libpq, built with GSSAPI) proves the rig
#
# Everything lives in $PGTLS_TEST_DIR (default /tmp/pgtls-test); /etc/krb5.conf is never read
# or written (KRB5_CONFIG and KRB5_KDC_PROFILE point into the test directory):
#   krb/krb5.conf, krb/kdc.conf   client and KDC profiles (realm PGTLS.TEST, KDC on 127.0.0.1)
#   krb/principal*, krb/stash     the KDC database
#   krb/server.keytab             postgres/localhost@PGTLS.TEST, read by the server
#   krb/ccache                    a TGT for test1@PGTLS.TEST (kinit at start)
#   pg15krb/                      the server (as scripts/test-servers.sh lays out a server)
#   krb-env                       KEY=VALUE lines for the tests (below)
# Clients connect with host=localhost hostaddr=127.0.0.1 (the service principal's host name).
# pg_hba.conf, user test1 (include_realm=0):
#   database gssonly  hostgssenc   gss   (needs GSSAPI encryption)
#   database nogss    hostnogssenc gss   (gss authentication without GSSAPI encryption)
#   pgtls, postgres   host         gss   (either)
#   scramuser         host         scram-sha-256 (password scram-secret)
# Must run as root (the server runs as user postgres).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-test}
# shellcheck disable=SC2034  # PKI and RIG_NAME are read by lib/pg-rig.sh
PKI=$DIR/pki
K=$DIR/krb
SRV=$DIR/pg15krb
ENV_FILE=$DIR/krb-env
PG15_BIN=${PGTLS_PG15_BIN:-/usr/lib/postgresql/15/bin}
REALM=PGTLS.TEST
HOST=localhost
USER_PRINC=test1
USER_PASSWORD=krb-secret
# shellcheck disable=SC2034
RIG_NAME=test-kerberos
# shellcheck source=lib/pg-rig.sh
. "$ROOT/scripts/lib/pg-rig.sh"

export KRB5_CONFIG=$K/krb5.conf KRB5_KDC_PROFILE=$K/kdc.conf KRB5CCNAME=FILE:$K/ccache

need_tools() {
    local t
    for t in krb5kdc kdb5_util kadmin.local kinit; do
        command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh (krb5-kdc, krb5-admin-server, krb5-user)"
    done
}

write_profiles() { # KDC_PORT
    cat >"$K/krb5.conf" <<CONF
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    forwardable = true
[realms]
    $REALM = {
        kdc = 127.0.0.1:$1
    }
[domain_realm]
    $HOST = $REALM
CONF
    cat >"$K/kdc.conf" <<CONF
[kdcdefaults]
    kdc_ports = $1
    kdc_tcp_ports = $1
[realms]
    $REALM = {
        database_name = $K/principal
        admin_keytab = FILE:$K/kadm5.keytab
        acl_file = $K/kadm5.acl
        key_stash_file = $K/stash
    }
[logging]
    kdc = FILE:$K/krb5kdc.log
CONF
    chmod 0644 "$K/krb5.conf" "$K/kdc.conf"
}

kdc_running() { [[ -f $K/krb5kdc.pid ]] && kill -0 "$(cat "$K/krb5kdc.pid")" 2>/dev/null; }

start_kdc() {
    local port
    port=$(pick_port)
    write_profiles "$port"
    kdb5_util create -s -r "$REALM" -P "kdc-master-secret" >"$K/kdb5_util.log" 2>&1 ||
        { cat "$K/kdb5_util.log" >&2; die "kdb5_util create failed"; }
    kadmin.local -q "addprinc -pw $USER_PASSWORD $USER_PRINC" >"$K/kadmin.log" 2>&1
    kadmin.local -q "addprinc -randkey postgres/$HOST" >>"$K/kadmin.log" 2>&1
    kadmin.local -q "ktadd -k $K/server.keytab postgres/$HOST" >>"$K/kadmin.log" 2>&1 ||
        { cat "$K/kadmin.log" >&2; die "kadmin.local failed"; }
    chown postgres: "$K/server.keytab"
    chmod 0600 "$K/server.keytab"
    krb5kdc -P "$K/krb5kdc.pid" 9>&- || die "krb5kdc did not start (log: $K/krb5kdc.log)"
    echo "$port" >"$K/port"
    local i
    for ((i = 0; i < 50; i++)); do
        echo "$USER_PASSWORD" | kinit "$USER_PRINC" >"$K/kinit.log" 2>&1 && { log "KDC: $REALM on 127.0.0.1:$port"; return 0; }
        sleep 0.2
    done
    cat "$K/kinit.log" >&2
    die "kinit against the new KDC failed"
}

stop_kdc() {
    if kdc_running; then
        kill "$(cat "$K/krb5kdc.pid")"
        local i
        for ((i = 0; i < 50; i++)); do kdc_running || break; sleep 0.1; done
    fi
    rm -f "$K/krb5kdc.pid"
}

write_hba() {
    local a=127.0.0.1/32
    cat >"$SRV/data/pg_hba.conf" <<HBA
# Written by scripts/test-kerberos.sh
local all all trust
hostgssenc gssonly $USER_PRINC $a gss include_realm=0
hostnogssenc nogss $USER_PRINC $a gss include_realm=0
host pgtls,postgres $USER_PRINC $a gss include_realm=0
host all scramuser $a scram-sha-256
HBA
    chown postgres: "$SRV/data/pg_hba.conf"
}

start_server() {
    # shellcheck disable=SC2317  # called through pg_start
    conf() { pg_write_conf "$SRV" "$1" on "krb_server_keyfile = '$K/server.keytab'"; }
    pg_prepare_dir "$SRV"
    pg_initdb "$PG15_BIN" "$SRV"
    write_hba
    pg_start "$PG15_BIN" "$SRV" "$(pick_port)" conf
    as_pg "$PG15_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SRV/socket" -p "$(cat "$SRV/port")" -U postgres -d postgres \
        >/dev/null <<SQL
SET client_min_messages = error;
CREATE ROLE $USER_PRINC LOGIN;
CREATE ROLE scramuser LOGIN PASSWORD 'scram-secret';
CREATE DATABASE pgtls;
CREATE DATABASE gssonly;
CREATE DATABASE nogss;
SQL
    log "pg15krb: port $(cat "$SRV/port")"
}

write_env() {
    {
        echo "PGTLS_KRB_PORT=$(cat "$SRV/port")"
        echo "PGTLS_KRB_HOST=$HOST"
        echo "PGTLS_KRB_HOSTADDR=127.0.0.1"
        echo "PGTLS_KRB_SOCKET_DIR=$SRV/socket"
        echo "PGTLS_KRB_REALM=$REALM"
        echo "PGTLS_KRB_USER=$USER_PRINC"
        echo "PGTLS_KRB_USER_PASSWORD=$USER_PASSWORD"
        echo "PGTLS_KRB_KDC_PORT=$(cat "$K/port")"
        echo "PGTLS_KRB_LOG=$SRV/server.log"
        echo "KRB5_CONFIG=$K/krb5.conf"
        echo "KRB5CCNAME=FILE:$K/ccache"
    } >"$ENV_FILE.tmp"
    chmod 0644 "$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

cmd_stop() {
    rm -f "$ENV_FILE"
    pg_stop "$PG15_BIN" "$SRV"
    stop_kdc
    log "stopped"
}

cmd_start() {
    need_tools
    cmd_stop >/dev/null
    rm -rf "$K" "$SRV"
    mkdir -p "$K"
    chmod 0755 "$K"
    make_pki
    start_kdc
    start_server
    write_env
    log "env: $ENV_FILE"
}

# Proves the rig with psql 15 (libpq built with GSSAPI), independent of pgtls.
cmd_check() {
    [[ -f $ENV_FILE ]] || die "rig not running: run '$0 start' first"
    local port failed=0 count=0
    port=$(cat "$SRV/port")
    expect() { # expect ok|fail DESCRIPTION CONNINFO
        local want=$1 got out
        count=$((count + 1))
        if out=$(PGCONNECT_TIMEOUT=10 "$PG15_BIN/psql" -X -At -w -c 'select 1' "$3" 2>&1); then got=ok; else got=fail; fi
        if [[ $got != "$want" ]]; then
            failed=$((failed + 1))
            echo "check: $2: expected $want, got $got: ${out//$'\n'/ }" >&2
        fi
    }
    local base="host=$HOST hostaddr=127.0.0.1 port=$port user=$USER_PRINC"
    expect ok gssenc "$base dbname=gssonly gssencmode=require"
    expect fail gssonly-without-gssenc "$base dbname=gssonly gssencmode=disable"
    expect fail gssenc-required-by-nogss "$base dbname=nogss gssencmode=require"
    expect ok gssenc-prefer-falls-back "$base dbname=nogss gssencmode=prefer"
    expect ok gss-auth-no-enc "$base dbname=nogss gssencmode=disable"
    expect ok gss-auth-over-tls "$base dbname=pgtls gssencmode=disable sslmode=require"
    expect fail wrong-service "$base dbname=pgtls gssencmode=disable krbsrvname=nosuch"
    KRB5CCNAME=FILE:$K/none expect fail no-ccache "$base dbname=pgtls gssencmode=prefer"
    echo "check: $((count - failed)) passed, $failed failed"
    ((failed == 0))
}

rig_prologue

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    check) cmd_check ;;
    *) die "usage: $0 start|stop|check" ;;
esac
