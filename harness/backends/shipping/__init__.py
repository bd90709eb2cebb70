"""Backends that run what ships: a case's model exported to a deployment format and run by that
format's runtime (ONNX Runtime, LiteRT), beside the frameworks it came from.

A shipped runtime is inference-only. Each backend here

* builds the case's model with a framework adapter (torch for ONNX, Keras for LiteRT), loads the
  case's weights through the adapter's own bindings, and exports it: the graph returns the
  model's outputs and every layer's output, so `intermediates` compares layer by layer (the
  artifact written is the one checked, extra outputs included: a converter may fuse less across
  an output it must keep, so a user who ships the model without them ships a graph the harness
  did not run);
* runs the artifact with the runtime on the case's data (a fixed batch: the case's samples);
* reports the loss and the metrics as the NumPy reference computes them on the runtime's
  outputs (the runtime computes none: the forward check then compares the outputs once more,
  never a loss the runtime did not compute against one it did, as for a port);
* states `gradients` and `training` as unavailable ("inference-only runtime"): those checks are
  skipped with that reason, never passed.

A case in training mode (BatchNormalization's batch statistics, Dropout on) is skipped with the
reason: the artifacts are exported in inference mode, as they ship. An exporter or converter that
refuses the model (an operator it cannot express) makes the case skipped for that backend with
the tool's own message: that is a finding about shipping, not a crash of the harness.

Exports are cached per case within a process: the backend exports each case once, and
`python -m harness export --format onnx|tflite` writes the same file the check ran.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.backends.base import Backend, Implementation, RunResult, Unsupported
from harness.case import Case
from harness.defaults import resolve_for_reference

INFERENCE_ONLY = ("{name} is an inference-only runtime: it runs the exported model forward and has no "
                  "{what}; check them on {source}, the framework the artifact was exported from")


@dataclass
class Artifact:
    """An exported model on disk, and how its graph outputs map to the case's tensors."""

    path: Path
    outputs: list[str]
    """The graph's outputs in order, by the case's node names (model outputs are nodes too)."""
    detail: str
    """How it was made: exporter, options, versions (for the report's implementation column)."""
    seconds: float = 0.0
    """The export's time (kept apart from the runtime's)."""
    extra: dict[str, Any] = field(default_factory=dict)


