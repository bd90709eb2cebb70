"""A port written as a Python function, run in a worker process of its own.

The calling convention:

    def predict(inputs, weights, **optional):
        ...

* `inputs`: `{input name: array}`, batch first, in the port's dtype (integer inputs as int64);
* `weights`: in the form `weights_as` asks for (harness/ports/layouts.py), in the port's dtype;
* optional keyword arguments, passed only where the function names them (or takes **kwargs):
  `targets` (`{target name: array}`), `loss` (the case's loss as a dict, e.g.
  `{"type": "hinge", "reduction": "mean", ...}`; a list where the case has several), `mode`
  (`"inference"` or `"training"`), `metrics` (the case's metrics as dicts), and in training cases
  `training`: `{"steps", "batch_size", "optimizer": {"type": "sgd", "learning_rate": ...},
  "batches": [{"inputs": ..., "targets": ...}, one per step]}`.

It returns the outputs, or a dict with more (harness/ports/returns.py). Every argument is a
fresh copy: a port that changes its arguments in place changes nothing of the case.

The file is imported in a worker process (worker.py), once per run and file version, under a
name of its own (its directory first on sys.path while it imports, so it can import modules
beside it); arguments and return values travel pickled between the harness and its worker. Each
import and each call has the port's `timeout` (default 60 s). A port that crashes, exits or
runs past its timeout is its `error` with how its worker ended and the end of its stderr, and
the next case gets a fresh worker; what it prints appears on the harness's stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from harness.backends.base import Backend, RunResult
from harness.case import Case
from harness.defaults import resolve_for_reference
from harness.ports.errors import PortError
from harness.case.port import Port
from harness.ports.layouts import layout_for
from harness.ports.returns import build_result, port_error
from harness.common.worker_process import WorkerFailed, worker_for

OPTIONAL_ARGUMENTS = ("targets", "loss", "mode", "metrics", "training")


class PythonPortBackend(Backend):
    """`function(inputs, weights, **optional)` from `FILE.py:FUNCTION`, called in the port
    file's worker process (worker_process.py)."""

    name: ClassVar[str] = "port"

    def __init__(self, port: Port) -> None:
        self.port = port
        self.name = port.name  # type: ignore[misc]  (each port is its own column)

    def version(self) -> str:
        return self.port.source

    def run(self, case: Case) -> RunResult:
        parameters = self.parameters(case)
        dtype = self.port.spec.dtype or case.spec.dtype
        layout = layout_for(self.port.spec.weights_as)
        weights = layout.to_port(case, {name: value.astype(dtype) for name, value in case.weights.items()})
        arguments = _optional_arguments(parameters, case, dtype)
        reply = self._request(case, "call", args=(_cast_all(case.dataset.inputs, dtype), weights), kwargs=arguments)
        if reply["status"] == "raised":
            raise port_error(self.port, case, f"the function raised {reply['message']}",
                             details=reply["details"]) from None
        if reply["status"] == "unsendable":
            raise port_error(self.port, case, f"what it returned cannot be sent back from its worker process "
                             f"({reply['message']})", expected="arrays, lists, tuples and dicts of them "
                             "(harness/ports/returns.py)") from None
        return build_result(self.port, case, reply["value"], layout, self.port.spec.dtype)

    @property
    def path(self) -> Path:
        file, _ = self.port.spec.python.rsplit(":", 1)
        return (self.port.directory / file).resolve()

    def parameters(self, case: Case) -> dict[str, str]:
        """The function's parameters (name -> inspect kind name), imported in the worker."""
        file, name = self.port.spec.python.rsplit(":", 1)
        path = self.path
        if not path.is_file():
            raise port_error(self.port, case, f"there is no file {path}",
                             expected=f"{file}, relative to {self.port.directory} (the {self._base()})")
        reply = self._request(case, "load")
        if reply["status"] == "import_failed":
            raise port_error(self.port, case, f"importing {path.name} failed: {reply['message']}",
                             details=reply["details"])
        if reply["status"] == "no_function":
            raise port_error(self.port, case, f"{file} has no function {name!r}",
                             expected=f"def {name}(inputs, weights, ...)", found=reply["found"] or "no functions")
        if reply["status"] != "ok":
            raise port_error(self.port, case, f"{name} has no signature to read: {reply['message']}",
                             expected=f"def {name}(inputs, weights, ...)")
        kinds = reply["parameters"]
        positional = [k for k in kinds.values() if k in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "VAR_POSITIONAL")]
        if len(positional) < 2 and "VAR_POSITIONAL" not in positional:
            raise port_error(self.port, case, f"{name} takes {len(positional)} positional arguments",
                             expected=f"def {name}(inputs, weights, ...)", found=f"{name}{reply['signature']}")
        return kinds

    def _request(self, case: Case, op: str, **message: Any) -> dict[str, Any]:
        """One request to the file's worker, with the port's timeout; its death is this port's error."""
        _, function = self.port.spec.python.rsplit(":", 1)
        what = "importing and reading" if op == "load" else "calling"
        try:
            return worker_for(self.path).request({"op": op, "path": str(self.path), "function": function, **message},
                                                 self.port.spec.timeout)
        except WorkerFailed as exc:
            raise port_error(self.port, case, f"{what} {function} failed: {exc}",
                             hint="the case's other backends still ran; the next case starts a fresh worker") from None

    def _base(self) -> str:
        return "case file's directory" if self.port.origin == "case file" else "working directory"


def _optional_arguments(parameters: dict[str, str], case: Case, dtype: str) -> dict[str, Any]:
    takes_all = "VAR_KEYWORD" in parameters.values()
    wanted = [name for name in OPTIONAL_ARGUMENTS if takes_all or name in parameters]
    return {name: ARGUMENTS[name](case, dtype) for name in wanted
            if name != "training" or case.spec.training is not None}


def _losses(case: Case, dtype: str) -> Any:
    losses = [resolve_for_reference(loss)[0].model_dump() for loss in case.losses]
    return losses if isinstance(case.spec.loss, list) else (losses[0] if losses else None)


def _training(case: Case, dtype: str) -> dict[str, Any]:
    training = case.spec.training
    return {"steps": training.steps, "batch_size": training.batch_size,
            "optimizer": resolve_for_reference(case.spec.optimizer)[0].model_dump(),
            "batches": [{"inputs": _cast_all(batch.inputs, dtype), "targets": _cast_all(batch.targets, dtype)}
                        for batch in case.training_batches()]}


ARGUMENTS: dict[str, Callable[[Case, str], Any]] = {
    "targets": lambda case, dtype: _cast_all(case.dataset.targets, dtype),
    "loss": _losses,
    "mode": lambda case, dtype: case.spec.mode,
    "metrics": lambda case, dtype: [metric.model_dump() for metric in case.metrics],
    "training": _training,
}


def _cast_all(arrays: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    return {name: array.astype(dtype) if array.dtype.kind == "f" else array.copy()
            for name, array in arrays.items()}


__all__ = ["PythonPortBackend", "PortError"]
