"""Training cases: the schema, the batches, the seed SGD trace, the runner's verdicts, and what
results.json and the report get.

The optimizers themselves are checked in test_optimizers.py.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import numpy as np
import pytest

import harness.checks.runner as runner_module
from harness.backends.base import Backend, TrainingTrace, Unsupported
from harness.weights import cases_from_data, load_cases
from harness.common.errors import CaseError
from harness.reference.layers.core import Dense
from harness.backends.numpy_reference import run_reference
from harness.output.report.training_plot import divergence_svg
from harness.output.results import training_summary
from harness.checks.runner import CaseRunner, run_case
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip

CASE = {
    "name": "tiny_training", "samples": 6, "dtype": "float64",
    "inputs": {"x": {"shape": [3], "data": {"normal": {}}}},
    "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
    "model": {"sequential": [{"type": "Dense", "name": "hidden", "units": 4, "activation": "tanh"},
                             {"type": "Dense", "name": "out", "units": 2}]},
    "loss": {"type": "mean_squared_error", "reduction": "mean"},
    "optimizer": {"type": "sgd", "learning_rate": 0.125, "momentum": 0.5},
    "training": {"steps": 5, "batch_size": 2},
    "checks": ["forward", "training"],
}


def make_case(**changes):
    data = copy.deepcopy(CASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    (case,) = cases_from_data(data)
    return case


def load_error(**changes) -> str:
    with pytest.raises(CaseError) as info:
        make_case(**changes)
    return info.value.render()


# --- the schema ---------------------------------------------------------------------------------

def test_optimizer_without_training_section_is_an_error():
    assert "`training` is missing" in load_error(training=None)


def test_training_without_the_check_is_an_error():
    assert "must list the `training` check" in load_error(checks=["forward"])


def test_training_check_without_optimizer_is_an_error():
    assert "needs both `optimizer` and `training`" in load_error(optimizer=None)


def test_learning_rate_has_no_default():
    text = load_error(optimizer={"type": "sgd", "momentum": 0.0})
    assert "optimizer.learning_rate: required field is missing" in text


def test_epsilon_placement_has_no_default():
    text = load_error(optimizer={"type": "rmsprop", "learning_rate": 0.1, "rho": 0.9, "epsilon": 1e-7,
                                 "momentum": 0.0})
    assert "optimizer.epsilon_placement: required field is missing" in text


def test_nesterov_needs_momentum():
    assert "nesterov needs a momentum > 0" in load_error(
        optimizer={"type": "sgd", "learning_rate": 0.1, "momentum": 0.0, "nesterov": True})


def test_batches_must_split_the_samples():
    text = load_error(training={"steps": 3, "batch_size": 4})
    assert "training.batch_size" in text and "6 samples do not split into batches of 4" in text


def test_known_step_beyond_the_training_is_an_error():
    text = load_error(checks=["training", "known_values"], expect={
        "source": "test", "atol": 1e-6, "steps": [{"step": 6, "loss": 1.0}]})
    assert "step 6 is not trained" in text and "from 1 to 5" in text


def test_known_step_names_a_trainable_parameter():
    text = load_error(checks=["training", "known_values"], expect={
        "source": "test", "atol": 1e-6, "steps": [{"step": 1, "parameters": {"hidden/W": [1.0]}}]})
    assert "unknown trainable parameter 'hidden/W'" in text


# --- batches and the reference trace ------------------------------------------------------------

def test_batches_are_consecutive_slices_and_start_again_after_the_last():
    case = make_case()
    batches = case.training_batches()
    x = case.dataset.inputs["x"]
    assert len(batches) == 5
    for step, rows in enumerate([(0, 2), (2, 4), (4, 6), (0, 2), (2, 4)]):
        np.testing.assert_array_equal(batches[step].inputs["x"], x[rows[0]:rows[1]])
        np.testing.assert_array_equal(batches[step].targets["t"], case.dataset.targets["t"][rows[0]:rows[1]])


def test_reference_trace_is_sgd_on_the_reference_gradients():
    """Step by step: the reference's gradient of each batch at the current weights, then the
    momentum update written out here."""
    case = make_case()
    trace = run_reference(case).training
    weights = dict(case.weights)
    velocity = {name: np.zeros_like(value) for name, value in weights.items()}
    for step, batch in enumerate(case.training_batches()):
        gradients = run_reference(replace(case, dataset=batch, weights=weights), train=False).parameter_gradients
        for name in weights:
            velocity[name] = 0.5 * velocity[name] - 0.125 * gradients[name]
            weights[name] = weights[name] + velocity[name]
            np.testing.assert_allclose(trace.parameters[step][name], weights[name], rtol=1e-14, atol=1e-15)


# --- the seed: the Chainer regression article's first SGD steps -----------------------------------

def seed_case(variant: str):
    return next(c for c in load_cases(["cases/seed005_sgd_trace.yaml"]) if c.id == f"seed005_sgd_trace.{variant}")


def test_seed_sgd_trace_by_hand():
    """y = W x + b from 0, t = exp(x), L = (y - t)^2, W -= 0.01 * 2 (y - t) x, b -= 0.01 * 2 (y - t),
    one sample per step; the first step is the article's: W = 0.035806957, b = 0.044620911."""
    case = seed_case("float64")
    trace = run_reference(case).training
    x = case.dataset.inputs["x"][:, 0].astype(float)
    assert x[0] == pytest.approx(0.80247033, abs=0)
    W = b = 0.0
    for step in range(5):
        y, t = W * x[step] + b, math.exp(x[step])
        assert float(trace.losses[step]) == pytest.approx((y - t) ** 2, rel=1e-14)
        W, b = W - 0.01 * 2 * (y - t) * x[step], b - 0.01 * 2 * (y - t)
        assert float(trace.parameters[step]["linear/kernel"][0, 0]) == pytest.approx(W, rel=1e-14)
        assert float(trace.parameters[step]["linear/bias"][0]) == pytest.approx(b, rel=1e-14)
    first = trace.parameters[0]
    np.testing.assert_allclose(first["linear/kernel"], [[0.035806957]], atol=5e-10)
    np.testing.assert_allclose(first["linear/bias"], [0.044620911], atol=5e-10)


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_seed_first_step_in_every_framework(framework):
    backend_or_skip(framework)
    for variant in ("float32", "float64"):
        result = CaseRunner(seed_case(variant)).check(framework, "known_values")
        assert result.verdict == "pass", result.message
        assert {t.tensor for t in result.tensors} == {"loss@step1", "linear/kernel@step1", "linear/bias@step1"}


