#!/usr/bin/env bash
# The first thing to run: on a fresh Debian 12 machine, as root,
#
#   scripts/demo.sh
#
# installs what is missing (scripts/install-deps.sh), builds pgtls with OpenSSL, GnuTLS and
# mbedTLS in build-demo/, starts a throwaway PostgreSQL 18 with TLS and a client-certificate
# PKI (scripts/test-servers.sh, pg18 only, in $PGTLS_DEMO_DIR), connects with every backend
# using classic and direct TLS negotiation, SCRAM with channel binding and a client
# certificate (`pgtls ping --json`), prints one table, then stops the server. Nothing is left
# running, also on failure or Ctrl-C; running it again reuses the build and the PKI.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PGTLS_DEMO_BUILD:-$ROOT/build-demo}
export PGTLS_TEST_DIR=${PGTLS_DEMO_DIR:-/tmp/pgtls-demo}
export PGTLS_TEST_SERVERS=pg18
BACKENDS=(openssl gnutls mbedtls wolfssl)

log() { echo "demo: $*" >&2; }
die() { echo "demo: error: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (installs packages, runs PostgreSQL as user postgres)"

start=$(date +%s)
log "installing missing packages (log: /tmp/pgtls-demo-install.log)"
"$ROOT/scripts/install-deps.sh" >/tmp/pgtls-demo-install.log 2>&1 ||
    { tail -n 20 /tmp/pgtls-demo-install.log >&2; die "scripts/install-deps.sh failed"; }

log "building pgtls with ${BACKENDS[*]} in $BUILD"
opts=(-Dopenssl=enabled -Dgnutls=enabled -Dmbedtls=enabled -Dwolfssl=enabled -Dtests=false -Dexamples=false -Dbench=disabled)
if [[ -f $BUILD/build.ninja ]]; then
    meson configure "$BUILD" "${opts[@]}" >/dev/null
else
    meson setup "$BUILD" "$ROOT" "${opts[@]}" >/tmp/pgtls-demo-build.log 2>&1 ||
        { tail -n 20 /tmp/pgtls-demo-build.log >&2; die "meson setup failed"; }
fi
ninja -C "$BUILD" tools/pgtls >>/tmp/pgtls-demo-build.log 2>&1 ||
    { tail -n 30 /tmp/pgtls-demo-build.log >&2; die "build failed (log: /tmp/pgtls-demo-build.log)"; }
PGTLS=$BUILD/tools/pgtls

stop_server() { "$ROOT/scripts/test-servers.sh" stop >/dev/null 2>&1 || true; }
trap stop_server EXIT
trap 'exit 130' INT TERM

log "starting PostgreSQL 18 with TLS in $PGTLS_TEST_DIR"
"$ROOT/scripts/test-servers.sh" start >/tmp/pgtls-demo-server.log 2>&1 ||
    { tail -n 20 /tmp/pgtls-demo-server.log >&2; die "could not start PostgreSQL 18"; }
# shellcheck disable=SC1091
source "$PGTLS_TEST_DIR/env"
PKI=$PGTLS_TEST_PKI
base="host=localhost port=$PGTLS_PG18_PORT dbname=pgtls sslmode=verify-full sslrootcert=$PKI/ca.crt"
scram="user=scramuser password=scram-secret channel_binding=require"
cert="user=certuser sslcert=$PKI/client.crt sslkey=$PKI/client.key"

results=$(mktemp)
trap 'rm -f "$results"; stop_server' EXIT
for backend in "${BACKENDS[@]}"; do
    for negotiation in postgres direct; do
        for who in scram cert; do
            ci="$base sslnegotiation=$negotiation ${!who}"
            if ! out=$("$PGTLS" ping --json --backend "$backend" "$ci" 2>&1); then
                out="{\"backend\":\"$backend\",\"negotiation\":\"$negotiation\",\"error\":$(printf '%s' "$out" |
                    python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')}"
            fi
            echo "$out" >>"$results"
        done
    done
done

status=0
python3 - "$results" <<'PY' || status=$?
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
head = ["backend", "negotiation", "TLS version", "cipher", "ALPN", "auth", "channel binding", "client cert", "connect ms"]
table = []
for r in rows:
    if "error" in r:
        table.append([r["backend"], r["negotiation"], "FAILED: " + r["error"], "", "", "", "", "", ""])
        continue
    # pg_hba `cert` accepts the certificate and asks for nothing: the client sees AuthenticationOk.
    auth = "client cert only" if r["auth_method"] == "trust" and r["client_cert_sent"] else r["auth_method"]
    table.append([r["backend"], r["negotiation"], r["tls_version"], r["cipher"], r["alpn"] or "-", auth,
                  "yes" if r["channel_binding"] else "no", "yes" if r["client_cert_sent"] else "no",
                  f'{r["timings_ms"]["connect_total"]:.1f}'])
w = [max(len(str(x[i])) for x in table + [head]) for i in range(len(head))]
line = lambda cells: " " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(cells)).rstrip()
print(line(head))
print("-" + "-+-".join("-" * x for x in w) + "-")
for t in table:
    print(line(t))
print(f"({len(table)} connections to PostgreSQL {rows[0].get('server_version', '18')})" if rows else "(none)")
sys.exit(1 if any("error" in r for r in rows) else 0)
PY
log "done in $(( $(date +%s) - start )) s; stopping the server"
exit $status
