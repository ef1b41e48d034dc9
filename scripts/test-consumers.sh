#!/usr/bin/env bash
# Builds the consumer projects of tests/consumers/ out of tree, the ways an application uses
# pgtls, and runs each program against the running test servers over TLS (verify-full, SCRAM):
#   - pkg-config + a plain compiler, against an installed prefix: shared, and static
#     (`pkg-config --static`);
#   - Meson `dependency('pgtls')` against the installed prefix (shared, static), and as a
#     subproject fallback with default_library=static and =shared (which also proves a
#     subproject builds no tests/tools, installs nothing and takes the parent's choice of
#     backend: OpenSSL alone);
#   - CMake `find_package(pgtls CONFIG)`: shared, and static (pgtls_USE_STATIC_LIBS=ON).
# The installed prefix comes from a library-only build (default_library=both).
#
#   scripts/test-consumers.sh      needs $PGTLS_TEST_DIR/env (scripts/test-servers.sh start)
# Prints "consumers: N passed, N failed"; exit status 0 only when every consumer passed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_DIR=${PGTLS_TEST_DIR:-/tmp/pgtls-test}
WORK=${PGTLS_CONSUMER_DIR:-/tmp/pgtls-consumers}
[[ -f $TEST_DIR/env ]] || { echo "test-consumers: no $TEST_DIR/env: start the test servers first" >&2; exit 2; }
set -a; . "$TEST_DIR/env"; set +a
for tool in cmake pkg-config meson; do
    command -v "$tool" >/dev/null || { echo "test-consumers: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done

CONNINFO="host=localhost port=$PGTLS_PG18_PORT dbname=pgtls user=scramuser password=scram-secret sslmode=verify-full sslrootcert=$PGTLS_TEST_PKI/ca.crt"
PREFIX=$WORK/prefix
LIBDIR=lib/$(gcc -print-multiarch 2>/dev/null || true)
rm -rf "$WORK"
mkdir -p "$WORK"
passed=0 failed=0
t0=$SECONDS

run() {  # name, command...: builds (and runs) one consumer; a failure is counted, not fatal
    local name=$1; shift
    if (set -e; "$@") >"$WORK/$name.log" 2>&1; then
        passed=$((passed + 1)); echo "consumer $name: ok ($(tail -n 1 "$WORK/$name.log")) at $((SECONDS - t0)) s"
    else
        failed=$((failed + 1)); echo "consumer $name: FAILED"; tail -n 30 "$WORK/$name.log"
    fi
}
check_linkage() {  # binary, static|shared
    if ldd "$1" | grep -q 'libpgtls\.so'; then [[ $2 == shared ]]; else [[ $2 == static ]]; fi
}

echo "== consumers: install a library-only build into $PREFIX"
# Without wolfSSL: a static program cannot link static OpenSSL and static wolfSSL together
# (libwolfssl.a exports a few OpenSSL names unprefixed, e.g. SSL_SESSION_set1_id); shared
# builds with all four are fine (OpenSSL's symbols are versioned). See src/backends/wolfssl/README.md.
# The build tree sits in the repository beside build-test, with scripts/test.sh's -Dwerror=true,
# so that its compile commands are the same as the full build's and ccache serves them (only
# what includes the generated backend list compiles again).
lib_build=$ROOT/build-consumer-lib
rm -rf "$lib_build"
meson setup "$lib_build" "$ROOT" -Dwerror=true --wrap-mode=nodownload -Ddefault_library=both -Dprefix="$PREFIX" \
    -Dwolfssl=disabled -Dtests=false -Dtools=false -Dexamples=false -Dbench=disabled >"$WORK/lib-setup.log"
ninja -C "$lib_build" -j "$(nproc)" >"$WORK/lib-build.log"
meson install -C "$lib_build" --quiet >"$WORK/lib-install.log"
echo "consumers: library built and installed ($((SECONDS - t0)) s)"
export PKG_CONFIG_PATH=$PREFIX/$LIBDIR/pkgconfig
export LD_LIBRARY_PATH=$PREFIX/$LIBDIR

pkgconfig_plain() {  # shared|static
    local out=$WORK/plain-$1 libs
    libs=$(pkg-config --libs pgtls)
    # --static adds the backends' libraries; -l:libpgtls.a takes the archive over the .so.
    [[ $1 == static ]] && libs=$(pkg-config --static --libs pgtls | sed 's/-lpgtls\b/-l:libpgtls.a/')
    # shellcheck disable=SC2046,SC2086  # the flags are words
    g++ -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags pgtls) "$ROOT/tests/consumers/app.cpp" -o "$out" $libs
    check_linkage "$out" "$1"
    "$out" "$CONNINFO"
}
meson_installed() {  # shared|static
    local b=$WORK/meson-installed-$1
    meson setup "$b" "$ROOT/tests/consumers/meson" --wrap-mode=nofallback -Dstatic=$([[ $1 == static ]] && echo true || echo false)
    ninja -C "$b"
    check_linkage "$b/consumer_app" "$1"
    "$b/consumer_app" "$CONNINFO"
}
meson_subproject() {  # shared|static
    # One source tree for both builds, their build trees side by side: the subproject's layers
    # are static libraries either way, so the second build's compile commands are the first's
    # and ccache serves them.
    local src=$WORK/meson-sub-src b=$WORK/meson-sub-$1
    # The installed prefix's library must not stand in for the subproject's: LD_LIBRARY_PATH
    # (set above for the installed consumers) outranks the build tree's RUNPATH.
    unset LD_LIBRARY_PATH
    if [[ ! -d $src ]]; then
        mkdir -p "$src/subprojects/pgtls"
        cp "$ROOT"/tests/consumers/meson/meson{.build,_options.txt} "$src/"
        cp "$ROOT/tests/consumers/app.cpp" "$WORK/"
        # The subproject is this tree's tracked and new files (build trees excluded).
        (cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf -) | tar -xf - -C "$src/subprojects/pgtls"
        sed -i "s|'../app.cpp'|'$WORK/app.cpp'|" "$src/meson.build"
    fi
    PKG_CONFIG_PATH= meson setup "$b" "$src" --wrap-mode=forcefallback -Ddefault_library="$1" -Dprefix="$WORK/sub-prefix-$1"
    ninja -C "$b"
    check_linkage "$b/consumer_app" "$1"
    # Negative checks are `if`s: errexit ignores the failure of a negated command (`! cmd`).
    if [[ $1 == shared ]] && ! ldd "$b/consumer_app" | grep -q "$b/subprojects/pgtls/libpgtls\.so"; then
        echo "the program does not load the subproject's own libpgtls"; return 1
    fi
    # The parent's default_options chose OpenSSL alone: no other TLS stack is linked.
    if ldd "$b/consumer_app" | grep -E 'lib(gnutls|mbedtls|mbedx509|wolfssl)'; then
        echo "the subproject linked a TLS stack its parent disabled"; return 1
    fi
    # A subproject builds no tests, tools, examples or benchmarks, and installs nothing.
    if ninja -C "$b" -t targets all | grep -E '^(subprojects/pgtls/)?(tests|tools|examples|bench)/'; then
        echo "the subproject builds targets a parent never asked for"; return 1
    fi
    meson install -C "$b" --quiet
    [[ ! -e $WORK/sub-prefix-$1 ]] || [[ -z $(find "$WORK/sub-prefix-$1" -type f) ]]
    "$b/consumer_app" "$CONNINFO"
}
cmake_package() {  # shared|static
    local b=$WORK/cmake-$1
    cmake -S "$ROOT/tests/consumers/cmake" -B "$b" -DCMAKE_PREFIX_PATH="$PREFIX" \
        -Dpgtls_USE_STATIC_LIBS=$([[ $1 == static ]] && echo ON || echo OFF)
    cmake --build "$b"
    check_linkage "$b/consumer_app" "$1"
    "$b/consumer_app" "$CONNINFO"
}

for kind in shared static; do
    run "pkg-config-$kind" pkgconfig_plain "$kind"
    run "meson-installed-$kind" meson_installed "$kind"
    run "cmake-$kind" cmake_package "$kind"
    run "meson-subproject-$kind" meson_subproject "$kind"
done
echo "test-consumers: took $((SECONDS - t0)) s"
echo "consumers: $passed passed, $failed failed"
((failed == 0))
