"""One run over many case files: load each file on its own, run each case, write the report
(results.json, junit.xml and the HTML pages, replacing the output directory at once).

A file that fails to load is reported (results.json `load_errors`, the index page, the exit
code) and the other files still run. Ports given on the command line (`--port`) are added to
every case; each case's columns are the frameworks, then its ports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.audit.strength import case_strength
from harness.backends import get_backend
from harness.case import Case
from harness.case.case import expand_paths
from harness.case.port import Port
from harness.case.schema import BACKENDS, FRAMEWORKS, RUNTIMES
from harness.checks.runner import CaseReport, PASS as PASS_VERDICT, run_case
from harness.common.environment import describe_environment
from harness.common.errors import CaseError
from harness.defaults.background import DefaultsPrefetch
from harness.diagnosis.base import Context
from harness.output.report import write_site
from harness.output.report.matrix import SEVERITY
from harness.output.report.swap import refuse_foreign
from harness.output.results import build_results
from harness.weights import load_cases_from_file


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
                  "with reading the results back into NumPy (the numpy backend and ports included)",
    "reference": "the float64 NumPy reference, single pass and training steps",
    "comparisons": "the rest of running the cases: every comparison (against the reference, "
                   "pairwise, known values) and the verdicts",
    "diagnosis": "searching the transform catalogue for a hint on each failed check",
    "defaults": "waiting for the defaults table at the end (nothing when it is stored)",
    "strength": "each case's strength: the reference again under every applicable transform",
    "report": "writing results.json, junit.xml and the HTML pages with their pictures",
}
"""The parts of Session.timings; `total` is the whole run. benchmarks/scaling.py reads them."""


STRENGTH_BUDGET_S = 2.0
"""A run measures a case's strength where that is expected to take at most this long, or no
longer than the case's own checks (its frameworks and reference): one reference run per
applicable transform. Every shipped case is far below it (all of cases/ together: about 4 s);
a large case (benchmarks/scaling.py's LSTM over 256 steps: 16 s, four times its checks) says
in the report that it was not measured and how to measure it (`python -m harness strength`)."""


def load_all(paths: list[str | Path], select: str | None = None,
             ports: list[Port] | None = None) -> tuple[list[Case], list[str]]:
    cases, errors, seen = [], [], {}
    for path in expand_paths(paths):
        try:
            loaded = load_cases_from_file(path)
            for case in loaded:
                if case.id in seen:
                    raise CaseError(f"case {case.id!r} is also defined in {seen[case.id]}", file=str(path),
                                    field="name", hint="give every case its own `name` (each case has "
                                                       "one report page); this file's cases were not run")
            seen.update((case.id, str(path)) for case in loaded)
            cases.extend(case.with_ports(ports or []) for case in loaded)
        except CaseError as exc:
            errors.append(exc.render())
    if select:
        cases = [case for case in cases if select in case.id]
    return cases, errors


def run_session(paths: list[str | Path], *, frameworks: list[str] | None, out_dir: Path,
                command: str, select: str | None = None, require_frameworks: bool = False,
                echo: Callable[[str], None] = lambda line: None, ports: list[Port] | None = None,
                strength: bool = True, strength_budget: float | None = None) -> Session:
    """`strength`: measure each case's strength (one reference run per applicable transform,
    harness/audit/strength.py) for results.json and the report, for the cases where that
    fits `strength_budget` (seconds; None: STRENGTH_BUDGET_S; inf: every case)."""
    frameworks = list(frameworks or FRAMEWORKS)
    unknown = [f for f in frameworks if f not in BACKENDS]
    if unknown:
        raise CaseError(f"unknown framework {unknown[0]!r}", field="--frameworks",
                        expected=", ".join(BACKENDS), found=unknown[0])
    refuse_foreign(Path(out_dir))  # before the run, not after it
    started = time.perf_counter()
    defaults = DefaultsPrefetch(frameworks)  # a first run reads the table beside the cases
    try:
        return _run(paths, frameworks, out_dir, command, select, require_frameworks, echo, started,
                    defaults, ports, strength, strength_budget)
    finally:
        defaults.cancel()  # a run that stopped early leaves no process behind


def _run(paths, frameworks, out_dir, command, select, require_frameworks, echo, started,
         defaults: DefaultsPrefetch, ports: list[Port] | None, strength: bool = True,
         strength_budget: float | None = None) -> Session:
    clock = Stopwatch()
    cases, load_errors = load_all(paths, select, ports)
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
            f"{framework}:{_cell(report, framework)}" for framework in report.outcomes))
        for hint in dict.fromkeys(c.hint["text"] for c in report.checks if c.hint):
            echo(f"{'':<{width}}  hint: {hint}")
        for check in report.checks:  # a failure without a hint: what the search tried
            if check.search:
                echo(f"{'':<{width}}  {check.framework} {check.check} searched: "
                     + check.search["text"].removeprefix("no transform of the catalogue matches: "))
    clock.split_cases(reports)
    seconds = time.perf_counter() - started
    table = defaults.result(backends)
    clock.lap("defaults")
    if strength:
        measure_strength(reports, table, STRENGTH_BUDGET_S if strength_budget is None else strength_budget)
    clock.lap("strength")
    artifacts = shipped_artifacts(reports)
    results = build_results(reports, environment=describe_environment(), command=command,
                            frameworks=frameworks, seconds=seconds, load_errors=load_errors, defaults=table)
    index_path = write_site(out_dir, reports, results, artifacts=artifacts)
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
        reference = sum(report.reference_seconds + (report.reference.training_seconds if report.reference else 0.0)
                        for report in reports)
        diagnosis = sum(report.diagnosis_seconds for report in reports)
        self.timings["frameworks"], self.timings["reference"] = frameworks, reference
        self.timings["diagnosis"] = diagnosis
        self.timings["comparisons"] = max(now - self.last - frameworks - reference - diagnosis, 0.0)
        self.last = now


def measure_strength(reports: list[CaseReport], table: dict[str, Any] | None,
                     budget_s: float = STRENGTH_BUDGET_S) -> None:
    """Each case's strength (harness/audit/strength.py), with the run's defaults table as
    the frameworks' default values: one reference run per applicable transform, within the
    budget (inf: every case)."""
    context = Context(table)
    for report in reports:
        if report.reference is None:
            continue
        own = sum(outcome.seconds for outcome in report.outcomes.values()) + report.reference_seconds \
            + report.reference.training_seconds
        report.strength = case_strength(report.case, context, reference=report.reference,
                                        budget_s=max(budget_s, own)).to_dict()


def backends(names: list[str]) -> dict[str, Any]:
    """The backends called `names` (for the defaults table, which does not import adapters)."""
    return {name: get_backend(name) for name in names}


def _cell(report: CaseReport, framework: str) -> str:
    checks = [check for check in report.checks if check.framework == framework]
    if not checks:
        return "-"
    worst = max((check.verdict for check in checks), key=SEVERITY.__getitem__)
    if worst == PASS_VERDICT and any(check.verdict != worst for check in checks):
        # a port that passes what it returns: `pass(not-returned:intermediates,gradients)`
        return "pass(not-returned:" + ",".join(check.check for check in checks if check.verdict != worst) + ")"
    if all(check.verdict == worst for check in checks):
        return worst
    # e.g. `pass(not-returned:gradients)`: a port that passes what it returns and has no gradients;
    # `fail(intermediates)`: the worst verdict and the checks that have it
    named = f"{worst}({','.join(check.check for check in checks if check.verdict == worst)})"
    return f"pass,{named}" if worst == "skipped" else named


def shipped_artifacts(reports: list[CaseReport]) -> dict[str, Path]:
    """`artifacts/<case id><suffix>` -> the exported model each shipped runtime ran, kept beside
    the report so that a user ships exactly the file that was checked (each outcome records its
    path, which results.json and the case page show)."""
    artifacts = {}
    for report in reports:
        for name, outcome in report.outcomes.items():
            if name in RUNTIMES and outcome.result is not None:
                path = get_backend(name).exported(report.case)
                if path is not None:
                    outcome.artifact = f"artifacts/{path.name}"
                    artifacts[outcome.artifact] = path
    return artifacts
