"""Function-level imports of harness modules keep an optional framework optional, and say so.

tools/function_imports.py finds every import of a harness module inside a function and the
frameworks its target imports at module level (transitively) that the importing module does not
import already. An import that hides no framework belongs at the top of its module, where
import-linter's contracts and a reader see it; one that does carries a comment with its reason.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "function_imports.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("function_imports", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_function_level_import_keeps_a_framework_optional_and_says_so():
    imports = load_tool().ImportGraph().function_imports()
    wrong = [f"{item.path.name}:{item.line}: {item.text.strip()} "
             f"({'no comment' if item.frameworks else 'hides no framework: move it to the top'})"
             for item in imports if not item.allowed]
    assert not wrong, "\n".join(wrong)


def test_the_rule_tells_the_two_kinds_apart(tmp_path):
    """The tool's own judgement, on its knowledge of two real modules: the keras importer brings
    keras (a lazy import of it is allowed); the case loader brings no framework."""
    graph = load_tool().ImportGraph()
    assert "keras" in graph.frameworks("harness.backends.keras.importer")
    assert graph.frameworks("harness.case.case") == ()
