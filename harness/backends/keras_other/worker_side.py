"""What the keras-torch worker process runs (imported there, in a process started with
KERAS_BACKEND=torch; never in the harness's own process, where Keras runs on TensorFlow).

The parent sends the case as its file and id, with the canonical weights it ran the other
columns with (a pickled Case does not cross: the defaults' generic pydantic classes,
FrameworkDefault[float], cannot be pickled). The worker loads the file once per version,
takes the case by id, sets those weights, and returns the RunResult, or why the adapter cannot
build or run the case (the check is then skipped with that reason).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from harness.backends.base import Unsupported
from harness.backends.keras.on_torch import KerasTorchBackend
from harness.case import load_cases_from_file

BACKEND = KerasTorchBackend()
_FILES: dict[tuple[str, float], dict[str, Any]] = {}


def describe() -> dict[str, str]:
    return {"version": BACKEND.version()}


def _placeholders(case) -> tuple[dict, dict]:
    return case.weights, case.initializer_descriptions


def case_from(file: str, case_id: str, weights: dict) -> Any:
    key = (file, Path(file).stat().st_mtime)
    if key not in _FILES:
        # A `weights: {file}` is not read here: the parent sends the weights it read, set below.
        _FILES[key] = {case.id: case for case in load_cases_from_file(file, _placeholders)}
    if case_id not in _FILES[key]:
        raise Unsupported(f"case {case_id!r} is not in {file} as the worker loads it (found "
                          f"{', '.join(_FILES[key])}): a case made in memory cannot run on keras-torch")
    return dataclasses.replace(_FILES[key][case_id], weights=weights)


def run(file: str, case_id: str, weights: dict) -> dict[str, Any]:
    try:
        case = case_from(file, case_id, weights)
        result = BACKEND.run(case)
    except Unsupported as exc:
        return {"unsupported": str(exc)}
    return {"result": result, "execution_paths": BACKEND.execution_paths(case)}
