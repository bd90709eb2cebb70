"""Loss edge cases found by checks written outside the project (issue 27), each run on every
backend against the float64 reference (cases/scalar_outputs.yaml holds the same models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.adapters import get_backend
from harness.case import load_cases_from_file
from harness.reference import NumpyBackend
from harness.runner import PASS, CaseRunner

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
