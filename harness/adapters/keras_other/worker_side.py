"""What the keras-torch worker process runs (imported there, in a process started with
KERAS_BACKEND=torch; never in the harness's own process, where Keras runs on TensorFlow).

The parent sends the loaded case (its pickled Case: spec, data and canonical weights, exactly
what the other columns ran) and gets back the RunResult, or why the adapter cannot build the
case (Unsupported: the check is then skipped with that reason, as for the `keras` column).
"""

from __future__ import annotations

from typing import Any

from harness.adapters.base import Unsupported
from harness.adapters.keras_backend.on_torch import KerasTorchBackend

BACKEND = KerasTorchBackend()


def describe() -> dict[str, str]:
    return {"version": BACKEND.version()}


def run(case) -> dict[str, Any]:
    try:
        result = BACKEND.run(case)
    except Unsupported as exc:
        return {"unsupported": str(exc)}
    return {"result": result, "execution_paths": BACKEND.execution_paths(case)}
