"""One run over many case files: load each file on its own, run each case, write the report.

A file that fails to load is reported (results.json `load_errors`, the index page, the exit
code) and the other files still run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.case import Case
from harness.case.case import expand_paths, load_cases_from_file
from harness.case.schema import FRAMEWORKS
from harness.environment import describe_environment
from harness.errors import CaseError
from harness.report import write_report
from harness.results import build_results, write_results
from harness.runner import CaseReport, run_case


@dataclass
class Session:
    reports: list[CaseReport]
    results: dict[str, Any]
    results_path: Path
    index_path: Path


def load_all(paths: list[str | Path], select: str | None = None) -> tuple[list[Case], list[str]]:
    cases, errors = [], []
    for path in expand_paths(paths):
        try:
            cases.extend(load_cases_from_file(path))
        except CaseError as exc:
            errors.append(exc.render())
    if select:
        cases = [case for case in cases if select in case.id]
    return cases, errors


def run_session(paths: list[str | Path], *, frameworks: list[str] | None, out_dir: Path,
                command: str, select: str | None = None, require_frameworks: bool = False,
                echo: Callable[[str], None] = lambda line: None) -> Session:
    frameworks = list(frameworks or FRAMEWORKS)
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown:
        raise CaseError(f"unknown framework {unknown[0]!r}", field="--frameworks",
                        expected=", ".join(FRAMEWORKS), found=unknown[0])
    started = time.perf_counter()
    cases, load_errors = load_all(paths, select)
    for error in load_errors:
        echo(error)
    reports = []
    width = max((len(case.id) for case in cases), default=10)
    for case in cases:
        report = run_case(case, frameworks, require_frameworks=require_frameworks)
        reports.append(report)
        echo(f"{case.id:<{width}}  " + "  ".join(
            f"{framework}:{_cell(report, framework)}" for framework in frameworks))
    results = build_results(reports, environment=describe_environment(), command=command,
                            frameworks=frameworks, seconds=time.perf_counter() - started,
                            load_errors=load_errors)
    results_path = out_dir / "results.json"
    write_results(results_path, results)
    index_path = write_report(out_dir, results)
    return Session(reports=reports, results=results, results_path=results_path, index_path=index_path)


def _cell(report: CaseReport, framework: str) -> str:
    from harness.report.matrix import SEVERITY

    verdicts = [check.verdict for check in report.checks if check.framework == framework]
    return max(verdicts, key=SEVERITY.__getitem__) if verdicts else "-"
