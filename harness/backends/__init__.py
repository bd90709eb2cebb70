"""The backends, by name, imported only when asked for.

A framework that is not installed (or fails to import) must not break the others, so each
backend module is imported lazily here and an import failure becomes a reason to skip.
"""

from __future__ import annotations

import importlib
import traceback
from dataclasses import dataclass
from functools import cache

from harness.backends.base import Backend

BACKEND_CLASSES = {
    "numpy": "harness.backends.numpy_reference:NumpyBackend",
    "keras": "harness.backends.keras:KerasBackend",
    "chainer": "harness.backends.chainer:ChainerBackend",
    "torch": "harness.backends.torch:TorchBackend",
    "onnxruntime": "harness.backends.shipping.onnx_runtime:OnnxRuntimeBackend",
    "litert": "harness.backends.shipping.litert:LiteRTBackend",
    "keras-torch": "harness.backends.keras_other:KerasTorchBackend",
}
"""One entry per name of harness.case.schema.BACKENDS (tests/test_shipping_backends.py keeps them equal)."""
FRAMEWORK_PACKAGES = {"keras": "keras (with tensorflow)", "chainer": "chainer", "torch": "torch",
                      "onnxruntime": "onnxruntime (with torch, onnx and onnxscript, which export to ONNX)",
                      "litert": "tensorflow (its TFLite converter) with keras; ai-edge-litert runs the result",
                      "keras-torch": "torch (Keras' torch backend, in a worker process)"}
FRAMEWORK_MODULES = {"keras": ("keras", "tensorflow"), "chainer": ("chainer",), "torch": ("torch",),
                     "onnxruntime": ("onnxruntime", "torch", "onnx", "onnxscript", "onnx_ir"),
                     "litert": ("keras", "tensorflow"), "keras-torch": ("keras", "torch")}
"""A ModuleNotFoundError for one of these means the framework is absent, not broken."""


@dataclass
class UnavailableBackend(Backend):
    """Stands in for a framework that cannot be imported here; every check is skipped."""

    name: str
    reason: str

    def unavailable_reason(self) -> str | None:
        return self.reason


@cache
def get_backend(name: str) -> Backend:
    """The backend called `name`, or an UnavailableBackend saying why it cannot run."""
    module_name, class_name = BACKEND_CLASSES[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing.split(".")[0] in FRAMEWORK_MODULES.get(name, ()):
            return UnavailableBackend(name, f"{FRAMEWORK_PACKAGES[name]} is not installed "
                                            f"({type(exc).__name__}: {exc}); install it with "
                                            "`python tools/install.py`")
        return UnavailableBackend(name, f"{FRAMEWORK_PACKAGES.get(name, name)} failed to import "
                                        f"({type(exc).__name__}: {exc}); `python tools/install.py --force` "
                                        "reinstalls the pinned versions"
                                  + (f" [missing module {missing}]" if missing else ""))
    except Exception as exc:  # a framework that crashes at import is skipped, not fatal
        return UnavailableBackend(name, f"importing {name} failed: {type(exc).__name__}: {exc}\n"
                                        + traceback.format_exc(limit=3))
    return getattr(module, class_name)()
