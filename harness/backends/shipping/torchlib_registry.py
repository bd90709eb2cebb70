"""One torchlib registry per process for torch.onnx.export (the dynamo exporter).

torch 2.13's `torch.onnx.export` builds the registry of torchlib's ONNX functions anew on every
call (torch/onnx/_internal/exporter/_compat.py, `_registration.ONNXRegistry().from_torchlib(...)`),
and building it reads the source of each of ~500 onnxscript functions again to learn its domain
(onnxscript/_internal/values.py, `OnnxFunction.function_ir`: inspect.getsource, then ast): 2.4 s of
a 3.5 s export of a small CNN (cProfile, 2026-12-07, docs/shipping.md). The registry depends only
on its opset and is only read while exporting (torch.onnx.export adds to it only for a
`custom_translation_table`, which the harness does not pass), so while `reused_registry()` is
active, `ONNXRegistry.from_torchlib` returns the one it built first for the same arguments.
The exporter, its arguments and the file written are the same (tests/test_shipping_export_speed.py
compares the bytes); only the rebuilding is saved. With a torch that has no such function the
export runs as torch ships it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

BUILT: dict[tuple[Any, ...], Any] = {}
"""(registry class, arguments) -> the registry built for them, kept for the process."""


@contextlib.contextmanager
def reused_registry() -> Iterator[None]:
    try:
        from torch.onnx._internal.exporter import _registration
        stock = _registration.ONNXRegistry.__dict__["from_torchlib"]
    except (ImportError, KeyError):  # another torch: export as it ships
        yield
        return
    build = stock.__func__

    def from_torchlib(cls, *args, **kwargs):
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in BUILT:
            BUILT[key] = build(cls, *args, **kwargs)
        return BUILT[key]

    _registration.ONNXRegistry.from_torchlib = classmethod(from_torchlib)
    try:
        yield
    finally:
        _registration.ONNXRegistry.from_torchlib = stock
