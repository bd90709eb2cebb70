"""Verdicts and isolation: one framework's crash, absence or documented difference never hides
or stops the others, and a stale expected difference fails."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import harness.checks.runner as runner_module
from harness.backends import UnavailableBackend
from harness.backends.base import Backend, Unsupported
from harness.weights import cases_from_data
from harness.backends.numpy_reference import run_reference
from harness.checks.runner import CaseRunner, run_case

CASE = {
    "name": "tiny", "samples": 4, "dtype": "float32",
    "inputs": {"x": {"shape": [3], "data": {"normal": {}}}},
    "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
    "model": {"sequential": [{"type": "Dense", "name": "hidden", "units": 4, "activation": "tanh"},
                             {"type": "Dense", "name": "out", "units": 2}]},
    "loss": {"type": "mean_squared_error", "reduction": "mean"},
}


class ScaledReference(Backend):
    """A stand-in framework: the reference in float32, with the hidden layer scaled."""

    name = "torch"

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def run(self, case):
        result = run_reference(case, "float32", framework=self.name)
        result.intermediates["hidden"] = result.intermediates["hidden"] * np.float32(self.factor)
        return result


class Crashing(Backend):
    name = "torch"

    def run(self, case):
        raise RuntimeError("segfault-like crash inside the framework")


class CannotExpress(Backend):
    name = "torch"

    def run(self, case):
        raise Unsupported("torch cannot express this setting")


@pytest.fixture
def fake_torch(monkeypatch):
    def install(backend):
        real = runner_module.get_backend
        monkeypatch.setattr(runner_module, "get_backend",
                            lambda name: backend if name == "torch" else real(name))
    return install


def make_case(**changes):
    data = copy.deepcopy(CASE)
    data.update(changes)
    (case,) = cases_from_data(data)
    return case


def test_a_difference_fails_and_names_the_first_divergent_layer(fake_torch):
    fake_torch(ScaledReference(1.01))
    result = CaseRunner(make_case()).check("torch", "intermediates")
    assert result.verdict == "fail"
    assert result.first_divergent == "hidden"
    assert "divergence starts at layer 'hidden'" in result.message
    worst = result.worst
    assert worst.tensor == "hidden" and worst.mismatched > 0
    assert worst.max_rel_error == pytest.approx(0.01, rel=1e-3)


def test_documented_difference_is_expected_not_failed(fake_torch):
    fake_torch(ScaledReference(1.01))
    case = make_case(expected_differences=[{"frameworks": ["torch"], "checks": ["intermediates"],
                                            "reason": "scaled on purpose"}])
    result = CaseRunner(case).check("torch", "intermediates")
    assert result.verdict == "expected-difference"
    assert result.reason == "scaled on purpose"


def test_stale_documented_difference_fails(fake_torch):
    fake_torch(ScaledReference(1.0))
    case = make_case(expected_differences=[{"frameworks": ["torch"], "reason": "no longer true"}])
    result = CaseRunner(case).check("torch", "forward")
    assert result.verdict == "fail"
    assert "out of date" in result.message


def test_a_crash_is_that_frameworks_error_and_the_others_run(fake_torch):
    fake_torch(Crashing())
    report = run_case(make_case(), ["numpy", "torch"])
    verdicts = {(c.framework, c.check): c.verdict for c in report.checks}
    assert verdicts[("torch", "forward")] == "error"
    assert "segfault-like crash" in next(c for c in report.checks if c.framework == "torch").reason
    assert verdicts[("numpy", "forward")] == "pass"


def test_unsupported_setting_is_skipped_with_its_reason(fake_torch):
    fake_torch(CannotExpress())
    result = CaseRunner(make_case()).check("torch", "gradients")
    assert result.verdict == "skipped"
    assert result.reason == "torch cannot express this setting"


@pytest.mark.parametrize("required, verdict", [(False, "skipped"), (True, "error")])
def test_missing_framework_is_skipped_unless_required(fake_torch, required, verdict):
    fake_torch(UnavailableBackend("torch", "torch is not installed"))
    result = CaseRunner(make_case(), require_frameworks=required).check("torch", "forward")
    assert result.verdict == verdict
    assert "not installed" in result.reason


def test_reference_failure_is_an_error_for_every_framework(monkeypatch):
    def broken(case, *args, **kwargs):
        raise FloatingPointError("reference broke")

    monkeypatch.setattr(runner_module, "run_reference", broken)
    result = CaseRunner(make_case()).check("numpy", "forward")
    assert result.verdict == "error" and "reference broke" in result.message


def test_pairwise_comparison_between_frameworks(fake_torch):
    fake_torch(ScaledReference(1.01))
    runner = CaseRunner(make_case())
    pair = runner.pairwise("numpy", "torch", "intermediates")
    assert pair.against == "torch" and pair.verdict == "fail"
    assert runner.pairwise("numpy", "torch", "gradients").verdict == "pass"


def test_pairwise_allows_twice_the_tolerance_against_the_reference(fake_torch):
    """Each framework may sit a tolerance away from the reference on opposite sides; only more
    than twice that apart means one of them is outside what agreement allows."""
    runner = CaseRunner(make_case())
    single = runner.tolerance("intermediates")
    pair = runner.pairwise_tolerance("intermediates")
    assert (pair.rtol, pair.atol) == (2 * single.rtol, 2 * single.atol)
    fake_torch(ScaledReference(1 + 1.5 * single.rtol))  # beyond one tolerance, within two
    runner = CaseRunner(make_case())
    assert runner.check("torch", "intermediates").verdict == "fail"
    assert runner.pairwise("numpy", "torch", "intermediates").verdict == "pass"