# --- non-trainable parameters stay as loaded -----------------------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_optimizer_never_updates_non_trainable_parameters(framework, monkeypatch):
    """With the bias declared state (as BatchNormalization's moving statistics are), the
    optimizer is built on the kernels only: the native biases keep their loaded values."""
    backend = backend_or_skip(framework)
    monkeypatch.setattr(Dense, "non_trainable", lambda self: frozenset({"bias"}))
    case = make_case(weights={"defaults": {"bias": {"initializer": "random_normal", "stddev": 0.5}}})
    assert case.trainable_parameters() == ["hidden/kernel", "out/kernel"]
    with backend.session(case):
        built, _ = backend.build(case)
        losses = [(loss, backend.build_loss(loss, case.spec.dtype)[0]) for loss in case.losses]
        trace = backend.train_built(case, built, losses)
        for layer in ("hidden", "out"):
            bias = next(b for b in built[layer].bindings if b.parameter == "bias")
            np.testing.assert_array_equal(bias.transform.from_native(backend.read(bias.native)),
                                          case.weights[f"{layer}/bias"])
    assert set(trace.parameters[-1]) == {"hidden/kernel", "out/kernel"}
    assert not np.allclose(trace.parameters[-1]["out/kernel"], case.weights["out/kernel"])


# --- verdicts ------------------------------------------------------------------------------------

class PerturbedTraining(Backend):
    """The reference in float64, with one parameter nudged from a given step on."""

    name = "torch"

    def __init__(self, from_step: int | None = None, status: str = "ran") -> None:
        self.from_step, self.status = from_step, status

    def run(self, case):
        result = run_reference(case, framework=self.name)
        if self.status != "ran":
            result.training = TrainingTrace(status=self.status, reason=f"{self.status} on purpose")
        elif self.from_step is not None:
            for parameters in result.training.parameters[self.from_step - 1:]:
                parameters["out/bias"] = parameters["out/bias"] * (1 + 1e-4)
        return result


class NoOptimizer(Backend):
    name = "torch"

    def run(self, case):
        raise Unsupported("should not be reached")


@pytest.fixture
def fake_torch(monkeypatch):
    def install(backend):
        real = runner_module.get_backend
        monkeypatch.setattr(runner_module, "get_backend", lambda name: backend if name == "torch" else real(name))
    return install


def test_a_divergence_fails_and_names_its_first_step(fake_torch):
    fake_torch(PerturbedTraining(from_step=3))
    result = CaseRunner(make_case()).check("torch", "training")
    assert result.verdict == "fail"
    assert result.first_divergent_step == 3
    assert "divergence starts at step 3" in result.message
    failed = {t.tensor for t in result.tensors if not t.passed}
    assert failed == {"out/bias@step3", "out/bias@step4", "out/bias@step5"}


