"""The shipped runtimes (onnxruntime, litert) as backends: they run a case's exported model and
agree with the float64 reference; `export --format onnx|tflite` writes the file the check ran;
a missing runtime is skipped with its reason.

Kept small on purpose: each export costs seconds (torch.onnx's dynamo exporter, TF's
converter), so a few representative shipped cases stand for the rest (`python -m harness run
cases/ --frameworks numpy,onnxruntime,litert` runs them all; docs/shipping.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.backends import BACKEND_CLASSES, get_backend
from harness.weights import cases_from_data, load_cases_from_file
from harness.case.schema import BACKENDS, RUNTIMES
from harness.entry.cli import main
from harness.common.compare import DEFAULT_TOLERANCES, compare
from harness.backends.numpy_reference import run_reference
from harness.checks.runner import EXPECTED, PASS, SKIPPED, CaseRunner

CASES = Path(__file__).resolve().parent.parent / "cases"
REPRESENTATIVE = {
    # a dense network with the article's weights; a channels-first CNN (a layout the exporter
    # must transpose for TFLite, which computes NHWC); an LSTM (a loop the exporters unroll or
    # turn into a While); an embedding (integer input).
    "seed000_dense_tanh.yaml": "seed000_dense_tanh.uniform_batch",
    "conv001_same_padding.yaml": "conv001_same_padding.channels_first",
    "seed004_lstm.yaml": "seed004_lstm",
    "embedding_classifier.yaml": "embedding_classifier",
}
RUNTIME_MODULES = {"onnxruntime": "onnxruntime", "litert": "ai_edge_litert"}


def runtime_or_skip(name: str):
    backend = get_backend(name)
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"{name}: {reason.splitlines()[0]}")
    return backend


def case_named(file: str, case_id: str):
    return next(case for case in load_cases_from_file(CASES / file) if case.id == case_id)


def test_every_backend_name_has_a_class():
    assert set(BACKEND_CLASSES) == set(BACKENDS)
    assert set(RUNTIMES) <= set(BACKENDS)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("file", sorted(REPRESENTATIVE))
def test_runtime_agrees_with_the_reference(runtime, file):
    runtime_or_skip(runtime)
    runner = CaseRunner(case_named(file, REPRESENTATIVE[file]), diagnose=False)
    for check in ("forward", "intermediates"):
        result = runner.check(runtime, check)
        assert result.verdict == PASS, result.message
        assert result.tensors, "nothing compared"
    intermediates = runner.check(runtime, "intermediates")
    assert [t.tensor for t in intermediates.tensors] == [node.name for node in runner.case.graph.nodes]
    gradients = runner.check(runtime, "gradients")
    assert gradients.verdict == SKIPPED
    assert "inference-only runtime" in gradients.reason


@pytest.mark.parametrize("runtime, format", [("onnxruntime", "onnx"), ("litert", "tflite")])
def test_export_writes_the_checked_file_and_it_reproduces_the_reference(runtime, format, tmp_path, capsys):
    runtime_or_skip(runtime)
    out = tmp_path / f"model.{format}"
    assert main(["export", str(CASES / "seed000_dense_tanh.yaml"), "-k", "uniform_batch", "--format", format,
                 "--out", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    case = case_named("seed000_dense_tanh.yaml", "seed000_dense_tanh.uniform_batch")
    outputs = run_exported(format, out, case.dataset.inputs["x"])
    reference = run_reference(case)
    # The file loaded by the runtime's own API, outside the harness: the model's output is one
    # of its outputs (beside every layer's), within the float32 forward tolerance.
    tolerance = DEFAULT_TOLERANCES["float32"]["forward"]
    comparison = compare("output", "output", outputs["output"], reference.outputs["output"], tolerance,
                         expected_dtype="float32")
    assert comparison.passed, comparison.describe()



def test_run_keeps_the_checked_file_and_the_case_page_links_it(tmp_path):
    runtime_or_skip("onnxruntime")
    out = tmp_path / "report"
    assert main(["run", str(CASES / "seed000_dense_tanh.yaml"), "-k", "uniform_batch", "--frameworks",
                 "numpy,onnxruntime", "--no-strength", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    artifact = results["cases"][0]["frameworks"]["onnxruntime"]["artifact"]
    assert artifact == "artifacts/seed000_dense_tanh.uniform_batch.onnx"
    assert "artifact" not in results["cases"][0]["frameworks"]["numpy"]
    case = case_named("seed000_dense_tanh.yaml", "seed000_dense_tanh.uniform_batch")
    outputs = run_exported("onnx", out / artifact, case.dataset.inputs["x"])  # the kept file loads and runs
    assert set(outputs) >= {"output"}
    page = (out / "cases" / "seed000_dense_tanh.uniform_batch.html").read_text()
    assert f'href="../{artifact}"' in page


def test_litert_records_the_route_it_converted_and_ships_the_keras_bias_difference_with_it():
    # Keras compiles a grouped channels_first convolution natively on every CPU; the converter
    # converts that graph, Keras 3.15.1's bias bug included, so litert shows keras' documented
    # difference, on the path it recorded (not TensorFlow's runtime settings: not LiteRT's).
    runtime_or_skip("litert")
    runner = CaseRunner(case_named("discovered_keras_channels_first_bias.yaml",
                                   "discovered_keras_channels_first_bias.conv2d_grouped"), diagnose=False)
    result = runner.check("litert", "forward")
    paths = runner.execution_paths("litert")
    assert paths["conv"] == "native" and not [name for name in paths if name.startswith("tensorflow.")]
    assert result.verdict == EXPECTED, result.message
    assert result.reason.startswith("exported from keras")


def test_a_model_keras_cannot_trace_is_skipped_on_litert_with_keras_words():
    # pool002_adaptive.torchvision_head: AdaptiveAveragePooling2D to (1, 1) runs eagerly (the keras
    # column passes) but not in graph mode (cases/reproducers/keras_adaptive_pool_graph_mode.py)
    runtime_or_skip("litert")
    runner = CaseRunner(case_named("pool002_adaptive.yaml", "pool002_adaptive.torchvision_head"), diagnose=False)
    result = runner.check("litert", "forward")
    assert result.verdict == SKIPPED
    assert "tf.function" in result.reason and "Negative dimension size" in result.reason

def run_exported(format: str, path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [output.name for output in session.get_outputs()]
        return {name.split(":", 1)[1]: value for name, value in zip(names, session.run(names, {"x": x}))}
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tensorflow.lite import Interpreter
    return dict(Interpreter(model_path=str(path)).get_signature_runner()(x=x))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_training_mode_case_is_skipped_with_the_reason(runtime):
    runtime_or_skip(runtime)
    case = cases_from_data({
        "name": "dense_training_mode", "mode": "training", "samples": 4, "inputs": {"x": {"shape": [3], "data": {"normal": {}}}},
        "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
        "model": {"sequential": [{"type": "Dense", "name": "dense", "units": 2}]},
        "loss": {"type": "mean_squared_error", "reduction": "mean"}})[0]
    result = CaseRunner(case, diagnose=False).check(runtime, "forward")
    assert result.verdict == SKIPPED
    assert "training mode" in result.reason


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_missing_runtime_is_skipped_with_its_reason(runtime, monkeypatch):
    module = RUNTIME_MODULES[runtime]
    if runtime == "litert":
        # LiteRT falls back to tf.lite's interpreter; without TensorFlow there is no converter.
        module = "tensorflow"
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ModuleNotFoundError
    for name in [name for name in sys.modules if name.startswith("harness.backends.shipping.")
                 or (runtime == "litert" and name.startswith("harness.backends.keras"))]:
        monkeypatch.delitem(sys.modules, name)
    get_backend.cache_clear()
    try:
        backend = get_backend(runtime)
        reason = backend.unavailable_reason()
        assert reason and "not installed" in reason and module in reason
        result = CaseRunner(case_named("seed000_dense_tanh.yaml", "seed000_dense_tanh.single_point"),
                            diagnose=False).check(runtime, "forward")
        assert result.verdict == SKIPPED and "not installed" in result.reason
    finally:
        get_backend.cache_clear()


def test_a_layer_named_like_an_exported_op_runs_in_onnxruntime():
    """Regression: the dynamo exporter names its inner values after torch ops (`linear`); an
    output renamed to a layer called `linear` defined the name twice and ONNX Runtime refused
    the model ("Duplicate definition of name (linear)"). Outputs are now `layer:<node>`."""
    runtime_or_skip("onnxruntime")
    case = cases_from_data({
        "name": "op_named_layers", "samples": 4, "inputs": {"x": {"shape": [3], "data": {"normal": {}}}},
        "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
        "model": {"sequential": [{"type": "Dense", "name": "linear", "units": 4, "activation": "tanh"},
                                 {"type": "Dense", "name": "tanh", "units": 2}]},
        "loss": {"type": "mean_squared_error", "reduction": "mean"}})[0]
    result = CaseRunner(case, diagnose=False).check("onnxruntime", "intermediates")
    assert result.verdict == PASS, result.message
    assert [t.tensor for t in result.tensors] == ["linear", "tanh"]


def test_a_runtime_inherits_its_source_frameworks_documented_difference():
    """defaults_leaky_relu documents torch's and keras' default slopes; the exported models
    carry those defaults, so onnxruntime inherits torch's entry and litert keras' (which the
    `function` variant does not have: Keras' leaky_relu function defaults to the reference's)."""
    cases = {case.id: case for case in load_cases_from_file(CASES / "defaults_leaky_relu.yaml")}
    layer, function = cases["defaults_leaky_relu.layer"], cases["defaults_leaky_relu.function"]
    inherited = layer.expected_difference("onnxruntime", "forward")
    assert inherited is not None and inherited.reason.startswith("exported from torch")
    assert layer.expected_difference("litert", "intermediates").reason.startswith("exported from keras")
    assert function.expected_difference("litert", "forward") is None
    assert function.expected_difference("keras", "forward") is None


def test_an_inherited_difference_that_does_not_show_is_a_pass():
    """The inherited entry is the framework's (checked on the framework's column); a runtime
    that agrees with the reference passes rather than calling the case's entry stale."""
    from harness.common.compare import Tolerance
    from harness.checks.runner import CheckResult

    case = next(c for c in load_cases_from_file(CASES / "defaults_leaky_relu.yaml") if c.id.endswith(".layer"))
    runner = CaseRunner(case, diagnose=False)
    agreeing = compare("output:output", "output", np.ones(2, np.float32), np.ones(2), Tolerance(1e-4, 1e-5, ""),
                       expected_dtype="float32")
    for framework, verdict in (("onnxruntime", PASS), ("torch", "fail")):
        result = CheckResult(case=case.id, framework=framework, check="forward", against="reference",
                             verdict="error", tensors=[agreeing])
        runner._judge(result)
        assert result.verdict == verdict, (framework, result.message)


