"""The ONNX export builds torchlib's registry once per process (harness/backends/shipping/
torchlib_registry.py) and writes the same file as torch.onnx.export does on its own."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from harness.backends import get_backend
from harness.weights import load_cases_from_file

CASES = Path(__file__).resolve().parent.parent / "cases"


@pytest.fixture(scope="module")
def onnx_backend():
    backend = get_backend("onnxruntime")
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"onnxruntime: {reason.splitlines()[0]}")
    return backend


def test_reused_registry_writes_the_same_file_and_builds_the_registry_once(onnx_backend, tmp_path, monkeypatch):
    from torch.onnx._internal.exporter import _registration

    from harness.backends.shipping import onnx_runtime, torchlib_registry

    case = next(case for case in load_cases_from_file(CASES / "conv000_small_cnn.yaml")
                if case.id == "conv000_small_cnn.channels_first")
    stock = _registration.ONNXRegistry.__dict__["from_torchlib"]
    builds = []

    def counted(cls, *args, **kwargs):
        builds.append(args or tuple(kwargs.values()))
        return stock.__func__(cls, *args, **kwargs)

    monkeypatch.setattr(_registration.ONNXRegistry, "from_torchlib", classmethod(counted))
    monkeypatch.setattr(torchlib_registry, "BUILT", {})
    with monkeypatch.context() as unchanged:  # torch's own behaviour: one registry per export
        unchanged.setattr(onnx_runtime, "reused_registry", contextlib.nullcontext)
        onnx_backend.export(case, tmp_path / "stock.onnx")
    assert len(builds) == 1
    onnx_backend.export(case, tmp_path / "first.onnx")
    onnx_backend.export(case, tmp_path / "second.onnx")
    assert len(builds) == 2, "the second export built the registry again"
    stock_bytes = (tmp_path / "stock.onnx").read_bytes()
    assert (tmp_path / "first.onnx").read_bytes() == stock_bytes
    assert (tmp_path / "second.onnx").read_bytes() == stock_bytes
    # outside an export torch's own function is back
    assert _registration.ONNXRegistry.__dict__["from_torchlib"].__func__ is counted
