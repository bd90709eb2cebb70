"""pytest collects the case files as a matrix: one item per case x framework x check.

Item ids read `cases/seed000_dense_tanh.yaml::seed000_dense_tanh.single_point::torch::gradients`,
so `-k "seed000_dense_tanh and torch and gradients"` selects it. Each case runs once per
framework however many of its items are selected (the runs are cached for the session), and a
failure prints the comparison figures, not a traceback.

Verdicts map to pytest outcomes: pass -> passed, fail/error -> failed, expected-difference ->
xfailed (with the case's reason), skipped -> skipped (with the reason).

A case's ports (its `ports:`, and any `--port NAME=FILE.py:FUNCTION` given to pytest) are
columns like the frameworks: `case::my_numpy::forward`, marked `port`.

Options: `--frameworks numpy,torch` limits the matrix; `--harness-report DIR` (default
reports, `none` to turn off) writes the report (HTML pages, results.json, junit.xml;
the directory is replaced as a whole) at the end.
Set HARNESS_REQUIRE_FRAMEWORKS=1 (as .ci/run does) to make a framework that is not installed an
error instead of a skip.

Only YAML files directly inside a `cases/` directory are collected (tests keep malformed case
files elsewhere on purpose).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from harness.case.schema import FRAMEWORKS
from harness.errors import CaseError
from harness.runner import EXPECTED, FAIL, PASS, SKIPPED, CaseReport, CaseRunner, CheckResult

RUNNERS = pytest.StashKey[dict[str, CaseRunner]]()
RESULTS = pytest.StashKey[list[CheckResult]]()
STARTED = pytest.StashKey[float]()
REPORT_NOTE = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "cross-framework equivalence cases")
    group.addoption("--frameworks", default=None,
                    help="comma-separated frameworks to run the case matrix on (default: all)")
    group.addoption("--harness-report", default="reports",
                    help="directory for results.json and the HTML report of the case matrix, or 'none'")
    group.addoption("--port", dest="harness_ports", action="append", default=None, metavar="PORT",
                    help="add your own implementation to every collected case, as with `python -m harness "
                         "run --port` (NAME=FILE.py:FUNCTION[,weights_as=...], 'NAME=command:...' or a YAML mapping)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RUNNERS] = {}
    config.stash[RESULTS] = []
    config.stash[STARTED] = time.perf_counter()
    target = report_directory(config)
    if target is not None and not hasattr(config, "workerinput"):
        from harness.report.swap import refuse_foreign

        try:
            refuse_foreign(target)  # say so now, not after the whole matrix has run
        except CaseError as exc:
            raise pytest.UsageError(f"--harness-report: {exc.render()}") from None
    for framework in FRAMEWORKS:
        config.addinivalue_line("markers", f"{framework}: a case-matrix item run on {framework}")
    config.addinivalue_line("markers", "port: a case-matrix item run on a port (your own implementation)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == "cases":
        return CaseFile.from_parent(parent, path=file_path)
    return None


def report_directory(config: pytest.Config) -> Path | None:
    """Where the run's report goes (relative to the rootdir), or None for `none`."""
    target = config.getoption("--harness-report")
    if not target or target == "none":
        return None
    return Path(target) if Path(target).is_absolute() else Path(config.rootpath, target)


def command_line_ports(config: pytest.Config) -> list:
    """The `--port` options, parsed once (a malformed one is a usage error)."""
    from harness.ports.command_line import parse_ports

    try:
        return parse_ports(config.getoption("harness_ports"), Path(config.invocation_params.dir))
    except CaseError as exc:
        raise pytest.UsageError(exc.render()) from None


def selected_frameworks(config: pytest.Config) -> list[str]:
    option = config.getoption("--frameworks")
    if not option:
        return list(FRAMEWORKS)
    chosen = [name.strip() for name in option.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in FRAMEWORKS]
    if unknown:
        raise pytest.UsageError(f"--frameworks: unknown {unknown}; known: {', '.join(FRAMEWORKS)}")
    return chosen


