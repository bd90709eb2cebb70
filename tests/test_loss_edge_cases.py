"""Loss edge cases found by checks written outside the project (issue 27), each run on every
backend against the float64 reference (cases/scalar_outputs.yaml holds the same models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.backends import get_backend
from harness.weights import load_cases_from_file
from harness.backends.numpy_reference import NumpyBackend
from harness.checks.runner import PASS, CaseRunner

CASES = {case.id: case for case in load_cases_from_file(Path(__file__).parent.parent / "cases" / "scalar_outputs.yaml")}
FRAMEWORKS = ["numpy", "keras", "chainer", "torch"]


def require(framework: str) -> None:
    reason = get_backend(framework).unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("variant", ["mse_mean", "mse_sum", "bce_int32_targets"])
def test_output_without_feature_axis(framework, variant):
    """One scalar per sample: Keras' MSE returned a 0-d tensor there and the adapter raised
    IndexError; with `sum` it would also have been the batch mean, not the sum."""
    require(framework)
    runner = CaseRunner(CASES[f"scalar_outputs.{variant}"])
    for check in ("forward", "gradients"):
        result = runner.check(framework, check)
        assert result.verdict == PASS, result.message


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_integer_targets_of_a_value_loss(framework):
    """int32 targets of mean squared error: the numpy backend's input gradient was float64 in
    a float32 case (and failed its dtype check); chainer refused the targets."""
    require(framework)
    runner = CaseRunner(CASES["scalar_outputs.mse_int32_targets"])
    for check in ("forward", "gradients"):
        result = runner.check(framework, check)
        assert result.verdict == PASS, result.message


def test_numpy_backend_gradients_keep_the_case_dtype_with_integer_targets():
    case = CASES["scalar_outputs.mse_int32_targets"]
    assert case.dataset.targets["t"].dtype == np.int32
    result = NumpyBackend().run(case)
    assert result.input_gradients["x"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in result.parameter_gradients.values())
    # The value the cast must not change: sum over samples of (y - t)^2, by hand in float64.
    y = result.outputs["scalar"].astype(np.float64)
    expected = np.sum((y - case.dataset.targets["t"]) ** 2)
    assert result.loss == pytest.approx(expected, rel=1e-6)  # float32 loss of 6 terms


# --- a label of -1 in sparse categorical crossentropy (cases/sparse_ignore_label.yaml) ----------

IGNORE_CASES = {case.id: case for case in load_cases_from_file(
    Path(__file__).parent.parent / "cases" / "sparse_ignore_label.yaml")}


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("variant", ["from_logits", "from_probabilities", "sequence"])
def test_declared_ignore_label_in_every_backend(framework, variant):
    require(framework)
    runner = CaseRunner(IGNORE_CASES[f"sparse_ignore_label.{variant}"])
    for check in ("forward", "gradients"):
        result = runner.check(framework, check)
        assert result.verdict == PASS, result.message


def test_reference_drops_the_ignored_positions_and_counts_them_in_the_mean():
    """By hand: -log softmax(z)[t] per kept row, 0 for rows labelled -1, averaged over all 6."""
    from harness.backends.numpy_reference import run_reference

    case = IGNORE_CASES["sparse_ignore_label.from_logits"]
    result = run_reference(case)
    z, t = result.outputs["dense"], case.dataset.targets["t"]
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    per_row = [-log_p[i, label] if label != -1 else 0.0 for i, label in enumerate(t)]
    assert result.loss == pytest.approx(np.mean(per_row), rel=1e-12)
    # No gradient reaches the logits of an ignored row: the input gradient of those rows is 0.
    assert np.all(result.input_gradients["x"][t == -1] == 0)
    assert np.all(np.abs(result.input_gradients["x"][t != -1]) > 0)


def test_an_undeclared_label_outside_the_classes_is_refused_at_load():
    from harness.weights import cases_from_data
    from harness.common.errors import CaseError

    data = {"name": "labels", "inputs": {"x": {"shape": [4], "data": {"normal": {}}}},
            "targets": {"t": {"shape": [], "dtype": "int32", "data": {"values": [2, -1, 0]}}},
            "model": {"sequential": [{"type": "Dense", "name": "dense", "units": 3}]},
            "loss": {"type": "sparse_categorical_crossentropy", "reduction": "mean", "from_logits": True}}
    with pytest.raises(CaseError) as info:
        cases_from_data(data)
    text = info.value.render()
    assert "target 't' holds labels outside the 3 classes: [-1]" in text
    assert "declare the label on the loss: `ignore_label: -1`" in text
    data["targets"]["t"]["data"]["values"] = [2, 3, 0]  # one past the last class
    with pytest.raises(CaseError, match=r"outside the 3 classes: \[3\]"):
        cases_from_data(data)


def test_frameworks_on_an_undeclared_minus_one():
    """Why the harness refuses an undeclared -1 (semantics.md row 38), by calling each framework
    as a user would: torch and Keras raise, chainer drops the row silently (its ignore_label is -1
    by default), and gathering by index takes -1 for the last class."""
    z = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]])
    labels = np.array([2, -1])
    if not get_backend("torch").unavailable_reason():
        import torch

        with pytest.raises(IndexError, match="Target -1 is out of bounds"):
            torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(labels), reduction="none")
    if not get_backend("keras").unavailable_reason():
        from harness.backends.keras._import import keras

        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None, dtype="float64")
        with pytest.raises(Exception, match="label value of -1 which is outside the valid range"):
            loss(labels, z)
        picked = keras.ops.take_along_axis(z, keras.ops.expand_dims(labels, -1), axis=-1)
        assert float(np.asarray(picked)[1, 0]) == z[1, -1]  # -1 read as the last class
    if not get_backend("chainer").unavailable_reason():
        from harness.backends.chainer._import import F

        per_row = F.softmax_cross_entropy(z, labels.astype(np.int32), reduce="no").array
        log_p = z[0] - np.log(np.exp(z[0]).sum())
        np.testing.assert_allclose(per_row, [-log_p[2], 0.0], rtol=1e-12)  # row 1 dropped, no error


# --- a case without a loss (cases/forward_only.yaml) ---------------------------------------------

FORWARD_ONLY = {case.id: case for case in load_cases_from_file(
    Path(__file__).parent.parent / "cases" / "forward_only.yaml")}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_forward_only_case_without_loss(framework):
    """Forward values and stated outputs compare; gradients are not applicable, with the reason,
    neither failed nor passed."""
    require(framework)
    runner = CaseRunner(FORWARD_ONLY["forward_only.known_prediction"])
    for check in ("forward", "intermediates", "known_values"):
        result = runner.check(framework, check)
        assert result.verdict == PASS, result.message
        assert "loss" not in {tensor.tensor for tensor in result.tensors}
    gradients = runner.check(framework, "gradients")
    assert gradients.verdict == "skipped" and gradients.reason.startswith("not applicable: the case states no loss")
    assert runner.pairwise("numpy", framework, "gradients") is None


def test_forward_only_case_defaults_to_the_checks_that_need_no_loss():
    case = FORWARD_ONLY["forward_only.default_checks"]
    assert case.losses == [] and case.dataset.targets == {}
    assert case.spec.checks == ["forward", "intermediates"]
