"""What one worker does with one task: run a case, or shrink a failure and write its reproducer.

Tasks take and return plain data (the case file's text, JSON-able dicts, bytes), so that they
travel to a worker process or a Dask worker on another machine and back, and the driver keeps
every file. A worker imports the frameworks on its first task and keeps them (`warm_up`), so
each later task pays only for its case. An exception inside a task is returned as the task's
error, never raised: one bad case must not take the campaign down.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from harness.backends import get_backend
from harness.case.schema import FRAMEWORKS  # the default columns
from harness.checks.runner import run_case
from harness.discovery.findings import primary_failures
from harness.discovery.generate.cases import from_yaml, to_yaml
from harness.discovery.repro import ReproUnavailable, write_reproducer_files
from harness.discovery.shrink import failure_in, shrink
from harness.weights import cases_from_data

SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                 "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
                 "TF_CPP_MIN_LOG_LEVEL": "2"}
"""Each worker computes one small case at a time: one thread each, so that W workers use W cores
instead of fighting over them."""


def single_threaded() -> None:
    """Before the frameworks are imported in this process."""
    for key, value in SINGLE_THREAD.items():
        os.environ.setdefault(key, value)


def warm_up(frameworks: tuple[str, ...] = FRAMEWORKS) -> None:
    """Import every framework once (a worker process's initializer)."""
    single_threaded()
    import warnings

    warnings.filterwarnings("ignore")

    for name in frameworks:  # only the frameworks the campaign runs: importing one costs seconds
        backend = get_backend(name)
        if backend.unavailable_reason() is None:
            backend.limit_threads(1)


def _load(text: str, name: str):
    (case,) = cases_from_data(from_yaml(text), file=f"{name}.yaml")
    return case


def run_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one generated case in every framework; its verdicts and failure signatures."""
    warm_up(tuple(payload["frameworks"]))

    started = time.perf_counter()
    name = payload["name"]
    result: dict[str, Any] = {"name": name, "focus": payload.get("focus", ""), "verdicts": {},
                              "failures": [], "error": "", "worker": os.getpid()}
    try:
        case = _load(payload["yaml"], name)
        report = run_case(case, list(payload["frameworks"]))
        for check in report.checks:
            result["verdicts"].setdefault(check.framework, {})[check.check] = check.verdict
        result["layers"] = len(case.graph.nodes)
        result["kinds"] = sorted({node.spec.type for node in case.graph.nodes}
                                 | {"Reuse" for node in case.graph.nodes if node.reused})
        for primary, others in primary_failures(case, report.checks):
            result["failures"].append({"primary": primary.to_json(), "also": [o.to_json() for o in others]})
    except Exception as exc:  # noqa: BLE001 (the task's error, recorded; the campaign goes on)
        result["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    result["seconds"] = time.perf_counter() - started
    return result


def shrink_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Shrink one failure and write its reproducer; the files come back as text and bytes."""
    warm_up(tuple(payload["frameworks"]))

    started = time.perf_counter()
    result: dict[str, Any] = {"key": payload["key"], "source": payload["name"], "error": ""}
    try:
        data = from_yaml(payload["yaml"])
        shrunk = shrink(data, payload["framework"], payload["check"])
        minimal = shrunk.data
        minimal["name"] = f"{data['name']}_min"
        minimal["description"] = (
            f"Shrunk by `python -m harness shrink` from {data['name']} (a generated case): fails "
            f"{shrunk.failure.framework} {shrunk.failure.check} at {shrunk.failure.kind}.")
        result.update(minimal_yaml=to_yaml(minimal), summary=shrunk.summary(), runs=shrunk.runs,
                      failure=shrunk.failure.to_json())
        result.update(precision_checks(minimal, payload["framework"], shrunk.failure.check))
        result.update(reproducer(minimal, payload["framework"]))
    except Exception as exc:  # noqa: BLE001
        result["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    result["seconds"] = time.perf_counter() - started
    return result


def precision_checks(data: dict[str, Any], framework: str, check: str) -> dict[str, Any]:
    """Does the minimal case fail because of float32 rounding? Two runs say:

    * `numpy_fails`: the NumPy backend (the reference's own math in the case's dtype) fails the
      same check of the minimal case: rounding, not a framework's meaning, is then suspected;
    * `float64`: the failing framework on the minimal case in float64 ("passes", "fails", or
      "" where the case is float64 already). A difference of meaning survives float64; one of
      rounding goes (its tolerances are float64's, far tighter)."""
    numpy_fails = framework != "numpy" and failure_in(data, "numpy", check) is not None
    float64 = ""
    if data.get("dtype", "float32") == "float32":
        wider = {**data, "dtype": "float64"}
        float64 = "fails" if failure_in(wider, framework, check) is not None else "passes"
    return {"numpy_fails": numpy_fails, "float64": float64}


def reproducer(data: dict[str, Any], framework: str) -> dict[str, Any]:
    """The reproducer's script and arrays, or why there is none."""
    try:
        script, arrays = write_reproducer_files(data, framework)
    except ReproUnavailable as exc:
        return {"repro_error": str(exc)}
    return {"repro_script": script, "repro_npz": arrays}
