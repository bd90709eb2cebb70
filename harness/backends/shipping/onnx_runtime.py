"""ONNX Runtime: the torch adapter's model exported with torch.onnx.export, run on the CPU.

The exporter is the one torch recommends and uses by default since 2.9: `dynamo=True`
(torch.export's graph, translated by onnxscript; the TorchScript exporter is deprecated and
warns). The opset is stated, not left to torch's default (`OPSET`). The exported module is a
wrapper around the torch adapter's layers (`CaseGraph`): its forward runs the case's graph as the
adapter's run loop does and returns every node's output, in graph order, named by the node, so
ONNX Runtime returns the layer outputs beside the model's outputs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime
import torch

from harness.backends.base import Unsupported
from harness.backends.shipping import Artifact, ShippingBackend, first_lines
from harness.backends.shipping.torchlib_registry import reused_registry
from harness.backends.torch import TorchBackend
from harness.case import Case
from harness.common.compare import DEFAULT_TOLERANCES

OPSET = 20
"""torch 2.13's ONNX_DEFAULT_OPSET (torch/onnx/_constants.py), stated so that a torch upgrade
does not change the checked artifact silently. ONNX Runtime 1.31 implements opsets up to 23."""
PROVIDERS = ["CPUExecutionProvider"]
NOT_IMPLEMENTED = onnxruntime.capi.onnxruntime_pybind11_state.NotImplemented
RUNTIME_EXCEPTION = onnxruntime.capi.onnxruntime_pybind11_state.RuntimeException
OUTPUT_PREFIX = "layer:"
"""Graph outputs are named `layer:<node>`: the exporter names its inner values after the torch
ops (`linear`, `tanh`), and renaming an output to a node called `linear` would define that
name twice (ONNX Runtime refuses the model: "Duplicate definition of name")."""


class CaseGraph(torch.nn.Module):
    """The case's model as one module to export: holds the adapter's layer modules (so their
    weights become the graph's initializers) and runs the graph with the adapter's calls."""

    def __init__(self, case: Case, adapter: TorchBackend, built: dict, container: torch.nn.Module) -> None:
        super().__init__()
        self.layers = container
        self._case, self._adapter, self._built = case, adapter, built

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        tensors = self._adapter.forward(self._case, self._built, dict(zip(self._case.dataset.inputs, inputs)))
        return tuple(tensors[name] for name in graph_tensors(self._case))


class OnnxRuntimeBackend(ShippingBackend):
    name: ClassVar[str] = "onnxruntime"
    source = "torch"
    suffix = ".onnx"
    format = "onnx"
    # ONNX Runtime's CPU kernels (MLAS GEMM/convolution, its vectorised tanh/sigmoid/exp) are
    # not torch's, but round like them: over every shipped float32 case the worst passing
    # forward tensor used 0.04 of the float32 default and the worst layer output 0.06
    # (2026-12-07, docs/shipping.md), so the defaults hold with a margin of over 10; float64
    # kernels run in float64 (where they exist) and keep the float64 defaults.
    tolerances = DEFAULT_TOLERANCES

    def version(self) -> str:
        return (f"onnxruntime {onnxruntime.__version__} (CPU), exported by torch {torch.__version__} at opset {OPSET} "
                "(or the case's export.onnx.opset)")

    def export(self, case: Case, path: Path) -> Artifact:
        adapter = TorchBackend()
        built, model = adapter.build_native(case)
        adapter.load_weights(case, built)
        module = CaseGraph(case, adapter, built, model.container)
        inputs = tuple(adapter.tensor(array, requires_grad=False) for array in case.dataset.inputs.values())
        names = graph_tensors(case)
        options = self.options(case)
        how = f"dynamo, opset {options.opset}" + (", dynamic batch" if options.dynamic_batch else "")
        try:
            with torch.no_grad(), quiet(), reused_registry():
                torch.onnx.export(module, inputs, str(path), dynamo=True, opset_version=options.opset, verbose=False,
                                  input_names=list(case.dataset.inputs),
                                  output_names=[OUTPUT_PREFIX + name for name in names],
                                  dynamic_shapes=batch_axes(inputs) if options.dynamic_batch else None,
                                  external_data=False)
        except Exception as exc:  # the exporter's refusal is a finding about shipping this model
            raise Unsupported(f"torch.onnx.export ({how}) cannot export this model: "
                              f"{type(exc).__name__}: {first_lines(exc)}") from None
        return Artifact(path=path, outputs=names,
                        detail=f"torch.onnx.export(dynamo=True, opset_version={options.opset}"
                               + (", dynamic_shapes: batch axis" if options.dynamic_batch else "")
                               + f") of the torch adapter's modules (torch {torch.__version__}), run by onnxruntime "
                                 f"{onnxruntime.__version__} CPUExecutionProvider")

    def execute(self, artifact: Artifact, case: Case) -> dict[str, np.ndarray]:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4  # its kernel errors come back in the exception; no console noise
        try:
            session = onnxruntime.InferenceSession(str(artifact.path), options, providers=PROVIDERS)
        except NOT_IMPLEMENTED as exc:  # no kernel for an operator at this dtype (Erf in float64)
            raise refused(exc) from None
        feeds = {}
        for graph_input in session.get_inputs():
            array = case.dataset.inputs[graph_input.name]
            # torch's embedding indices are int64 (the torch adapter's `tensor`), so is the graph's input
            feeds[graph_input.name] = array.astype(np.int64) if array.dtype.kind in "iu" else array
        names = [output.name for output in session.get_outputs()]
        # A dynamic batch axis is checked on batch sizes other than the one exported with: the
        # first sample alone, then the rest, joined (each output's first axis is the batch's).
        batches = ([slice(0, 1), slice(1, None)] if self.options(case).dynamic_batch and case.dataset.samples > 1
                   else [slice(None)])
        try:
            runs = [session.run(names, {name: array[part] for name, array in feeds.items()}) for part in batches]
        except RUNTIME_EXCEPTION as exc:
            if "does not support" not in str(exc):  # only a kernel's stated limitation is a refusal
                raise
            raise refused(exc) from None
        arrays = [np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0] for parts in zip(*runs)]
        return {name.removeprefix(OUTPUT_PREFIX): array for name, array in zip(names, arrays)}


def graph_tensors(case: Case) -> list[str]:
    """Every tensor the case's nodes produce, in order: each node's output, then its further
    outputs (`lstm.h`, `lstm.c`: a recurrent layer's final states), which the graph's outputs
    and losses may name."""
    return [name for node in case.graph.nodes for name in (node.outputs or [node.name])]


def batch_axes(inputs: tuple[torch.Tensor, ...]) -> tuple[tuple[dict[int, Any], ...]]:
    """dynamic_shapes for CaseGraph.forward(*inputs): axis 0 of every input is one symbolic
    `batch` dimension (torch.export.Dim; one entry, a tuple, for the *inputs parameter)."""
    batch = torch.export.Dim("batch")
    return (tuple({0: batch} for _ in inputs),)


def refused(exc: BaseException) -> Unsupported:
    """ONNX Runtime has no kernel for the exported model (an operator at a dtype its CPU provider
    does not implement, ONNX allowing it): a finding about shipping this model, with the
    runtime's words."""
    return Unsupported(f"ONNX Runtime {onnxruntime.__version__} (CPU) cannot run the exported model: "
                       f"{first_lines(exc)}")


@contextlib.contextmanager
def quiet():
    """The dynamo exporter prints its progress (`[torch.onnx] ...`) and logs torchvision's
    absence; neither is the harness's output."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