class ShippingBackend(Backend):
    """Export a case once, run it with a runtime, judge its forward pass and layer outputs."""

    source: ClassVar[str]
    """The framework adapter whose model is exported (`torch`, `keras`)."""
    suffix: ClassVar[str]
    """The artifact's file suffix (`.onnx`, `.tflite`)."""
    format: ClassVar[str]
    """The export format's name for `python -m harness export --format` (`onnx`, `tflite`)."""
    tolerances: ClassVar[dict[str, dict[str, Any]]]
    """dtype -> check -> Tolerance against the reference, each runtime's own (CaseRunner.tolerance
    uses them where the case states none)."""

    def __init__(self) -> None:
        self._artifacts: dict[int, tuple[Case, Artifact]] = {}
        """id(case) -> (the case, its export); the case is kept so that its id stays its own."""
        self._directory: Path | None = None

    # --- what each runtime supplies ---------------------------------------------------------
    def export(self, case: Case, path: Path) -> Artifact:
        """Write the case's model (its weights loaded) to `path`."""
        raise NotImplementedError

    def execute(self, artifact: Artifact, case: Case) -> dict[str, np.ndarray]:
        """Run the artifact on the case's inputs: node name -> array, for every graph output."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------
    def options(self, case: Case) -> Any:
        """The case's export options for this format (`export.onnx`, `export.tflite`)."""
        return getattr(case.spec.export, self.format)

    def stated_tolerances(self, case: Case) -> Any:
        """The tolerances the case states for this runtime's export options (a float16 conversion
        rounds every weight), or None: then the runtime's own (CaseRunner.tolerance)."""
        return self.options(case).tolerance

    def artifact(self, case: Case) -> Artifact:
        """The case's export, made once per process (keyed by the Case object: a case's
        weights and data are fixed once it is loaded)."""
        held, cached = self._artifacts.get(id(case), (None, None))
        if held is not case or not cached.path.exists():
            if case.spec.mode == "training":
                raise Unsupported(f"{self.name} runs the exported model in inference mode, as it ships; "
                                  "this case is in training mode (batch statistics, dropout on)")
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix=f"harness-{self.name}-"))
            started = time.perf_counter()
            cached = self.export(case, self._directory / f"{safe_name(case.id)}{self.suffix}")
            cached.seconds = time.perf_counter() - started
            self._artifacts[id(case)] = (case, cached)
        return cached

    def exported(self, case: Case) -> Path | None:
        """The file this process exported for `case`, if it did (never exports)."""
        held, artifact = self._artifacts.get(id(case), (None, None))
        return artifact.path if held is case and artifact.path.exists() else None

    def write_artifact(self, case: Case, path: Path) -> Path:
        """Copy the checked artifact of `case` to `path` (a directory gets `<case id><suffix>`)."""
        artifact = self.artifact(case)
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path.mkdir(parents=True, exist_ok=True)
            path = path / f"{safe_name(case.id)}{self.suffix}"
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifact.path, path)
        return path

    def run(self, case: Case) -> RunResult:
        artifact = self.artifact(case)
        tensors = self.execute(artifact, case)
        dtype = case.spec.dtype
        outputs = {name: tensors[name] for name in case.graph.outputs}
        intermediates = {node.name: tensors[node.name] for node in case.graph.nodes if node.name in tensors}
        result = RunResult(framework=self.name, dtype=dtype, outputs=outputs, intermediates=intermediates,
                           loss=np.zeros((), dtype), parameter_gradients={}, input_gradients={},
                           implementations={layer: Implementation("exported", artifact.detail)
                                            for layer in case.graph.layers})
        result.loss = reference_loss(case, outputs, dtype, result, self.name)
        reference_metrics(case, outputs, result, self.name)
        for check, what in (("gradients", "gradients"), ("training", "training loop")):
            result.unavailable[check] = INFERENCE_ONLY.format(name=self.name, what=what, source=self.source)
        missing = [node.name for node in case.graph.nodes if node.name not in tensors]
        if missing and len(missing) == len(case.graph.nodes):
            result.unavailable["intermediates"] = f"{self.name} exposes no layer outputs of this model"
        return result


@contextlib.contextmanager
def native_stderr(lines: list[str]):
    """Collect what C++ code writes to file descriptor 2 (TF's MLIR converter prints its
    errors and op locations there, not into the exception) into `lines`, instead of the
    console: a refusal's reason then carries it, and the run's output stays the harness's."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", "replace").splitlines())


def first_lines(exc: BaseException, count: int = 3) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:count]) or type(exc).__name__


def safe_name(case_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)


def reference_loss(case: Case, outputs: dict[str, np.ndarray], dtype: str, result: RunResult,
                   name: str) -> np.ndarray:
    """The case's loss as the NumPy reference computes it on the runtime's outputs, in the
    case's dtype (the runtime computes none)."""
    targets = {key: (array.astype(dtype) if array.dtype.kind == "f" else array)
               for key, array in case.dataset.targets.items()}
    total = np.zeros((), dtype)
    for index, loss in enumerate(case.losses):
        spec, _ = resolve_for_reference(loss)
        total = total + spec.weight * spec.forward(outputs[case.loss_output(loss)], targets[case.loss_target(loss)])
        result.implementations[f"loss:{index}"] = Implementation(
            "reference", f"{spec.describe()} of the harness on {name}'s outputs: the runtime computes no loss")
    return np.asarray(total, dtype=dtype)


def reference_metrics(case: Case, outputs: dict[str, np.ndarray], result: RunResult, name: str) -> None:
    for metric in case.metrics:
        result.metrics[metric.label] = metric.compute(outputs[case.metric_output(metric)],
                                                      case.dataset.targets[case.metric_target(metric)])
        result.implementations[f"metric:{metric.label}"] = Implementation(
            "reference", f"{metric.describe()} of the harness on {name}'s outputs")
