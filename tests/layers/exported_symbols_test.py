#!/usr/bin/env python3
"""The shared library's ABI is its public API: `nm -D` of libpgtls.so shows no symbol of an
internal namespace (pgtls::tls, auth, protocol, crypto, transport, config, cli), and does show
the public entry points (so an empty export list cannot pass).

  exported_symbols_test.py LIBPGTLS_SO"""
import re
import subprocess
import sys

INTERNAL = ("tls", "auth", "protocol", "crypto", "transport", "config", "client", "cli")
MUST_EXPORT = ["pgtls::Client::Client(", "pgtls::Error::", "pgtls::version()", "pgtls::tls_backends()",
               "pgtls::parse_conninfo(", "pgtls::AsyncConnection::", "pgtls::Result::"]

lib = sys.argv[1]
out = subprocess.run(["nm", "-D", "--defined-only", "-C", lib], capture_output=True, text=True, check=True).stdout
symbols = [line.split(" ", 2)[2] for line in out.splitlines() if line.count(" ") >= 2]
internal = re.compile(r"\bpgtls::(%s)::" % "|".join(INTERNAL))
leaks = [s for s in symbols if internal.search(s)]
missing = [m for m in MUST_EXPORT if not any(m in s for s in symbols)]
pgtls_symbols = [s for s in symbols if "pgtls::" in s]
for s in leaks[:50]:
    print("internal symbol exported:", s)
if len(leaks) > 50:
    print(f"... and {len(leaks) - 50} more")
for m in missing:
    print("public symbol not exported:", m)
print(f"exported: {len(symbols)} symbols, {len(pgtls_symbols)} naming pgtls, {len(leaks)} internal")
sys.exit(1 if leaks or missing else 0)
