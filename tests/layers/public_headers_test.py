#!/usr/bin/env python3
"""Every public header compiles on its own, as an application includes it.

For each include/pgtls/*.hpp (and the generated pgtls/version.hpp), one translation unit holding
only `#include <pgtls/NAME>` is compiled with the include paths a consumer has (the public
headers, never src/ or the repository), -std=c++20 and -Wall -Wextra -Wpedantic -Werror: a header
that leans on something included before it, reaches into the library's internals, or warns
under -Wpedantic fails. The same TU compiled with -std=c++17 must stop at version.hpp's #error
first (every public header includes version.hpp before anything else), not with a page of
concept errors.

usage: public_headers_test.py SOURCE_INCLUDE_DIR BUILD_INCLUDE_DIR HAVE_ASIO COMPILER...
"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile

CXX20_ERROR = "pgtls needs C++20"


def compile_alone(compiler, include_dirs, header, std, extra):
    with tempfile.NamedTemporaryFile("w", suffix=".cpp", delete=False) as tu:
        tu.write(f"#include <pgtls/{header}>\n")
        path = tu.name
    try:
        cmd = compiler + [f"-std={std}", "-fsyntax-only", "-Wall", "-Wextra", "-Wpedantic",
                          "-Werror"] + extra + [f"-I{d}" for d in include_dirs] + [path]
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.returncode, r.stderr
    finally:
        os.unlink(path)


def main():
    src_inc, build_inc, have_asio = sys.argv[1], sys.argv[2], sys.argv[3] == "true"
    compiler = sys.argv[4:]
    headers = sorted(h for h in os.listdir(os.path.join(src_inc, "pgtls")) if h.endswith(".hpp"))
    headers += sorted(h for h in os.listdir(os.path.join(build_inc, "pgtls")) if h.endswith(".hpp"))
    headers += ["detail/" + h for h in sorted(os.listdir(os.path.join(src_inc, "pgtls", "detail")))
                if h.endswith(".hpp")]
    needs_asio = {"asio.hpp", "asio_pool.hpp", "detail/asio_pump.hpp"}
    include_dirs = [src_inc, build_inc]
    failures = []

    def check(header):
        if header in needs_asio and not have_asio:
            return header, None
        rc, err = compile_alone(compiler, include_dirs, header, "c++20", [])
        if rc != 0:
            return header, f"does not compile on its own with -std=c++20:\n{err}"
        rc, err = compile_alone(compiler, include_dirs, header, "c++17", ["-Wno-error"])
        first_error = next((line for line in err.splitlines() if ": error:" in line or ": fatal error:" in line), "")
        if rc == 0 or CXX20_ERROR not in first_error:
            return header, f"below C++20 the first error is not version.hpp's #error:\n{first_error or err}"
        return header, ""

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for header, problem in pool.map(check, headers):
            if problem is None:
                print(f"skip {header} (no Asio)")
            elif problem:
                failures.append(header)
                print(f"FAIL {header}: {problem}")
            else:
                print(f"ok   {header}")
    print(f"{len(headers) - len(failures)} of {len(headers)} public headers compile on their own")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