def test_litert_falls_back_to_tf_lite_without_ai_edge_litert(monkeypatch):
    runtime_or_skip("litert")
    import importlib

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.delitem(sys.modules, "harness.backends.shipping.litert")
    module = importlib.import_module("harness.backends.shipping.litert")
    import tensorflow as tf

    assert module.Interpreter is tf.lite.Interpreter
    assert "ai-edge-litert is not installed" in module.LiteRTBackend().version()


def test_the_onnx_export_scalar_reproducer_shows_it_on_this_torch():
    """cases/reproducers/torch_onnx_export_scalar_float32.py, the one-file report behind
    onnxruntime's expected difference on recurrent_chainer_links.nstep_lstm_composite: it exits 1
    while torch's ONNX export writes a float64 model's Python-float factor as float32. When the
    export keeps the double this fails: then the case's expected difference and this test go."""
    runtime_or_skip("onnxruntime")
    path = Path(__file__).resolve().parents[1] / "cases" / "reproducers" / "torch_onnx_export_scalar_float32.py"
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the file holds 0.20000000298023224" in done.stdout


def test_final_states_come_out_of_the_exported_model():
    # recurrent_states.simple_rnn's outputs are the SimpleRNN's final state `enc.h` beside the
    # model's output: the export must name every tensor a node produces, not only the node's own.
    runtime_or_skip("onnxruntime")
    runner = CaseRunner(case_named("recurrent_states.yaml", "recurrent_states.simple_rnn"), diagnose=False)
    for check in ("forward", "intermediates"):
        result = runner.check("onnxruntime", check)
        assert result.verdict == PASS, result.message
