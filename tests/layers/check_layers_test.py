#!/usr/bin/env python3
"""The layering check (scripts/check-layers.py): the real tree follows src/meson.build's graph,
and a fixture tree with an upward include, a sideways include, a front-end header in the
protocol layer and a directory outside the graph fails with one line for each."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
checker = os.path.join(root, "scripts", "check-layers.py")
failures = []


def run(*args):
    p = subprocess.run([sys.executable, checker, *args], capture_output=True, text=True)
    return p.returncode, p.stdout


code, out = run("--src", os.path.join(root, "src"))
if code != 0:
    failures.append(f"the tree breaks its own layering:\n{out}")

code, out = run("--src", os.path.join(here, "wrong_tree", "src"))
expected = [
    "protocol/wrong.cpp:2: protocol may not include transport/socket.hpp: transport is not below it",
    "protocol/wrong.cpp:3: protocol may not include the front-end header pgtls/client.hpp",
    "tls/upward.hpp:1: tls may not include protocol/flow.hpp: protocol is not below it",
    "src/stray: directory is not a layer",
]
if code != 1:
    failures.append(f"wrong_tree: exit status {code}, expected 1")
for e in expected:
    if e not in out:
        failures.append(f"wrong_tree: missing {e!r} in:\n{out}")
if "allowed.cpp" in out:
    failures.append(f"wrong_tree: allowed.cpp flagged:\n{out}")
if len(out.strip().splitlines()) != len(expected):
    failures.append(f"wrong_tree: {len(out.strip().splitlines())} lines, expected {len(expected)}:\n{out}")

for f in failures:
    print("FAIL:", f)
print("layers: ok" if not failures else f"layers: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
