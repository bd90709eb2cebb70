"""One run over many case files: load each file on its own, run each case, write the report
(results.json, junit.xml and the HTML pages, replacing the output directory at once).

A file that fails to load is reported (results.json `load_errors`, the index page, the exit
code) and the other files still run. Ports given on the command line (`--port`) are added to
every case; each case's columns are the frameworks, then its ports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.case import Case
from harness.case.case import expand_paths, load_cases_from_file
from harness.case.schema import FRAMEWORKS
from harness.defaults.table import for_results as defaults_for_results
from harness.environment import describe_environment
from harness.errors import CaseError
from harness.ports import Port
from harness.report import write_site
from harness.report.swap import refuse_foreign
from harness.results import build_results
from harness.runner import CaseReport, run_case


@dataclass
class Session:
    reports: list[CaseReport]
    results: dict[str, Any]
    results_path: Path
    index_path: Path
    report_seconds: float = 0.0
    """Time spent writing the report (pages, pictures, results.json, junit.xml)."""


def load_all(paths: list[str | Path], select: str | None = None,
             ports: list[Port] | None = None) -> tuple[list[Case], list[str]]:
    cases, errors = [], []
    for path in expand_paths(paths):
        try:
            cases.extend(case.with_ports(ports or []) for case in load_cases_from_file(path))
        except CaseError as exc:
            errors.append(exc.render())
    if select:
        cases = [case for case in cases if select in case.id]
    return cases, errors


def run_session(paths: list[str | Path], *, frameworks: list[str] | None, out_dir: Path,
                command: str, select: str | None = None, require_frameworks: bool = False,
                echo: Callable[[str], None] = lambda line: None, ports: list[Port] | None = None) -> Session:
    frameworks = list(frameworks or FRAMEWORKS)
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown:
        raise CaseError(f"unknown framework {unknown[0]!r}", field="--frameworks",
                        expected=", ".join(FRAMEWORKS), found=unknown[0])
    refuse_foreign(Path(out_dir))  # before the run, not after it
    started = time.perf_counter()
    cases, load_errors = load_all(paths, select, ports)
    for error in load_errors:
        echo(error)
    reports = []
    width = max((len(case.id) for case in cases), default=10)
    for case in cases:
        report = run_case(case, frameworks, require_frameworks=require_frameworks)
        reports.append(report)
        echo(f"{case.id:<{width}}  " + "  ".join(
            f"{framework}:{_cell(report, framework)}" for framework in report.outcomes))
    results = build_results(reports, environment=describe_environment(), command=command,
                            frameworks=frameworks, seconds=time.perf_counter() - started,
                            load_errors=load_errors, defaults=defaults_for_results(frameworks))
    report_started = time.perf_counter()
    index_path = write_site(out_dir, reports, results)
    return Session(reports=reports, results=results, results_path=out_dir / "results.json",
                   index_path=index_path, report_seconds=time.perf_counter() - report_started)


def _cell(report: CaseReport, framework: str) -> str:
    from harness.report.matrix import SEVERITY

    checks = [check for check in report.checks if check.framework == framework]
    if not checks:
        return "-"
    worst = max((check.verdict for check in checks), key=SEVERITY.__getitem__)
    if all(check.verdict == worst for check in checks):
        return worst
    # e.g. `skipped(gradients)`: a port that passes what it returns and has no gradients
    return f"{worst}({','.join(check.check for check in checks if check.verdict == worst)})"
