"""Export options as case variants (cases/shipping_options.yaml, docs/shipping.md "Export
options"): the ONNX opset written, a dynamic batch axis, TFLite's float16 weights with the
tolerances the variant states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.backends import get_backend
from harness.backends.numpy_reference import run_reference
from harness.case.schema import OnnxExport
from harness.checks.runner import PASS, CaseRunner
from harness.common.compare import DEFAULT_TOLERANCES, compare
from harness.weights import load_cases_from_file

CASES = Path(__file__).resolve().parent.parent / "cases"


def variant(name: str):
    return next(case for case in load_cases_from_file(CASES / "shipping_options.yaml")
                if case.id == f"shipping_options.{name}")


def runtime_or_skip(name: str):
    backend = get_backend(name)
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"{name}: {reason.splitlines()[0]}")
    return backend


def test_the_default_opset_is_the_backends_stated_one():
    runtime_or_skip("onnxruntime")
    from harness.backends.shipping.onnx_runtime import OPSET

    assert OnnxExport().opset == OPSET


@pytest.mark.parametrize("name, opset", [("defaults", 20), ("onnx_opset18", 18), ("onnx_opset23", 23)])
def test_the_onnx_file_has_the_opset_the_variant_asks_for(name, opset, tmp_path):
    import onnx

    backend = runtime_or_skip("onnxruntime")
    artifact = backend.export(variant(name), tmp_path / "model.onnx")
    model = onnx.load(str(artifact.path))
    assert [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")] == [opset]


def test_a_dynamic_batch_file_runs_other_batch_sizes(tmp_path):
    import onnxruntime

    backend = runtime_or_skip("onnxruntime")
    case = variant("onnx_dynamic_batch")
    artifact = backend.export(case, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(artifact.path), providers=["CPUExecutionProvider"])
    assert isinstance(session.get_inputs()[0].shape[0], str)  # symbolic, not 8
    reference = run_reference(case).outputs["classes"]
    images = case.dataset.inputs["image"]
    for rows in (slice(0, 3), slice(3, 8)):  # neither is the 8 samples it was exported with
        (output,) = session.run(["layer:classes"], {"image": images[rows]})
        comparison = compare("classes", "output", output, reference[rows],
                             DEFAULT_TOLERANCES["float32"]["forward"], expected_dtype="float32")
        assert comparison.passed, comparison.describe()
    # and the fixed-batch export refuses another batch size: the option is what makes it run
    fixed = backend.export(variant("defaults"), tmp_path / "fixed.onnx")
    fixed_session = onnxruntime.InferenceSession(str(fixed.path), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        fixed_session.run(["layer:classes"], {"image": images[:3]})


def test_float16_weights_are_stored_in_float16_and_judged_with_the_stated_tolerance(tmp_path):
    backend = runtime_or_skip("litert")
    case = variant("tflite_float16_weights")
    half = backend.export(case, tmp_path / "half.tflite")
    full = backend.export(variant("defaults"), tmp_path / "full.tflite")
    assert half.path.stat().st_size < 0.8 * full.path.stat().st_size
    from harness.backends.shipping.litert import Interpreter

    dtypes = {detail["dtype"] for detail in Interpreter(model_path=str(half.path)).get_tensor_details()}
    assert np.float16 in dtypes
    runner = CaseRunner(case, diagnose=False)
    stated = case.spec.export.tflite.tolerance.forward
    assert runner.tolerance("forward", "litert").atol == stated.atol
    assert runner.tolerance("forward", "keras") == DEFAULT_TOLERANCES["float32"]["forward"]  # the frameworks keep theirs
    assert runner.tolerance("forward", "onnxruntime").atol == DEFAULT_TOLERANCES["float32"]["forward"].atol


@pytest.mark.parametrize("runtime", ["onnxruntime", "litert"])
def test_every_option_variant_passes_on_the_runtimes(runtime):
    runtime_or_skip(runtime)
    for case in load_cases_from_file(CASES / "shipping_options.yaml"):
        runner = CaseRunner(case, diagnose=False)
        for check in ("forward", "intermediates"):
            result = runner.check(runtime, check)
            assert result.verdict == PASS, f"{case.id} {runtime} {check}: {result.message}"
