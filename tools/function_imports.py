"""Function-level imports of harness modules: each must keep an optional framework optional.

    python tools/function_imports.py           # list the function-level imports and the rule's verdict
    python tools/function_imports.py --hoist   # move those the rule does not allow to the module's top

The rule (issue 21, checked by tests/test_function_imports.py): an import inside a function is
allowed only where its target imports a framework at module level, directly or through other
module-level imports, that the importing module does not import already (so importing it at the
top would make that framework a dependency of the importing module), and the line carries a
comment saying so. Every other import belongs at the
top, where import-linter and a reader see it. grimp (tools/import_cycles.py) counts both kinds
alike; this tool is the one that tells them apart.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"torch", "tensorflow", "keras", "chainer", "onnxruntime", "ai_edge_litert", "onnx", "onnxscript",
              "torchvision", "dask", "distributed", "playwright"}
"""Optional dependencies (tools/install.py installs them; a run without them skips their backend)."""
FRAMEWORK_SHIMS = {"_import": "the framework"}
"""harness/backends/{keras,chainer}/_import.py exist to import their framework (with its shims)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def harness_files() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / "harness").rglob("*.py"))}


@dataclass
class FunctionImport:
    path: Path
    line: int
    end: int
    text: str
    frameworks: tuple[str, ...]
    """The optional frameworks its target imports at module level; empty: it belongs at the top."""
    commented: bool

    @property
    def allowed(self) -> bool:
        return bool(self.frameworks) and self.commented


class ImportGraph:
    def __init__(self) -> None:
        self.files = harness_files()
        self._heavy: dict[str, tuple[str, ...]] = {}

    def resolve(self, name: str) -> str | None:
        while name and name not in self.files:
            name = name.rpartition(".")[0]
        return name or None

    def module_level_imports(self, module: str) -> set[str]:
        names: set[str] = set()
        parent = module.rpartition(".")[0]
        while parent:  # importing a module runs its packages' __init__ first
            names.add(parent)
            parent = parent.rpartition(".")[0]
        for node in ast.parse(self.files[module].read_text()).body:
            body = [node]
            if isinstance(node, ast.If):
                if "TYPE_CHECKING" in ast.unparse(node.test):
                    continue
                body = node.body + node.orelse
            elif isinstance(node, ast.Try):
                body = node.body + [stmt for handler in node.handlers for stmt in handler.body]
            for stmt in body:
                if isinstance(stmt, ast.Import):
                    names |= {alias.name for alias in stmt.names}
                elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
                    names |= {stmt.module} | {f"{stmt.module}.{alias.name}" for alias in stmt.names}
        return names

    def frameworks(self, module: str, seen: frozenset[str] = frozenset()) -> tuple[str, ...]:
        """The optional frameworks importing `module` imports, transitively at module level."""
        if module in self._heavy:
            return self._heavy[module]
        if module in seen:
            return ()
        if module.rpartition(".")[2] in FRAMEWORK_SHIMS:
            self._heavy[module] = (module.split(".")[-2],)
            return self._heavy[module]
        found: set[str] = set()
        for name in self.module_level_imports(module):
            root = name.split(".")[0]
            if root in FRAMEWORKS:
                found.add(root)
            elif root == "harness" and (target := self.resolve(name)) and target != module:
                found |= set(self.frameworks(target, seen | {module}))
        self._heavy[module] = tuple(sorted(found))
        return self._heavy[module]

    def function_imports(self) -> list[FunctionImport]:
        found = []
        for module, path in self.files.items():
            lines = path.read_text().split("\n")
            for function in ast.walk(ast.parse("\n".join(lines))):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    targets = self._harness_targets(node)
                    if not targets:
                        continue
                    # what the target would add: frameworks the importing module does not import already
                    frameworks = sorted({f for t in targets if (m := self.resolve(t)) for f in self.frameworks(m)}
                                        - set(self.frameworks(module)))
                    text = "\n".join(lines[node.lineno - 1: node.end_lineno])
                    found.append(FunctionImport(path, node.lineno, node.end_lineno, text, tuple(frameworks),
                                                "#" in lines[node.end_lineno - 1]))
        return found

    @staticmethod
    def _harness_targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("harness"):
            return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names if alias.name.startswith("harness")]
        return []


def main(argv: list[str]) -> int:
    imports = ImportGraph().function_imports()
    for item in imports:
        where = f"{item.path.relative_to(ROOT)}:{item.line}"
        verdict = ("ok" if item.allowed else "needs a comment") if item.frameworks else "belongs at the top"
        print(f"{verdict:18} {where:50} {item.text.strip().splitlines()[0][:90]}")
    bad = [item for item in imports if not item.allowed]
    print(f"{len(imports)} function-level imports of harness modules, {len(bad)} the rule does not allow")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
