"""Keras' other backends as columns of their own: the Keras adapter's model on Keras' torch
backend (`keras-torch`).

Keras picks its backend once, at its first import (KERAS_BACKEND), and the harness's process
runs Keras on TensorFlow. So each other backend runs in a worker process started with
KERAS_BACKEND set (harness/common/worker_process.py, the mechanism of Python ports: one worker
per run, which imports Keras once, restarted if it dies). The worker builds the case with the
Keras adapter's own builders (keras.layers and keras.ops, backend-neutral) and differentiates
with that backend's autodiff (harness/backends/keras/on_torch.py).

Expected differences documented for `keras` are not inherited: `keras-torch` is another engine
under the same layers (the TensorFlow backend's bugs are not its own), so it passes where it
agrees with the reference, and a difference of its own needs an entry naming it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import ClassVar

from harness.backends.base import Backend, ExecutionPath, RunResult, Unsupported
from harness.case import Case
from harness.common.compare import DEFAULT_TOLERANCES, Tolerance
from harness.common.worker_process import PortWorker, WorkerFailed

WORKER_FILE = Path(__file__).with_name("worker_side.py")
TIMEOUT_S = 600.0
"""Per case, start-up included (importing Keras, torch and TensorFlow: about 10 s here, more on
a loaded machine); a grouped recurrent training case takes seconds."""


FLOAT64_DEMOTED = ("float32's default: Keras' type promotion computes float64 in float32 on this "
                   "backend (keras/src/backend/common/dtypes.py BIT64_TO_BIT32_DTYPE)")


class KerasOtherBackend(Backend):
    """The parent's side: sends each case to the worker, returns its RunResult."""

    keras_backend: ClassVar[str]
    """KERAS_BACKEND of the worker (`torch`)."""
    module: ClassVar[str]
    """The Python module that backend needs (its absence is a skip reason)."""
    # float32: the defaults, as for every framework (ATen's CPU kernels, as in the torch column).
    # float64: Keras 3.15.1's type promotion turns float64 into float32 on every backend but
    # TensorFlow (keras/src/backend/common/dtypes.py BIT64_TO_BIT32_DTYPE, "aligned with JAX's
    # default"), so keras.ops.matmul of two float64 tensors computes and returns float32 on
    # torch (measured: a float64 Dense is off by 1e-7, float32's rounding). A float64 case is
    # therefore judged with float32's tolerances on keras-torch, said in each tolerance's reason
    # and in the run's execution paths (`keras.float64`), never with float64's.
    tolerances = {"float32": DEFAULT_TOLERANCES["float32"],
                  "float64": {check: Tolerance(t.rtol, t.atol, FLOAT64_DEMOTED)
                              for check, t in DEFAULT_TOLERANCES["float32"].items()}}

    def __init__(self) -> None:
        self._worker: PortWorker | None = None
        self._paths: dict[int, tuple[Case, list[ExecutionPath]]] = {}

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec(self.module) is None:
            return (f"{self.name} runs Keras on {self.module}, which is not installed here; "
                    "install it with `python tools/install.py`")
        return None

    def worker(self) -> PortWorker:
        if self._worker is None:
            self._worker = PortWorker(WORKER_FILE, {"KERAS_BACKEND": self.keras_backend,
                                                    "HARNESS_KERAS_BACKEND": self.keras_backend})
        return self._worker

    def call(self, function: str, *args):
        try:
            reply = self.worker().request({"op": "call", "path": str(WORKER_FILE), "function": function,
                                           "args": args, "kwargs": {}}, TIMEOUT_S)
        except WorkerFailed as exc:
            raise RuntimeError(f"the {self.name} worker process (KERAS_BACKEND={self.keras_backend}) {exc}") from None
        if reply["status"] != "ok":
            raise RuntimeError(f"the {self.name} worker (KERAS_BACKEND={self.keras_backend}) raised "
                               f"{reply.get('message', reply['status'])}\n{reply.get('details', '')}")
        return reply["value"]

    def version(self) -> str:
        try:
            return self.call("describe")["version"]
        except RuntimeError as exc:
            return f"unknown ({exc})"

    def run(self, case: Case) -> RunResult:
        if not Path(case.file).is_file():
            raise Unsupported(f"{self.name} loads the case from its file in a worker process; this case "
                              f"has none ({case.file})")
        reply = self.call("run", str(Path(case.file).resolve()), case.id, case.weights)
        if "unsupported" in reply:
            raise Unsupported(reply["unsupported"])
        self._paths[id(case)] = (case, reply["execution_paths"])
        return reply["result"]

    def execution_paths(self, case: Case) -> list[ExecutionPath]:
        """The decisions the worker took for the case (read there, where Keras runs on the backend)."""
        held, found = self._paths.get(id(case), (None, []))
        return found if held is case else []


class KerasTorchBackend(KerasOtherBackend):
    name: ClassVar[str] = "keras-torch"
    keras_backend = "torch"
    module = "torch"
