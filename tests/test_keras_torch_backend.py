"""`keras-torch`: the Keras adapter's model on Keras' torch backend, in a worker process started
with KERAS_BACKEND=torch (this process keeps Keras on TensorFlow). Its forward pass, layer
outputs, gradients (torch.autograd) and training agree with the float64 reference on a few
representative cases; it inherits none of `keras`'s documented differences (the TensorFlow
backend's channels_first bias bug is not torch's); a missing torch is a skip with its reason.

Kept small: the worker's start costs about 10 s (Keras, torch and TensorFlow imported once),
and `python -m harness run cases/ --frameworks numpy,keras,keras-torch` runs every case
(docs/shipping.md, "Keras' other backends").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends import get_backend
from harness.backends.keras_other import KerasTorchBackend
from harness.weights import load_cases_from_file
from harness.checks.runner import PASS, SKIPPED, CaseRunner

CASES = Path(__file__).resolve().parent.parent / "cases"
REPRESENTATIVE = {
    # dense with the article's weights; a channels-first CNN (Keras' own NCHW call on torch); an
    # LSTM; an embedding (integer input, no input gradient); SGD steps (Keras' optimizer on
    # torch's gradients).
    "seed000_dense_tanh.uniform_batch": ("seed000_dense_tanh.yaml", ("forward", "intermediates", "gradients")),
    "conv001_same_padding.channels_first": ("conv001_same_padding.yaml", ("forward", "intermediates", "gradients")),
    "seed004_lstm": ("seed004_lstm.yaml", ("forward", "intermediates", "gradients")),
    "embedding_classifier": ("embedding_classifier.yaml", ("forward", "intermediates", "gradients")),
    "seed005_sgd_trace.float64": ("seed005_sgd_trace.yaml", ("forward", "training")),
}


def keras_torch_or_skip():
    backend = get_backend("keras-torch")
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"keras-torch: {reason.splitlines()[0]}")
    return backend


def case_named(file: str, case_id: str):
    return next(case for case in load_cases_from_file(CASES / file) if case.id == case_id)


@pytest.mark.parametrize("case_id", sorted(REPRESENTATIVE))
def test_keras_torch_agrees_with_the_reference(case_id):
    keras_torch_or_skip()
    file, checks = REPRESENTATIVE[case_id]
    runner = CaseRunner(case_named(file, case_id), diagnose=False)
    for check in checks:
        result = runner.check("keras-torch", check)
        assert result.verdict == PASS, f"{check}: {result.message or result.reason}"
        assert result.tensors, f"{check}: nothing compared"
    if "gradients" in checks:
        compared = {t.tensor for t in runner.check("keras-torch", "gradients").tensors}
        assert any(name.startswith("grad:") for name in compared), compared


def test_it_runs_on_torch_in_its_worker_while_this_process_keeps_tensorflow():
    backend = keras_torch_or_skip()
    import keras

    assert keras.backend.backend() == "tensorflow"
    assert "torch" in backend.version() and "KERAS_BACKEND=torch" in backend.version()


def test_the_tensorflow_channels_first_bias_bug_is_not_inherited():
    """cases/discovered_keras_channels_first_bias.yaml documents Keras 3.15.1's TensorFlow
    backend adding the bias along the wrong axis (native NCHW path); Keras' torch backend adds it
    along the channels: keras-torch passes, with no expected-difference entry of its own."""
    keras_torch_or_skip()
    case = case_named("discovered_keras_channels_first_bias.yaml", "discovered_keras_channels_first_bias.conv2d")
    assert case.expected_difference("keras", "forward", {"conv": "native"}) is not None
    assert case.expected_difference("keras-torch", "forward", {"conv": "native"}) is None
    runner = CaseRunner(case, diagnose=False)
    for check in ("forward", "intermediates", "gradients"):
        result = runner.check("keras-torch", check)
        assert result.verdict == PASS, f"{check}: {result.message}"
    assert runner.execution_paths("keras-torch")["conv"] == "native"


class AbsentBackend(KerasTorchBackend):
    module = "harness_test_no_such_module"


def test_a_missing_torch_is_a_skip_with_its_reason(monkeypatch):
    case = case_named("seed000_dense_tanh.yaml", "seed000_dense_tanh.uniform_batch")
    runner = CaseRunner(case, diagnose=False)
    monkeypatch.setattr(runner, "backend", lambda name: AbsentBackend())
    result = runner.check("keras-torch", "forward")
    assert result.verdict == SKIPPED
    assert "harness_test_no_such_module" in result.reason and "not installed" in result.reason


@pytest.mark.parametrize("file, case_id", [
    # a pickled Case cannot cross to the worker (FrameworkDefault[...] is a generic pydantic
    # class): the defaults cases errored until the worker loaded the case from its file
    ("defaults_gelu.yaml", "defaults_gelu.exact_model"),
    # the average-pooling builder multiplied by a NumPy array with `*`, which a torch tensor
    # that requires grad refuses
    ("pool001_explicit_padding.yaml", "pool001_explicit_padding.squeezenet_ceil"),
])
def test_fixed_harness_bugs(file, case_id):
    keras_torch_or_skip()
    runner = CaseRunner(case_named(file, case_id), diagnose=False)
    for check in ("forward", "gradients"):
        result = runner.check("keras-torch", check)
        assert result.verdict == PASS, f"{check}: {result.message or result.reason}"


def test_a_layer_keras_torch_refuses_is_a_skip_with_kerass_words():
    keras_torch_or_skip()
    runner = CaseRunner(case_named("layernorm_sequence.yaml", "layernorm_sequence.steps_training_mode"),
                        diagnose=False)
    result = runner.check("keras-torch", "forward")
    assert result.verdict == SKIPPED
    assert "Keras' torch backend cannot run this model" in result.reason and "normalized_shape" in result.reason


def test_float64_is_judged_with_float32_tolerances_and_says_why():
    """Keras demotes float64 to float32 on torch (keras/src/backend/common/dtypes.py)."""
    keras_torch_or_skip()
    runner = CaseRunner(case_named("seed005_sgd_trace.yaml", "seed005_sgd_trace.float64"), diagnose=False)
    tolerance = runner.tolerance("forward", "keras-torch")
    assert (tolerance.rtol, tolerance.atol) == (1e-4, 1e-5)
    assert "BIT64_TO_BIT32_DTYPE" in tolerance.reason
    assert runner.check("keras-torch", "forward").verdict == PASS
    assert runner.execution_paths("keras-torch")["keras.float64"] == "float32"
