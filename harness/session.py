"""One run over many case files: load each file on its own, run each case, write the report
(results.json, junit.xml and the HTML pages, replacing the output directory at once).

A file that fails to load is reported (results.json `load_errors`, the index page, the exit
code) and the other files still run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.adapters import get_backend
from harness.case import Case
from harness.case.case import expand_paths, load_cases_from_file
from harness.case.schema import FRAMEWORKS
from harness.defaults.background import DefaultsPrefetch
from harness.environment import describe_environment
from harness.errors import CaseError
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
    timings: dict[str, float] = field(default_factory=dict)
    """Where the run's wall time went, in seconds: the parts of TIMINGS and the `total`."""


TIMINGS = {
    "load": "reading and validating the case files",
    "imports": "importing the frameworks' adapters (and so the frameworks)",
    "frameworks": "each framework building, loading weights, running and training the cases, "
                  "with reading the results back into NumPy (the numpy backend included)",
    "reference": "the float64 NumPy reference, single pass and training steps",
    "comparisons": "the rest of running the cases: every comparison (against the reference, "
                   "pairwise, known values) and the verdicts",
    "defaults": "waiting for the defaults table at the end (nothing when it is stored)",
    "report": "writing results.json, junit.xml and the HTML pages with their pictures",
}
"""The parts of Session.timings; `total` is the whole run. benchmarks/scaling.py reads them."""


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
    refuse_foreign(Path(out_dir))  # before the run, not after it
    started = time.perf_counter()
    defaults = DefaultsPrefetch(frameworks)  # a first run reads the table beside the cases
    try:
        return _run(paths, frameworks, out_dir, command, select, require_frameworks, echo, started, defaults)
    finally:
        defaults.cancel()  # a run that stopped early leaves no process behind


def _run(paths, frameworks, out_dir, command, select, require_frameworks, echo, started,
         defaults: DefaultsPrefetch) -> Session:
    clock = Stopwatch()
    cases, load_errors = load_all(paths, select)
    for error in load_errors:
        echo(error)
    clock.lap("load")
    if cases:
        backends(frameworks)
    clock.lap("imports")
    reports = []
    width = max((len(case.id) for case in cases), default=10)
    for case in cases:
        report = run_case(case, frameworks, require_frameworks=require_frameworks)
        reports.append(report)
        echo(f"{case.id:<{width}}  " + "  ".join(
            f"{framework}:{_cell(report, framework)}" for framework in frameworks))
    clock.split_cases(reports)
    seconds = time.perf_counter() - started
    table = defaults.result(backends)
    clock.lap("defaults")
    results = build_results(reports, environment=describe_environment(), command=command,
                            frameworks=frameworks, seconds=seconds, load_errors=load_errors, defaults=table)
    index_path = write_site(out_dir, reports, results)
    clock.lap("report")
    clock.timings["total"] = time.perf_counter() - started
    return Session(reports=reports, results=results, results_path=out_dir / "results.json",
                   index_path=index_path, report_seconds=clock.timings["report"], timings=clock.timings)


class Stopwatch:
    """Session.timings, lap by lap."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now

    def split_cases(self, reports: list[CaseReport]) -> None:
        """The cases' time, split into frameworks, reference and the rest (comparisons)."""
        now = time.perf_counter()
        frameworks = sum(outcome.seconds for report in reports for outcome in report.outcomes.values())
        reference = sum(report.reference_seconds + _training_seconds(report.reference) for report in reports)
        self.timings["frameworks"], self.timings["reference"] = frameworks, reference
        self.timings["comparisons"] = max(now - self.last - frameworks - reference, 0.0)
        self.last = now


def _training_seconds(reference) -> float:
    training = getattr(reference, "training", None)
    return training.seconds if training is not None else 0.0


def backends(names: list[str]) -> dict[str, Any]:
    """The backends called `names` (for the defaults table, which does not import adapters)."""
    return {name: get_backend(name) for name in names}


def _cell(report: CaseReport, framework: str) -> str:
    from harness.report.matrix import SEVERITY

    verdicts = [check.verdict for check in report.checks if check.framework == framework]
    return max(verdicts, key=SEVERITY.__getitem__) if verdicts else "-"
