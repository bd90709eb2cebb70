"""Print the import cycles left in harness/: what docs/architecture.md's table is made from.

    python tools/import_cycles.py

grimp (which import-linter brings) reads every import statement, those inside functions too, so
a cycle held apart only by a function-level import counts. Printed: the strongly connected
components of the module graph (each one is a set of modules that reach each other: one
"cycle" in docs/architecture.md), the same over harness's top-level packages, the imports that
grimp nominates to remove to make harness's children acyclic, and the number of function-level
imports of harness modules.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
from function_imports import ImportGraph  # tools/function_imports.py (this script's folder is sys.path[0])

ROOT = Path(__file__).resolve().parent.parent


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one node, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found, key=len, reverse=True)


def function_level_imports() -> int:
    """Counted by tools/function_imports.py, which also says which ones its rule allows."""
    return len(ImportGraph().function_imports())


def main() -> int:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("harness", cache_dir=None)
    modules = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = strongly_connected(modules)
    print(f"{len(modules)} modules, {sum(map(len, modules.values()))} imports between them")
    print(f"module cycles (strongly connected components): {len(cycles)}")
    for component in cycles:
        print(f"  {len(component)}: {', '.join(component)}")
    top = lambda name: ".".join(name.split(".")[:2])  # noqa: E731
    packages: dict[str, set[str]] = {}
    for module, imported in modules.items():
        packages.setdefault(top(module), set()).update(top(i) for i in imported if top(i) != top(module))
    package_cycles = strongly_connected(packages)
    print(f"cycles among harness's top-level modules and packages: {len(package_cycles)}")
    for component in package_cycles:
        print(f"  {len(component)}: {', '.join(c.removeprefix('harness.') for c in component)}")
    breakers = sorted(graph.nominate_cycle_breakers("harness"))
    print(f"imports to remove to make harness's children acyclic (grimp's nomination): {len(breakers)}")
    for importer, imported in breakers:
        print(f"  {importer} -> {imported}")
    print(f"function-level imports of harness modules: {function_level_imports()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
