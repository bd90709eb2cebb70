"""Every module of harness/ compiles and imports on the Python the project pins (3.11).

A module no test imported once shipped with syntax valid only from Python 3.12 (an f-string
nesting ''' in harness/backends/chainer/repro.py), and every chainer reproducer crashed.
Two nets against that: every source file is compiled (no framework needed, so it holds even
where a framework is absent), and every module is imported, a framework package skipped with
the reason when that framework is not installed (a failure under HARNESS_REQUIRE_FRAMEWORKS=1, as
in CI, where every framework must be there).

The modules are listed from the file tree, not with pkgutil.walk_packages: walk_packages imports
each package to find its children, which would import TensorFlow, torch and chainer while pytest
collects (about 10 s in every xdist worker), before any test asked for them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from harness.backends import FRAMEWORK_MODULES, FRAMEWORK_PACKAGES

PACKAGE = Path(__file__).resolve().parent.parent / "harness"
SOURCES = sorted(PACKAGE.rglob("*.py"))
NOT_IMPORTED = {"harness.__main__": "it runs the command line when imported (it is compiled above)"}
IN_A_WORKER = {
    # Keras picks its backend at its first import; this process has Keras on TensorFlow, so the
    # modules of the keras-torch worker (harness/backends/keras_other/) import in a process of
    # their own, with the environment that worker gets.
    "harness.backends.keras.on_torch": {"KERAS_BACKEND": "torch", "HARNESS_KERAS_BACKEND": "torch"},
    "harness.backends.keras_other.worker_side": {"KERAS_BACKEND": "torch", "HARNESS_KERAS_BACKEND": "torch"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = [module_name(path) for path in SOURCES]


def test_the_pinned_python_runs_these_tests():
    """The project pins Python 3.11 (pyproject's requires-python >=3.11,<3.12): syntax from a
    later Python must fail here, not on a user's machine."""
    assert sys.version_info[:2] == (3, 11), sys.version


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE.parent)) for p in SOURCES])
def test_every_source_file_compiles(path):
    compile(path.read_text(encoding="utf-8"), str(path), "exec")


def framework_of(module: str) -> str | None:
    for framework in FRAMEWORK_MODULES:
        if module.startswith(f"harness.backends.{framework}"):
            return framework
    return None


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module):
    if module in NOT_IMPORTED:
        pytest.skip(NOT_IMPORTED[module])
    if module in IN_A_WORKER:
        import_in_a_worker(module, IN_A_WORKER[module])
        return
    framework = framework_of(module)
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        required = os.environ.get("HARNESS_REQUIRE_FRAMEWORKS", "") not in ("", "0")
        if framework and missing in FRAMEWORK_MODULES[framework] and not required:
            pytest.skip(f"{FRAMEWORK_PACKAGES[framework]} is not installed ({exc})")
        raise


def import_in_a_worker(module: str, environment: dict[str, str]) -> None:
    import subprocess

    required = os.environ.get("HARNESS_REQUIRE_FRAMEWORKS", "") not in ("", "0")
    if importlib.util.find_spec("torch") is None and not required:
        pytest.skip("torch is not installed: Keras' torch backend cannot start")
    completed = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=PACKAGE.parent,
                               env={**os.environ, **environment, "PYTHONPATH": str(PACKAGE.parent)},
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
