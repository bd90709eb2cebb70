"""Diagnosis of recurrent states (harness/diagnosis/state_transforms.py) against a torch run
with the mistake injected by hand: its forward pass gets h0 and c0 in the other order, returns
the encoder's final h and c swapped, or drops the initial states. The hint must name the
transform and the layer on every failed check."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from harness.backends import get_backend
from harness.checks.runner import FAIL, CaseRunner, FrameworkOutcome
from harness.weights import cases_from_data

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(get_backend("torch").unavailable_reason() is not None,
                                reason="torch is not installed")

NORMAL = {"normal": {"mean": 0.0, "std": 1.0}}
DATA = {
    "name": "states_fault", "dtype": "float32", "samples": 8, "data_seed": 3,
    "inputs": {"x": {"shape": [4, 3], "data": NORMAL}, "h0": {"shape": [3], "data": NORMAL},
               "c0": {"shape": [3], "data": NORMAL}},
    "targets": {"t": {"shape": [2], "data": NORMAL}},
    "model": {"nodes": [
        {"type": "LSTM", "name": "enc", "units": 3, "initial_state": True, "return_state": True,
         "inputs": ["x", "h0", "c0"]},
        {"type": "Concatenate", "name": "states", "inputs": ["enc.h", "enc.c"]},
        {"type": "Dense", "name": "out", "units": 2, "inputs": ["states"]}]},
    "weights": {"seed": 7, "defaults": {"bias": {"initializer": "random_normal", "stddev": 0.5}}},
    "loss": {"type": "mean_squared_error", "reduction": "mean"},
}


def swap_inputs(inputs, tensors):
    inputs = dict(inputs)
    inputs["h0"], inputs["c0"] = inputs["c0"], inputs["h0"]
    return inputs, tensors


def swap_outputs(inputs, tensors):
    return inputs, lambda t: {**t, "enc.h": t["enc.c"], "enc.c": t["enc.h"]}


def zero_inputs(inputs, tensors):
    import torch  # optional framework: only where this test runs (the module skips without it)
    inputs = dict(inputs)
    for name in ("h0", "c0"):
        inputs[name] = inputs[name] * torch.zeros_like(inputs[name])  # zeros, still a function of h0
    return inputs, tensors


@pytest.mark.parametrize("fault, transform", [
    (swap_inputs, "LSTM.state_order"), (swap_outputs, "LSTM.state_order"),
    (zero_inputs, "recurrent.initial_state_ignored"),
], ids=["initial [c, h]", "final [c, h]", "initial ignored"])
def test_hint_names_the_state_mistake(monkeypatch, fault, transform):
    backend = get_backend("torch")
    forward = type(backend).forward

    def faulty(self, case, built, inputs):
        inputs, after = fault(inputs, None)
        tensors = forward(self, case, built, inputs)
        if after is None:
            return tensors
        # The swap happens before the nodes that read the states: run them again on it.
        tensors = after(tensors)
        for node in case.graph.nodes[1:]:
            node.store(tensors, built[node.layer].call(*[tensors[name] for name in node.inputs]))
        return tensors

    (case,) = cases_from_data(copy.deepcopy(DATA))
    monkeypatch.setattr(type(backend), "forward", faulty)
    result = backend.run(case)
    monkeypatch.undo()
    runner = CaseRunner(case, diagnose=True)
    runner._outcomes["torch"] = FrameworkOutcome("torch", result=result)
    checks = [runner.check("torch", check) for check in runner.checks()]
    failed = [c for c in checks if c.verdict == FAIL]
    assert failed, "the injected fault must make a check fail"
    for check in failed:
        assert check.hint is not None, f"no hint for {check.check}: {check.message}"
        names = [(t["transform"], t["layer"]) for t in check.hint["transforms"]]
        assert (transform, "enc") in names, check.hint["text"]


@pytest.mark.parametrize("transform, choice", [
    ("LSTM.state_order", "initial states read as [c, h]"), ("LSTM.state_order", "final states given as [c, h]"),
    ("recurrent.initial_state_ignored", "ignored (zeros used)"),
])
def test_state_variants_backward_matches_finite_differences(transform, choice):
    from harness.backends.numpy_reference import run_reference
    from harness.diagnosis import Context, applicable_variants, transformed_case
    from tests.helpers import numeric_gradient

    (case,) = cases_from_data({**copy.deepcopy(DATA), "dtype": "float64"})
    (chosen,) = [v for v in applicable_variants(case, Context())
                 if v.transform.name == transform and v.choice == choice]
    moved = transformed_case(case, [chosen])
    analytic = run_reference(moved)
    assert not np.allclose(analytic.outputs["out"], run_reference(case).outputs["out"])
    for name in ("h0", "c0", "x"):
        positions, numeric = numeric_gradient(lambda: float(run_reference(moved, train=False).loss),
                                               moved.dataset.inputs[name])
        np.testing.assert_allclose(analytic.input_gradients[name].reshape(-1)[positions], numeric,
                                   rtol=1e-6, atol=1e-9, err_msg=name)
