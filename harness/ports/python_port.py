"""A port written as a Python function, run in this process.

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

The file is imported under a name of its own (its directory first on sys.path while it
imports, so it can import modules beside it), once per process and file version.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from harness.adapters.base import Backend, RunResult
from harness.case import Case
from harness.defaults import resolve_for_reference
from harness.ports import Port, PortError
from harness.ports.layouts import layout_for
from harness.ports.returns import build_result, port_error

OPTIONAL_ARGUMENTS = ("targets", "loss", "mode", "metrics", "training")
_MODULES: dict[tuple[str, float], Any] = {}


class PythonPortBackend(Backend):
    """`function(inputs, weights, **optional)` from `FILE.py:FUNCTION`."""

    name: ClassVar[str] = "port"

    def __init__(self, port: Port) -> None:
        self.port = port
        self.name = port.name  # type: ignore[misc]  (each port is its own column)

    def version(self) -> str:
        return self.port.source

    def run(self, case: Case) -> RunResult:
        function = self.function(case)
        dtype = self.port.spec.dtype or case.spec.dtype
        layout = layout_for(self.port.spec.weights_as)
        weights = layout.to_port(case, {name: value.astype(dtype) for name, value in case.weights.items()})
        arguments = _optional_arguments(function, case, dtype)
        try:
            returned = function(_cast_all(case.dataset.inputs, dtype), weights, **arguments)
        except Exception as exc:
            raise port_error(self.port, case, f"the function raised {type(exc).__name__}: {exc}",
                             details=_user_traceback(exc, self.path)) from None
        return build_result(self.port, case, returned, layout, self.port.spec.dtype)

    @property
    def path(self) -> Path:
        file, _ = self.port.spec.python.rsplit(":", 1)
        return (self.port.directory / file).resolve()

    def function(self, case: Case) -> Callable[..., Any]:
        file, name = self.port.spec.python.rsplit(":", 1)
        path = self.path
        if not path.is_file():
            raise port_error(self.port, case, f"there is no file {path}",
                             expected=f"{file}, relative to {self.port.directory} (the {self._base()})")
        module = _import(path, self.port, case)
        function = getattr(module, name, None)
        if not callable(function):
            found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                           and getattr(v, "__module__", None) == module.__name__)
            raise port_error(self.port, case, f"{file} has no function {name!r}",
                             expected=f"def {name}(inputs, weights, ...)", found=found or "no functions")
        positional = [p for p in inspect.signature(function).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
        if len(positional) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in positional):
            raise port_error(self.port, case, f"{name} takes {len(positional)} positional arguments",
                             expected=f"def {name}(inputs, weights, ...)",
                             found=f"{name}{inspect.signature(function)}")
        return function

    def _base(self) -> str:
        return "case file's directory" if self.port.origin == "case file" else "working directory"


def _import(path: Path, port: Port, case: Case) -> Any:
    key = (str(path), path.stat().st_mtime)
    if key in _MODULES:
        return _MODULES[key]
    module_name = f"harness_port_{abs(hash(key)):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise port_error(port, case, f"importing {path.name} failed: {type(exc).__name__}: {exc}",
                         details=_user_traceback(exc, path)) from None
    finally:
        sys.path.remove(str(path.parent))
    _MODULES[key] = module
    return module


def _optional_arguments(function: Callable[..., Any], case: Case, dtype: str) -> dict[str, Any]:
    parameters = inspect.signature(function).parameters
    takes_all = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
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


def _user_traceback(exc: BaseException, path: Path) -> str:
    """The traceback from the port's own file on (the harness's frames are not the user's)."""
    frames = traceback.extract_tb(exc.__traceback__)
    # No frame of the file (a SyntaxError): the exception says where.
    start = next((i for i, frame in enumerate(frames) if Path(frame.filename).resolve() == path), len(frames))
    lines = traceback.format_list(frames[start:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


__all__ = ["PythonPortBackend", "PortError"]
