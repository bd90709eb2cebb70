"""The import contracts in pyproject.toml ([tool.importlinter]) hold: the three framework packages
independent of each other, the layers in order, the reference math and the report free of
frameworks, no cycles inside the packages listed. docs/architecture.md says which cycles remain
and the layout that removes them.

lint-imports runs in a subprocess: it prints its own report (which this test shows when a
contract breaks), and the checkout's harness/ is put first on its path so that it reads this
tree, not another installed copy. grimp's cache is off, so nothing is written beside the code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports() -> str:
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: `python tools/install.py` installs the test extra")
    return found


def test_the_import_contracts_hold():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([lint_imports(), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "0 broken" in report and "kept" in report, report
