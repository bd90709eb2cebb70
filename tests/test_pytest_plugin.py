"""The case matrix under pytest, in one process and under pytest-xdist: the same report.

Each run is a fresh `python -m pytest` on a directory of its own holding copies of two shipped
case files, on the numpy backend only (no framework import), so that the comparison is of the
plugin's bookkeeping, not of the frameworks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASE_FILES = ("seed000_dense_tanh.yaml", "seed002_functional.yaml", "seed005_sgd_trace.yaml")


def run_pytest(directory: Path, *options: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=str(ROOT), HARNESS_CACHE_DIR=str(directory / "cache"))
    environment.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.entry.pytest_plugin", "-p", "no:cacheprovider",
                           "-q", "--frameworks", "numpy", *options], cwd=directory, env=environment,
                          capture_output=True, text=True, timeout=300)


def matrix(tmp_path: Path, name: str) -> Path:
    directory = tmp_path / name
    (directory / "cases").mkdir(parents=True)
    (directory / "pytest.ini").write_text("[pytest]\n")  # this directory is the rootdir
    for file in CASE_FILES:
        shutil.copy(ROOT / "cases" / file, directory / "cases" / file)
    return directory


def comparable(results: dict, directory: Path) -> dict:
    """results.json without what differs from run to run (times, the command line, the
    directory the cases were copied to)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("seconds", "reference_seconds", "command")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value.replace(str(directory), "<run>") if isinstance(value, str) else value
    return strip(results)


def test_xdist_workers_write_the_same_report_as_one_process(tmp_path):
    pytest.importorskip("xdist")
    single, parallel = matrix(tmp_path, "single"), matrix(tmp_path, "parallel")
    one = run_pytest(single, "-p", "no:xdist")
    two = run_pytest(parallel, "-n", "2", "--dist", "loadfile", "-vv")  # -q -vv: one line per item
    assert one.returncode == two.returncode == 0, one.stdout + one.stderr + two.stdout + two.stderr
    assert re.search(r"\[gw0\].* PASSED cases/", two.stdout) and re.search(r"\[gw1\].* PASSED cases/", two.stdout), \
        "both workers ran case files: " + two.stdout
    first = json.loads((single / "reports" / "results.json").read_text())
    second = json.loads((parallel / "reports" / "results.json").read_text())
    assert [case["id"] for case in second["cases"]] == [case["id"] for case in first["cases"]]
    assert len(first["cases"]) >= 3 and first["summary"]["pass"] > 0
    assert comparable(second, parallel)["cases"] == comparable(first, single)["cases"]
    assert comparable(second, parallel)["records"] == comparable(first, single)["records"]
    assert second["summary"] == first["summary"]
    pages = sorted(p.name for p in (parallel / "reports" / "cases").iterdir())
    assert pages == sorted(p.name for p in (single / "reports" / "cases").iterdir())


def test_nothing_collected_still_fails_with_exit_code_5(tmp_path):
    pytest.importorskip("xdist")
    directory = tmp_path / "empty"
    (directory / "cases").mkdir(parents=True)
    (directory / "pytest.ini").write_text("[pytest]\n")
    result = run_pytest(directory, "-n", "2")
    assert result.returncode == 5, result.stdout + result.stderr
    assert not (directory / "reports").exists()
