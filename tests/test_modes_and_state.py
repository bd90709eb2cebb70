"""Layer modes and layer state: what the runner compares besides outputs and gradients.

* A training-mode run's moving statistics come back from every backend (RunResult.state) and the
  `forward` check compares them; a state that is off fails the check.
* A reused BatchNormalization in training mode updates its moving statistics once per use, in
  order, in the reference as in the frameworks.
* Dropout in training mode cannot be compared (no shared masks): every backend, the reference
  included, says so, and the runner reports `skipped` with the reason, never a pass.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from harness.weights import cases_from_data
from harness.common.errors import Unsupported
from harness.case.examples import LAYER_EXAMPLES, single_layer_case
from harness.backends.numpy_reference import run_reference
from harness.checks.runner import PASS, SKIPPED, CaseRunner, comparisons
from harness.common.compare import DEFAULT_TOLERANCES
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip


def batch_norm_case(mode: str, *, reused: bool = False, moving_variance: str = "unbiased",
                    momentum: float = 0.875):
    bn = {"type": "BatchNormalization", "name": "bn", "epsilon": 1e-5, "momentum": momentum,
          "moving_variance": moving_variance, "inputs": ["x"]}
    nodes = [bn]
    if reused:
        nodes.append({"type": "Reuse", "name": "bn_again", "layer": "bn", "inputs": ["bn"]})
    data = {
        "name": "bn_state", "dtype": "float64", "samples": 6, "mode": mode,
        "inputs": {"x": {"shape": [3], "data": {"normal": {"mean": 1.0, "std": 2.0}}}},
        "targets": {"t": {"shape": [3], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        "model": {"nodes": nodes},
        "weights": {"parameters": {"bn/moving_mean": {"values": [0.5, -0.5, 0.0]},
                                   "bn/moving_variance": {"values": [2.0, 0.5, 1.0]}}},
        "loss": {"type": "mean_squared_error", "reduction": "mean"},
    }
    (case,) = cases_from_data(data)
    return case


def test_training_updates_the_moving_statistics_by_the_stated_formula():
    """Independent of the reference's code: the update written out with numpy."""
    case = batch_norm_case("training")
    x = case.dataset.inputs["x"].astype(np.float64)
    state = run_reference(case).state
    mean, unbiased = x.mean(axis=0), x.var(axis=0, ddof=1)
    np.testing.assert_allclose(state["bn/moving_mean"], 0.875 * np.array([0.5, -0.5, 0.0]) + 0.125 * mean,
                               rtol=1e-14)
    np.testing.assert_allclose(state["bn/moving_variance"],
                               0.875 * np.array([2.0, 0.5, 1.0]) + 0.125 * unbiased, rtol=1e-14)


def test_inference_leaves_the_moving_statistics_alone():
    case = batch_norm_case("inference")
    state = run_reference(case).state
    np.testing.assert_array_equal(state["bn/moving_mean"], [0.5, -0.5, 0.0])
    np.testing.assert_array_equal(state["bn/moving_variance"], [2.0, 0.5, 1.0])


@pytest.mark.parametrize("mode", ["inference", "training"])
def test_forward_check_compares_the_state_and_fails_when_it_is_off(mode):
    case = batch_norm_case(mode)
    reference = run_reference(case)
    tolerance = DEFAULT_TOLERANCES["float64"]["forward"]
    names = [t.tensor for t in comparisons(case, "forward", reference, reference, tolerance)]
    assert names[-2:] == ["state:bn/moving_mean", "state:bn/moving_variance"]
    off = copy.deepcopy(reference)
    off.state["bn/moving_variance"] = off.state["bn/moving_variance"] * (1 + 1e-4)
    verdicts = {t.tensor: t.passed for t in comparisons(case, "forward", off, reference, tolerance)}
    assert verdicts["state:bn/moving_variance"] is False and verdicts["state:bn/moving_mean"] is True


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
@pytest.mark.parametrize("moving_variance", ["biased", "unbiased"])
def test_reused_batch_norm_updates_its_state_once_per_use(framework, moving_variance):
    backend_or_skip(framework)
    case = batch_norm_case("training", reused=True, moving_variance=moving_variance)
    runner = CaseRunner(case)
    once = run_reference(batch_norm_case("training", moving_variance=moving_variance)).state
    assert not np.allclose(runner.reference.state["bn/moving_mean"], once["bn/moving_mean"])
    for check in ("forward", "intermediates", "gradients"):
        result = runner.check(framework, check)
        assert result.verdict == PASS, result.message


def test_dropout_in_training_mode_is_unsupported_by_every_backend():
    (example,) = [e for e in LAYER_EXAMPLES if e.type == "Dropout" and e.training and e.config["rate"] > 0]
    case = single_layer_case(example)
    with pytest.raises(Unsupported, match="random mask"):
        run_reference(case)
    runner = CaseRunner(case)
    for framework in ("numpy", *FRAMEWORK_BACKENDS):
        result = runner.check(framework, "forward")
        assert result.verdict == SKIPPED, (framework, result.verdict, result.message)
        assert "random mask" in result.reason
    for framework in FRAMEWORK_BACKENDS:
        backend = backend_or_skip(framework)
        with pytest.raises(Unsupported, match="random mask"):
            backend.run(case)


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_a_wrong_state_is_a_failure_not_a_pass(framework):
    """The same case with a momentum the framework did not run with: its state must fail."""
    backend = backend_or_skip(framework)
    case = batch_norm_case("training")
    result = backend.run(case)
    expected = run_reference(batch_norm_case("training", momentum=0.75))  # a wrong momentum
    tolerance = DEFAULT_TOLERANCES["float64"]["forward"]
    failed = [t.tensor for t in comparisons(case, "forward", result, expected, tolerance) if not t.passed]
    assert failed == ["state:bn/moving_mean", "state:bn/moving_variance"]
