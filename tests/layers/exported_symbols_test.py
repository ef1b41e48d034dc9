#!/usr/bin/env python3
"""The shared library's ABI is its public API: `nm -D` of libpgtls.so shows no symbol of an
internal namespace (pgtls::tls, auth, protocol, crypto, transport, config, client, cli), and
does show the public entry points (so an empty export list cannot pass).

A symbol belongs to the namespace of its own name, not of its template arguments: with clang,
libstdc++'s namespace std carries explicit default visibility, so std iterator operators
instantiated over an internal type are exported whatever our visibility says (GCC hides them).
Those are counted and shown, not failed.

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
PREFIXES = ("typeinfo name for ", "typeinfo for ", "vtable for ", "VTT for ", "guard variable for ",
            "construction vtable for ", "non-virtual thunk to ", "virtual thunk to ")


def own_name(symbol):
    """The symbol's qualified name with template arguments and parameters removed."""
    for p in PREFIXES:
        if symbol.startswith(p):
            symbol = symbol[len(p):]
    out, depth = [], 0
    for ch in symbol:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


leaks = [s for s in symbols if internal.search(own_name(s))]
std_over_internal = [s for s in symbols if s not in leaks and internal.search(s)]
missing = [m for m in MUST_EXPORT if not any(m in s for s in symbols)]
pgtls_symbols = [s for s in symbols if "pgtls::" in s]
for s in leaks[:50]:
    print("internal symbol exported:", s)
if len(leaks) > 50:
    print(f"... and {len(leaks) - 50} more")
for m in missing:
    print("public symbol not exported:", m)
for s in std_over_internal[:5]:
    print("note: a std instantiation over an internal type:", s[:160])
print(f"exported: {len(symbols)} symbols, {len(pgtls_symbols)} naming pgtls, {len(leaks)} internal, "
      f"{len(std_over_internal)} std instantiations over internal types")
sys.exit(1 if leaks or missing else 0)