def test_identical_training_passes_and_compares_every_step(fake_torch):
    fake_torch(PerturbedTraining())
    result = CaseRunner(make_case()).check("torch", "training")
    assert result.verdict == "pass"
    # Per step: the loss and four parameters.
    assert len(result.tensors) == 5 * 5
    assert [t.step for t in result.tensors[:6]] == [1, 1, 1, 1, 1, 2]


@pytest.mark.parametrize("status, verdict", [("skipped", "skipped"), ("error", "error")])
def test_a_training_that_could_not_run_keeps_the_other_checks(fake_torch, status, verdict):
    fake_torch(PerturbedTraining(status=status))
    runner = CaseRunner(make_case())
    training = runner.check("torch", "training")
    assert training.verdict == verdict and training.reason == f"{status} on purpose"
    assert runner.check("torch", "forward").verdict == "pass"


def test_training_tolerance_can_be_overridden(fake_torch):
    fake_torch(PerturbedTraining(from_step=1))
    case = make_case(tolerance={"training": {"rtol": 1e-3, "atol": 0.0, "reason": "test"}})
    assert CaseRunner(case).check("torch", "training").verdict == "pass"


# --- results.json and the plot -------------------------------------------------------------------

def test_results_hold_the_divergence_per_step_and_the_plot_draws_it(fake_torch):
    fake_torch(PerturbedTraining(from_step=2))
    report = run_case(make_case(), ["numpy", "torch"])
    summary = training_summary(report)
    assert summary["optimizer"].startswith("sgd(") and summary["steps"] == 5
    torch_series = summary["divergence"]["torch"]
    assert torch_series["steps"] == [1, 2, 3, 4, 5]
    assert torch_series["parameters"][0] == 0.0 and torch_series["parameters"][1] > 0
    assert summary["pairwise_divergence"]["numpy vs torch"]["parameters"][1] > 0
    svg = divergence_svg(summary["divergence"], title="tiny <case>")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 4  # two frameworks, two panels
    assert "tiny &lt;case&gt;" in svg


def test_plot_of_nothing_is_empty():
    assert divergence_svg({}) == ""
    assert divergence_svg({"torch": {"steps": [1], "loss": [None], "parameters": ["nan"]}}) == ""


# --- moving statistics after each step ------------------------------------------------------------

BATCHNORM_LAYERS = [{"type": "Dense", "name": "hidden", "units": 4},
                    {"type": "BatchNormalization", "name": "bn", "epsilon": 1e-3, "momentum": 0.75,
                     "moving_variance": "biased"},
                    {"type": "Dense", "name": "out", "units": 2}]


class PerturbedMovingMean(Backend):
    """The reference in float64, with BatchNormalization's moving mean nudged from a given step
    on: what a framework with another momentum convention would leave behind."""

    name = "torch"

    def __init__(self, from_step: int) -> None:
        self.from_step = from_step

    def run(self, case):
        result = run_reference(case, framework=self.name)
        for state in result.training.state[self.from_step - 1:]:
            state["bn/moving_mean"] = state["bn/moving_mean"] + 1e-3
        return result


def test_moving_statistics_are_compared_after_every_step(fake_torch):
    case = make_case(mode="training", model={"sequential": BATCHNORM_LAYERS})
    assert case.state_parameters() == ["bn/moving_mean", "bn/moving_variance"]
    fake_torch(PerturbedMovingMean(from_step=2))
    result = CaseRunner(case).check("torch", "training")
    assert result.verdict == "fail" and result.first_divergent_step == 2
    assert {t.tensor for t in result.tensors if not t.passed} == {
        f"state:bn/moving_mean@step{step}" for step in range(2, 6)}
    # The trainable parameters and the loss are untouched by the nudge: only the state differs.
    assert all(t.passed for t in result.tensors if t.kind != "training_state")


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_each_framework_reports_its_moving_statistics_per_step(framework):
    backend_or_skip(framework)
    case = make_case(mode="training", model={"sequential": BATCHNORM_LAYERS})
    result = CaseRunner(case).check(framework, "training")
    assert result.verdict == "pass", result.message
    states = [t for t in result.tensors if t.kind == "training_state"]
    assert len(states) == 5 * 2  # five steps, two moving statistics


def test_the_plot_has_a_moving_statistics_panel_only_where_there_are_some(fake_torch):
    fake_torch(PerturbedMovingMean(from_step=2))
    case = make_case(mode="training", model={"sequential": BATCHNORM_LAYERS})
    summary = training_summary(run_case(case, ["numpy", "torch"]))
    assert summary["divergence"]["torch"]["state"][0] == 0.0
    assert summary["divergence"]["torch"]["state"][1] > 0
    assert divergence_svg(summary["divergence"]).count("<polyline") == 6  # two frameworks, three panels
    plain = training_summary(run_case(make_case(), ["numpy"]))
    assert divergence_svg(plain["divergence"]).count("<polyline") == 2
