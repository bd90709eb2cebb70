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

Under pytest-xdist (`-n 2 --dist loadfile`, the project's default) a case file's items all go
to one worker, so each case runs once and its pairwise comparisons have every framework; each
worker leaves its cases' results in a file and the controller writes the one report from all of
them at the end. (`--dist loadgroup` with xdist_group marks would do the same, but xdist 3.8
names groups by rewriting `item._nodeid`, which pytest 9.2 no longer reads.)
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from harness.case.schema import BACKENDS, FRAMEWORKS
from harness.checks.runner import EXPECTED, FAIL, NOT_RETURNED, PASS, SKIPPED, CaseReport, CaseRunner, CheckResult
from harness.common.environment import describe_environment
from harness.common.errors import CaseError
from harness.defaults.background import DefaultsPrefetch
from harness.entry.session import backends
from harness.output.report import write_site
from harness.output.report.swap import refuse_foreign
from harness.output.results import build_results
from harness.ports.command_line import parse_ports
from harness.weights import load_cases_from_file

RUNNERS = pytest.StashKey[dict[str, CaseRunner]]()
RESULTS = pytest.StashKey[list[CheckResult]]()
STARTED = pytest.StashKey[float]()
REPORT_NOTE = pytest.StashKey[str]()
ORDER = pytest.StashKey[dict[str, int]]()
"""Case id -> position of its first item in the collection (the same in every worker)."""
WORKER_RESULTS = pytest.StashKey[Path]()
DEFAULTS = pytest.StashKey[Any]()
WORKER_ENVIRONMENT = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "cross-framework equivalence cases")
    group.addoption("--frameworks", default=None,
                    help="comma-separated backends to run the case matrix on (default: numpy,keras,chainer,torch; "
                         "the shipped runtimes onnxruntime,litert on request)")
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
        try:
            refuse_foreign(target)  # say so now, not after the whole matrix has run
        except CaseError as exc:
            raise pytest.UsageError(f"--harness-report: {exc.render()}") from None
    for framework in BACKENDS:
        config.addinivalue_line("markers", f"{framework}: a case-matrix item run on {framework}")
    config.addinivalue_line("markers", "port: a case-matrix item run on a port (your own implementation)")
    if target is not None and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DefaultsStarter(config), "harness-defaults-starter")


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
    try:
        return parse_ports(config.getoption("harness_ports"), Path(config.invocation_params.dir))
    except CaseError as exc:
        raise pytest.UsageError(exc.render()) from None


def selected_frameworks(config: pytest.Config) -> list[str]:
    option = config.getoption("--frameworks")
    if not option:
        return list(FRAMEWORKS)
    chosen = [name.strip() for name in option.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BACKENDS]
    if unknown:
        raise pytest.UsageError(f"--frameworks: unknown {unknown}; known: {', '.join(BACKENDS)}")
    return chosen


class CaseFile(pytest.File):
    def collect(self):
        ports = command_line_ports(self.config)
        runners = self.config.stash[RUNNERS]
        try:
            cases = [case.with_ports(ports) for case in load_cases_from_file(self.path)]
            for case in cases:
                if case.id in runners and runners[case.id].case.loaded.file != case.loaded.file:
                    raise duplicate_case(case, runners[case.id].case)
        except CaseError as exc:
            # One failing item, not a collection error: pytest stops the whole session at a
            # collection error ("Interrupted: 1 error during collection"), and one bad file must
            # not stop the others.
            yield LoadFailure.from_parent(self, name="load", error=exc)
            return
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
        return super().repr_failure(excinfo)  # a Collector's repr_failure takes no style


class LoadFailure(pytest.Item):
    """A case file that does not load: one failing item whose message is the CaseError."""

    def __init__(self, *, error: CaseError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):
        return self.error.render()

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: does not load"


def duplicate_case(case: Any, first: Any) -> CaseError:
    return CaseError(f"case {case.id!r} is also defined in {first.loaded.file}", file=str(case.loaded.file),
                     field="name", hint="give every case its own `name` (each case has one report page)")


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
            if result.message:  # "NaN agrees: ...": shown in junit.xml, not a plain pass
                self.user_properties.append(("note", result.message))
            return
        if result.verdict == SKIPPED:
            pytest.skip(result.reason.splitlines()[0] if result.reason else "skipped")
        if result.verdict == NOT_RETURNED:  # nothing compared: never a pass
            pytest.skip("not returned: " + (result.reason.splitlines()[0] if result.reason else ""))
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
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # An expected difference: pytest shows its reason (the exception's message) and
            # would otherwise render this frame's traceback with its source, for text nobody
            # sees: the 55 documented differences made `pytest -n 2 cases/` 40 s instead of 32.
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.name}"


def pytest_collection_finish(session: pytest.Session) -> None:
    order: dict[str, int] = {}
    for position, item in enumerate(session.items):
        if isinstance(item, CaseItem):
            order.setdefault(item.runner.case.id, position)
    session.config.stash[ORDER] = order


