# Shared by scripts/test-servers.sh, scripts/test-replica.sh and scripts/test-pgbouncer.sh
# (sourced, not run). The caller sets, before sourcing:
#   RIG_NAME  prefix of log lines ("test-servers")
#   DIR       $PGTLS_TEST_DIR, an absolute path
#   PKI       the PKI directory (normally $DIR/pki)
#   ROOT      the repository root
# A server directory D holds data/, socket/, tls/ (its copies of the PKI files), server.log
# and port (the port it last started on).

log() { echo "$RIG_NAME: $*"; }
die() { echo "$RIG_NAME: error: $*" >&2; exit 1; }

# Runs a command as postgres from a directory postgres can enter.
as_pg() { (cd "$DIR" && runuser -u postgres -- "$@" 9>&-); }

port_in_use() { [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]; }

# A port below the kernel's ephemeral range (32768+) that nothing uses right now.
pick_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port found"
}

# Makes the test PKI with scripts/make-pki.sh, or reuses the one made by the same script (it
# outlives `stop`; ~20 s to remake on 2 busy cores). Delete $PKI to force a new one.
make_pki() {
    local script=$ROOT/scripts/make-pki.sh stamp=$PKI/.made-by want f
    [[ -x $script ]] || die "scripts/make-pki.sh missing"
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

# pg_prepare_dir D: the directories and the server's own copies of its certificate, key and
# the client CA, owned by postgres.
pg_prepare_dir() {
    local d=$1
    mkdir -p "$d/data" "$d/socket" "$d/tls"
    install -m 0644 "$PKI/server.crt" "$d/tls/server.crt"
    install -m 0644 "$PKI/client-ca.crt" "$d/tls/client-ca.crt"
    install -m 0600 "$PKI/server.key" "$d/tls/server.key"
    chown -R postgres: "$d"
    chmod 0700 "$d/data"
}

# pg_write_conf D PORT SSL(on|off) [EXTRA LINES]: D/data/pgtls.conf, which postgresql.conf
# includes; rewritten at every start so a new port takes effect.
pg_write_conf() {
    local d=$1 port=$2 ssl=$3 extra=${4:-}
    cat >"$d/data/pgtls.conf" <<CONF
# Written by scripts/$RIG_NAME.sh; rewritten at every start.
listen_addresses = '127.0.0.1,::1'
port = $port
unix_socket_directories = '$d/socket'
fsync = off
synchronous_commit = off
password_encryption = 'scram-sha-256'
ssl = $ssl
ssl_cert_file = '$d/tls/server.crt'
ssl_key_file = '$d/tls/server.key'
ssl_ca_file = '$d/tls/client-ca.crt'
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d '
$extra
CONF
    chown postgres: "$d/data/pgtls.conf"
}

# pg_initdb BIN D: a new cluster in D/data that includes pgtls.conf.
pg_initdb() {
    local bin=$1 d=$2 locale=C.UTF-8
    locale -a 2>/dev/null | grep -qix 'c.utf-\?8' || locale=C
    as_pg "$bin/initdb" -D "$d/data" -U postgres -A trust -E UTF8 --locale="$locale" --no-sync \
        >"$d/initdb.log" 2>&1 || { cat "$d/initdb.log" >&2; die "initdb in $d failed"; }
    echo "include 'pgtls.conf'" >>"$d/data/postgresql.conf"
}

# pg_start BIN D PORT WRITE_CONF: pg_ctl start, retrying on a fresh port if another process took
# ours meanwhile. WRITE_CONF is called as `WRITE_CONF PORT` before each try. Writes D/port.
pg_start() {
    local bin=$1 d=$2 port=$3 write_conf=$4 try
    for try in 1 2 3 4 5; do
        "$write_conf" "$port"
        if as_pg "$bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 start </dev/null >/dev/null; then
            echo "$port" >"$d/port"
            return 0
        fi
        if grep -q 'Address already in use' "$d/server.log" 2>/dev/null && ((try < 5)); then
            port=$(pick_port)
            log "$d: port taken, retrying on $port"
            continue
        fi
        tail -n 20 "$d/server.log" >&2 || true
        die "server in $d did not start (log: $d/server.log)"
    done
}

pg_is_running() { # BIN D
    [[ -f $2/data/postmaster.pid ]] && as_pg "$1/pg_ctl" -D "$2/data" status >/dev/null 2>&1
}

# pg_stop BIN D: fast shutdown, immediate if that hangs; safe when not running.
pg_stop() {
    local bin=$1 d=$2
    [[ -f $d/data/postmaster.pid ]] || return 0
    if ! as_pg "$bin/pg_ctl" -D "$d/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
        as_pg "$bin/pg_ctl" -D "$d/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [[ -f $d/data/postmaster.pid ]] && pg_is_running "$bin" "$d"; then
        die "could not stop the server in $d/data"
    fi
    rm -f "$d/data/postmaster.pid"
}

# The users and databases every test server has (see the pg_hba.conf writers for how each
# may log in). Fed to psql as the postgres superuser.
pg_roles_sql() {
    cat <<'SQL'
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
SQL
}

# The pg_hba.conf lines for TCP connections shared by every server; hostssl lines only when
# SSL is on (they can never match otherwise, and PostgreSQL warns).
pg_hba_host_lines() { # SSL(on|off)
    local addr
    for addr in 127.0.0.1/32 ::1/128; do
        if [[ $1 == on ]]; then
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
}

# Checks shared by every script's entry point; takes the shared lock on $DIR.
rig_prologue() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (servers run as user postgres)"
    id postgres >/dev/null 2>&1 || die "user postgres missing: run scripts/install-deps.sh"
    [[ $DIR == /* && $DIR != *[[:space:]]* ]] || die "PGTLS_TEST_DIR must be an absolute path without spaces"
    mkdir -p "$DIR"
    chmod 0755 "$DIR"
    # One invocation at a time: concurrent start/stop would fight over the same directories,
    # and each may create the PKI.
    exec 9>"$DIR/.lock"
    flock -w 300 9 || die "another invocation holds $DIR/.lock"
}
