"""The diagnosis search (issue 24): one mistake in every layer of a kind, equal fits named
together, and a search without a hint that says what it tried and what came closest.

Faults are injected into torch by hand, as tests/test_diagnosis.py does: the case torch runs is
written with the wrong value, or its weights edited with NumPy."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from harness.backends import get_backend
from harness.weights import cases_from_data
from harness.checks.runner import FAIL
from harness.diagnosis.hints import TIME_BUDGET_S, SearchLog
from tests.test_diagnosis import base, edit_weights, run_with_fault

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(get_backend("torch").unavailable_reason() is not None,
                                reason="torch is not installed")


def seed003_mlp():
    with open("cases/seed003_exp_regression.yaml") as handle:
        data = yaml.safe_load(handle)
    data["variants"] = [v for v in data["variants"] if v["name"] == "mlp"]
    return data


def slope_everywhere(value):
    def faulty(case, data):
        data = copy.deepcopy(data)
        for layer in data["variants"][0]["model"]["sequential"]:
            layer["activation"]["negative_slope"] = value
        (wrong,) = cases_from_data(data)
        return wrong
    return faulty


def failed(checks):
    found = [c for c in checks if c.verdict == FAIL]
    assert found, "the injected fault must make a check fail"
    return found


def test_one_slope_in_all_three_leaky_layers_is_named_in_all_three():
    """seed003's network with torch's slope 0.01 in every leaky_relu: no single layer or pair
    matches; the group "every leaky_relu" does, within the time bound."""
    _, checks = run_with_fault(seed003_mlp(), slope_everywhere(0.01))
    for check in failed(checks):
        assert check.hint is not None, check.message
        named = {(t["transform"], t["layer"], t["choice"].split()[0]) for t in check.hint["transforms"]}
        assert named == {("leaky_relu.negative_slope", layer, "0.01") for layer in ("hidden1", "hidden2", "output")}
        assert "in layers hidden1, hidden2 and output" in check.hint["text"]
        assert check.hint["seconds"] < TIME_BUDGET_S


STACKED = [{"type": "LSTM", "name": "lower", "units": 3, "return_sequences": True},
           {"type": "LSTM", "name": "upper", "units": 3}, {"type": "Dense", "name": "out", "units": 2}]


def double_forget_bias(weights):
    for layer in ("lower", "upper"):
        bias = weights[f"{layer}/bias"]
        bias[3:6] *= 2  # the f block of [i, f, c, o], 3 units


def test_forget_bias_added_twice_in_both_lstm_layers_is_named():
    _, checks = run_with_fault(base(STACKED, shape=[4, 3], targets=[2]), edit_weights(double_forget_bias))
    for check in failed(checks):
        assert check.hint is not None, check.message
        named = {(t["transform"], t["layer"], t["choice"]) for t in check.hint["transforms"]}
        assert named == {("LSTM.forget_bias", "lower", "added twice"), ("LSTM.forget_bias", "upper", "added twice")}
        assert check.hint["seconds"] < TIME_BUDGET_S


BN_WIDE = [{"type": "Dense", "name": "hidden", "units": 4},
           {"type": "BatchNormalization", "name": "bn", "epsilon": 0.5, "momentum": 0.9, "moving_variance": "biased"},
           {"type": "Dense", "name": "out", "units": 2}]


def test_two_epsilons_the_data_cannot_tell_apart_are_both_named():
    """torch's BatchNorm epsilon 1e-5 against the case's 0.5: on inputs of variance ~2 the
    reference with 1e-5 and with chainer's 2e-5 agree within float32 tolerance, so the hint must
    name both, never one as if the data had chosen it."""
    from tests.test_diagnosis import edit_data, setting

    _, checks = run_with_fault(base(BN_WIDE, shape=[3], targets=[2]),
                               edit_data(setting(("model", "sequential", 1, "epsilon"), 1e-5)))
    texts = {c.check: c.hint["text"] for c in failed(checks)}
    assert all("1e-05 (torch" in text for text in texts.values()), texts  # the true value, always
    # The forward check cannot tell them apart; gradients can (there only 1e-5 matches, and the
    # hint names it alone: an alternative is named only where it matches as well).
    assert "2e-05 (chainer" in texts["forward"] and "cannot tell these apart" in texts["forward"], texts
    assert all("2e-05" not in text for check, text in texts.items() if "cannot tell" not in text)


def test_no_hint_says_what_was_searched_and_the_nearest_miss():
    def noise(weights):
        weights["out/kernel"] = weights["out/kernel"] + np.random.default_rng(0).normal(0, 0.3, weights["out/kernel"].shape)
    _, checks = run_with_fault(base(DENSE_SMALL, shape=[4], targets=[2]), edit_weights(noise))
    for check in failed(checks):
        assert check.hint is None
        search = check.search
        assert search["tried"] == search["candidates"] > 0 and not search["exhausted"]
        assert "searched: no transform of the catalogue matches: tried" in check.message
        nearest = search["nearest"]
        if nearest is not None:  # something came closer than the untransformed reference
            assert nearest["tolerance_ratio"] < nearest["untransformed_tolerance_ratio"]
            assert "nearest miss:" in check.message


def test_a_search_out_of_time_says_it_stopped():
    from harness.checks.runner import CaseRunner, FrameworkOutcome

    def noise(weights):
        weights["out/kernel"] = weights["out/kernel"] + 0.5
    (case,) = cases_from_data(base(DENSE_SMALL, shape=[4], targets=[2]))
    wrong = edit_weights(noise)(copy.copy(case), None)
    runner = CaseRunner(case)
    runner._outcomes["torch"] = FrameworkOutcome("torch", result=get_backend("torch").run(wrong))
    from harness.diagnosis.hints import Diagnoser
    runner._diagnoser = Diagnoser(case, budget_s=0.0)
    check = runner.check("torch", "forward")
    assert check.verdict == FAIL and check.search["exhausted"]
    assert "stopped at the 0 s bound" in check.message


DENSE_SMALL = [{"type": "Dense", "name": "square", "units": 4, "activation": "tanh"},
               {"type": "Dense", "name": "out", "units": 2}]


def test_a_search_with_nothing_to_try_says_so_not_tried_0_of_0():
    """A case whose layers no transform applies to (an expected difference in a plain Dense, say)
    must not read as a search that failed to run."""
    text = SearchLog(tried=0, candidates=0).summary()
    assert "0 of 0" not in text
    assert "nothing to try" in text
    assert "tried 3 of 5" in SearchLog(tried=3, candidates=5).summary()
