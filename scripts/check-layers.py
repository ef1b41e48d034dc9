#!/usr/bin/env python3
"""Fails when a source file under src/ includes a header across an undeclared layer edge.

The layer graph is read from src/meson.build (`layer_graph`), the same graph the build links
by: a layer may include its own headers and those of the layers it reaches through its
declared dependencies, never one above or beside it. Public front-end headers (the blocking
Client, the pool, the async and Asio APIs) may only be included by the layers that implement
them: a protocol algorithm that includes pgtls/client.hpp would tie the sans-I/O engine to
one driver. Every directory under src/ must be a layer of the graph.

  check-layers.py [--src DIR] [--graph FILE]      (defaults: the repository's src/)
Exit status 0 when clean, 1 with one line per violation ("file:line: ..."), 2 on bad usage.
"""
import argparse
import os
import re
import sys

# Public headers that are an API front end, and the layers allowed to include them.
FRONT_ENDS = {
    "pgtls/client.hpp": {"client", "pool"},
    "pgtls/async.hpp": {"client", "pool"},
    "pgtls/asio.hpp": {"client", "pool"},
    "pgtls/pool.hpp": {"pool"},
    "pgtls/async_pool.hpp": {"pool"},
    "pgtls/asio_pool.hpp": {"pool"},
    "pgtls/pgtls.hpp": set(),
}
# Headers the build generates, and who may include them (None: every layer).
GENERATED = {"pgtls_gssapi_config.h": None, "backends/pgtls_backends_config.h": {"backends"}}

ENTRY = re.compile(r"'(\w+)':\s*\[\s*[\w.]+\s*,\s*(?:\[[^\]]*\]|\w+)\s*,\s*\[([^\]]*)\]\s*\]", re.S)
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def read_graph(path):
    text = open(path, encoding="utf-8").read()
    start = text.find("layer_graph = {")
    if start < 0:
        sys.exit(f"check-layers: no layer_graph in {path}")
    body = text[start:text.index("\n}", start)]
    graph = {name: re.findall(r"'(\w+)'", deps) for name, deps in ENTRY.findall(body)}
    if not graph:
        sys.exit(f"check-layers: layer_graph in {path} has no entries")
    for name, deps in graph.items():
        for d in deps:
            if d not in graph:
                sys.exit(f"check-layers: layer {name} depends on unknown layer {d}")
    return graph


def reachable(graph):
    closure = {}
    for name in graph:
        seen, todo = {name}, list(graph[name])
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(graph[d])
        closure[name] = seen
    return closure


def check(src, graph):
    allowed = reachable(graph)
    problems = []
    for entry in sorted(os.listdir(src)):
        if os.path.isdir(os.path.join(src, entry)) and entry not in graph:
            problems.append(f"{os.path.join(src, entry)}: directory is not a layer of src/meson.build's layer_graph")
    for layer in sorted(graph):
        root = os.path.join(src, layer)
        for dirpath, _, files in os.walk(root):
            for f in sorted(files):
                if not f.endswith((".cpp", ".hpp", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for n, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if m:
                            why = verdict(layer, m.group(1), dirpath, allowed, graph)
                            if why:
                                problems.append(f"{path}:{n}: {why}")
    return problems


def verdict(layer, inc, dirpath, allowed, graph):
    if inc in GENERATED:
        who = GENERATED[inc]
        return None if who is None or layer in who else f"{layer} may not include generated {inc}"
    if inc.startswith("pgtls/"):
        who = FRONT_ENDS.get(inc)
        if who is not None and layer not in who:
            return f"{layer} may not include the front-end header {inc} (only: {', '.join(sorted(who)) or 'none'})"
        return None
    if os.path.exists(os.path.join(dirpath, inc)) and "/" not in inc:
        return None  # a sibling in the same directory
    top = inc.split("/", 1)[0]
    if top not in graph:
        return f"{layer} includes {inc}, which is not a layer header (src/<layer>/...)"
    if top not in allowed[layer]:
        uses = ", ".join(sorted(allowed[layer] - {layer})) or "nothing"
        return f"{layer} may not include {inc}: {top} is not below it (it may use: {uses})"
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=os.path.join(here, "..", "src"))
    ap.add_argument("--graph", default=None, help="the meson.build holding layer_graph (default: SRC/meson.build)")
    args = ap.parse_args()
    graph = read_graph(args.graph or os.path.join(args.src, "meson.build"))
    problems = check(args.src, graph)
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} include(s) across undeclared layer edges", file=sys.stderr)
        return 1
    print(f"check-layers: {len(graph)} layers, every include follows the graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