class DefaultsStarter:
    """The first case-matrix result (from this process or a worker) starts reading the defaults
    table, in a background process where no stored copy exists (harness/defaults/background.py),
    so that it is ready when the report is written."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if DEFAULTS in self.config.stash or not report.nodeid.split("::")[0].endswith((".yaml", ".yml")):
            return

        self.config.stash[DEFAULTS] = DefaultsPrefetch(selected_frameworks(self.config))


def case_reports(config: pytest.Config) -> list[tuple[int, CaseReport]]:
    """(collection position, report) of every case this process ran items of."""
    results = config.stash.get(RESULTS, [])
    by_case: dict[str, list[CheckResult]] = {}
    for result in results:
        by_case.setdefault(result.case, []).append(result)
    runners = config.stash[RUNNERS]
    order = config.stash.get(ORDER, {})
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
        reports.append((order.get(case_id, len(order)), CaseReport(
            case=runner.case, checks=checks, pairwise=pairwise,
            outcomes={f: runner.outcome(f) for f in names}, reference=reference,
            reference_seconds=reference.seconds if reference else 0.0)))
    return reports


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    out_dir = report_directory(config)
    if out_dir is None:
        return
    if hasattr(config, "workerinput"):
        _leave_worker_results(config)
        return
    reports = case_reports(config) + _worker_results(config)
    if not reports:
        if DEFAULTS in config.stash:
            config.stash[DEFAULTS].cancel()
        return
    reports = [report for _, report in sorted(reports, key=lambda pair: pair[0])]

    frameworks = [f for f in selected_frameworks(config)
                  if any(check.framework == f for report in reports for check in report.checks)]
    command = "pytest " + " ".join(config.invocation_params.args)
    seconds = time.perf_counter() - config.stash[STARTED]
    defaults = config.stash.get(DEFAULTS, None)
    if defaults is None:
        defaults = DefaultsPrefetch(frameworks)
    # Under xdist the controller imports no framework: a worker's view of the environment.
    environment = describe_environment() if config.stash.get(RESULTS, []) else \
        config.stash.get(WORKER_ENVIRONMENT, None) or describe_environment()
    data = build_results(reports, environment=environment, command=command,
                         frameworks=frameworks, seconds=seconds, load_errors=[],
                         defaults=defaults.result(backends))
    try:
        index = write_site(out_dir, reports, data)
    except CaseError as exc:  # e.g. --harness-report names a directory of other files
        config.stash[REPORT_NOTE] = f"harness report not written: {exc.render()}"
    else:
        config.stash[REPORT_NOTE] = f"harness report: {index}"


# --- pytest-xdist: each worker's cases, merged by the controller -------------------------------

@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Controller side, per worker: where that worker leaves its cases' results."""
    config = node.config
    if WORKER_RESULTS not in config.stash:
        config.stash[WORKER_RESULTS] = Path(tempfile.mkdtemp(prefix="harness-workers-"))
    node.workerinput["harness_results"] = str(config.stash[WORKER_RESULTS])


def _leave_worker_results(config: pytest.Config) -> None:
    """Worker side: this worker's case reports, pickled without their Case (a pydantic model
    with generic fields that pickle cannot name), which the controller loads again from its file."""
    directory = config.workerinput.get("harness_results")
    reports = case_reports(config)
    if not directory or not reports:
        return

    records = [(position, str(report.case.loaded.file), report.case.id,
                {**report.__dict__, "case": None}) for position, report in reports]
    # The environment as a process that ran the frameworks sees it (thread counts, numerics).
    path = Path(directory) / f"{config.workerinput['workerid']}.pickle"
    path.write_bytes(pickle.dumps((describe_environment(), records), protocol=pickle.HIGHEST_PROTOCOL))


def _worker_results(config: pytest.Config) -> list[tuple[int, CaseReport]]:
    """Controller side: every worker's case reports, with their cases loaded from their files. A
    case some items of which ran in another worker (a --dist mode other than loadfile) has
    its checks and frameworks merged; its pairwise table then lacks the pairs split between workers."""
    directory = config.stash.get(WORKER_RESULTS, None)
    if directory is None:
        return []

    ports = command_line_ports(config)  # a worker's cases had them: the same --port options
    merged: dict[str, tuple[int, CaseReport]] = {}
    loaded: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.pickle")):
        environment, records = pickle.loads(path.read_bytes())
        config.stash.setdefault(WORKER_ENVIRONMENT, environment)
        for position, file, case_id, fields in records:
            if file not in loaded:
                loaded[file] = {case.id: case.with_ports(ports) for case in load_cases_from_file(file)}
            report = CaseReport(**{**fields, "case": loaded[file][case_id]})
            if case_id in merged:
                _, earlier = merged[case_id]
                earlier.checks += report.checks
                earlier.pairwise += report.pairwise
                earlier.outcomes.update({f: o for f, o in report.outcomes.items() if o.result is not None})
                earlier.reference = earlier.reference or report.reference
            else:
                merged[case_id] = (position, report)
    shutil.rmtree(directory, ignore_errors=True)
    return list(merged.values())


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    note = config.stash.get(REPORT_NOTE, None)
    if note:
        terminalreporter.write_line(note)


def pytest_report_header(config: pytest.Config) -> str:
    return f"harness: case matrix over {', '.join(selected_frameworks(config))}"