class CaseFile(pytest.File):
    def collect(self):
        from harness.case import load_cases_from_file

        ports = command_line_ports(self.config)
        cases = [case.with_ports(ports) for case in load_cases_from_file(self.path)]
        require = os.environ.get("HARNESS_REQUIRE_FRAMEWORKS", "") not in ("", "0")
        for case in cases:
            runner = CaseRunner(case, require_frameworks=require)
            self.config.stash[RUNNERS][case.id] = runner
            for framework in runner.backend_names(selected_frameworks(self.config)):
                for check in runner.checks():
                    yield CaseItem.from_parent(self, name=f"{case.id}::{framework}::{check}",
                                               runner=runner, framework=framework, check=check)

    def repr_failure(self, excinfo, style=None):
        # A case file that does not load is the user's to fix: the message, not a traceback.
        if isinstance(excinfo.value, CaseError):
            return excinfo.value.render()
        return super().repr_failure(excinfo, style=style)


class CheckFailed(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class CaseItem(pytest.Item):
    def __init__(self, *, runner: CaseRunner, framework: str, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runner, self.framework, self.check = runner, framework, check
        self.add_marker("port" if runner.case.port(framework) is not None else framework)

    def runtest(self) -> None:
        result = self.runner.check(self.framework, self.check)
        self.config.stash[RESULTS].append(result)
        worst = result.worst
        if worst is not None:
            self.user_properties.append(("worst_tensor", worst.tensor))
            self.user_properties.append(("max_abs_error", f"{worst.max_abs_error:.3g}"))
            self.user_properties.append(("max_rel_error", f"{result.max_rel_error:.3g}"))
        if result.verdict == PASS:
            return
        if result.verdict == SKIPPED:
            pytest.skip(result.reason.splitlines()[0] if result.reason else "skipped")
        if result.verdict == EXPECTED:
            pytest.xfail(f"expected difference: {result.reason}")
        raise CheckFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            result = excinfo.value.result
            text = f"{result.case} [{result.framework}] {result.check}: {result.verdict}\n{result.message}"
            if result.verdict != FAIL and result.reason:
                text += "\n" + result.reason
            return text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.name}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    out_dir = report_directory(config)
    results = config.stash.get(RESULTS, [])
    if not results or out_dir is None or hasattr(config, "workerinput"):
        return
    from harness.defaults.table import for_results as defaults_for_results
    from harness.environment import describe_environment
    from harness.report import write_site
    from harness.results import build_results

    by_case: dict[str, list[CheckResult]] = {}
    for result in results:
        by_case.setdefault(result.case, []).append(result)
    runners = config.stash[RUNNERS]
    frameworks = [f for f in selected_frameworks(config) if any(r.framework == f for r in results)]
    reports = []
    for case_id, checks in by_case.items():
        runner = runners[case_id]
        ran = {result.framework for result in checks}
        names = [name for name in runner.backend_names(frameworks) if name in ran]
        pairwise = [pair for i, first in enumerate(names) for second in names[i + 1:]
                    for check in runner.checks()
                    if (pair := runner.pairwise(first, second, check)) is not None]
        reference = runner.computed_reference()
        reports.append(CaseReport(case=runner.case, checks=checks, pairwise=pairwise,
                                  outcomes={f: runner.outcome(f) for f in names},
                                  reference=reference,
                                  reference_seconds=reference.seconds if reference else 0.0))
    command = "pytest " + " ".join(config.invocation_params.args)
    data = build_results(reports, environment=describe_environment(), command=command,
                         frameworks=frameworks, seconds=time.perf_counter() - config.stash[STARTED],
                         load_errors=[], defaults=defaults_for_results(frameworks))
    try:
        index = write_site(out_dir, reports, data)
    except CaseError as exc:  # e.g. --harness-report names a directory of other files
        config.stash[REPORT_NOTE] = f"harness report not written: {exc.render()}"
    else:
        config.stash[REPORT_NOTE] = f"harness report: {index}"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    note = config.stash.get(REPORT_NOTE, None)
    if note:
        terminalreporter.write_line(note)


def pytest_report_header(config: pytest.Config) -> str:
    return f"harness: case matrix over {', '.join(selected_frameworks(config))}"
