#!/usr/bin/env bash
# Footprint of a small client program (connect with verify-full + SCRAM, one query with a
# parameter: tests/consumers/app.cpp, and bench/footprint/libpq_app.c for libpq), per
# single-backend pgtls build (buildtype=minsize, static, stripped) against the same program
# on static libpq + OpenSSL. Prints a table of stripped sizes, with each TLS library's floor:
# bench/footprint/tls_floor_<library>.c, a program that only does a verified TLS handshake
# with that library, linked the same way; what a pgtls program weighs above it is pgtls's.
# The memory of idle connections is bench/pgtls_bench's W8 (scripts/bench.sh), and its split
# and floor bench/footprint/idle_memory.cpp.
#
#   scripts/footprint.sh          needs scripts/install-deps.sh and postgresql-server-dev-15
#                                 (libpgcommon.a/libpgport.a for a static libpq)
# Environment: FOOTPRINT_DIR (default /tmp/pgtls-footprint).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
W=${FOOTPRINT_DIR:-/tmp/pgtls-footprint}
rm -rf "$W" && mkdir -p "$W"
arch=$(gcc -print-multiarch)
size() { stat -c %s "$1"; }

# libpq: static libpq, libpgcommon, libpgport, libssl, libcrypto; Debian's libpq also needs
# GSSAPI and LDAP, which exist only as shared libraries (not counted in the size).
gcc -Os -I"$(pg_config --includedir)" "$ROOT/bench/footprint/libpq_app.c" -o "$W/libpq_app" \
    -Wl,-Bstatic -lpq -L/usr/lib/postgresql/15/lib -lpgcommon -lpgport -lssl -lcrypto \
    -Wl,-Bdynamic -lgssapi_krb5 -lldap -lpthread -lm
strip "$W/libpq_app"
base=$(size "$W/libpq_app")
printf '| program | stripped size | vs libpq | TLS-only floor | above the floor | with static libstdc++ | shared libraries left |\n|---|---|---|---|---|---|---|\n'
printf '| libpq 15 + OpenSSL 3.0 (static) | %d | 1.00 | – | – | – | %s |\n' "$base" \
    "$(ldd "$W/libpq_app" | awk '{print $1}' | grep -v -e vdso -e ld-linux | sed 's/\.so.*//' | tr '\n' ' ')"

for b in openssl gnutls mbedtls; do
    opts=(-Dopenssl=disabled -Dgnutls=disabled -Dmbedtls=disabled "-D$b=enabled")
    meson setup "$W/lib-$b" "$ROOT" --wrap-mode=nodownload -Dbuildtype=minsize -Db_ndebug=true \
        -Ddefault_library=static "${opts[@]}" -Dtests=false -Dtools=false -Dexamples=false \
        -Dbench=disabled -Dprefix="$W/prefix-$b" >"$W/setup-$b.log"
    ninja -C "$W/lib-$b" -j "$(nproc)" >"$W/build-$b.log"
    meson install -C "$W/lib-$b" --quiet >/dev/null
    P=$W/prefix-$b
    case $b in
        openssl) tls=(-Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic) ;;
        gnutls) tls=(-Wl,-Bstatic -lgnutls -lhogweed -lnettle -lgmp -ltasn1 -lidn2 -Wl,-Bdynamic -lunistring -lp11-kit) ;;
        mbedtls) tls=(-Wl,-Bstatic -lmbedtls -lmbedx509 -lmbedcrypto -Wl,-Bdynamic) ;;
    esac
    for mode in shared-libstdc++ static-libstdc++; do
        extra=()
        [[ $mode == static-libstdc++ ]] && extra=(-static-libstdc++ -static-libgcc)
        g++ -std=c++20 -Os -DNDEBUG -I"$P/include" "$ROOT/tests/consumers/app.cpp" -o "$W/app-$b-$mode" \
            -L"$P/lib/$arch" -l:libpgtls.a "${tls[@]}" -pthread -Wl,--gc-sections "${extra[@]}"
        strip "$W/app-$b-$mode"
    done
    gcc -Os -I"$ROOT/bench/footprint" "$ROOT/bench/footprint/tls_floor_$b.c" -o "$W/tls-floor-$b" \
        "${tls[@]}" -pthread -Wl,--gc-sections
    strip "$W/tls-floor-$b"
    s=$(size "$W/app-$b-shared-libstdc++")
    floor=$(size "$W/tls-floor-$b")
    printf '| pgtls %s (static) | %d | %.2f | %d | %d | %d | %s |\n' "$b" "$s" "$(echo "$s / $base" | bc -l)" \
        "$floor" "$((s - floor))" "$(size "$W/app-$b-static-libstdc++")" \
        "$(ldd "$W/app-$b-shared-libstdc++" | awk '{print $1}' | grep -v -e vdso -e ld-linux | sed 's/\.so.*//' | tr '\n' ' ')"
done
