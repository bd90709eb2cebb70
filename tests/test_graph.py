"""The reference's graph execution: shared layers, several inputs and outputs, naming.

The whole-model gradients of the reference are checked against finite differences on the
shipped seed cases (run in float64), so graph-level bookkeeping (fan-out, reuse, several
losses) is verified independently of every framework.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.weights import cases_from_data, load_cases
from harness.backends.numpy_reference import run_reference
from tests.helpers import numeric_gradient

SEED_FILES = ["cases/seed000_dense_tanh.yaml", "cases/seed001_mnist_mlp.yaml",
              "cases/seed002_functional.yaml", "cases/seed003_exp_regression.yaml"]


def seed_cases():
    return [case for case in load_cases(SEED_FILES)]


@pytest.mark.parametrize("case", seed_cases(), ids=lambda c: c.id)
def test_whole_model_gradients_match_finite_differences(case):
    weights = {name: value.astype(np.float64) for name, value in case.weights.items()}
    inputs = {name: value.astype(np.float64) for name, value in case.dataset.inputs.items()
              if value.dtype.kind == "f"}
    original_weights, original_inputs = case.weights, dict(case.dataset.inputs)
    case.weights = weights
    case.dataset.inputs.update(inputs)
    try:
        result = run_reference(case)

        def loss() -> float:
            return float(run_reference(case).loss)

        rng = np.random.default_rng(0)
        for name in case.trainable_parameters():
            positions, numeric = numeric_gradient(loss, weights[name], limit=20, rng=rng)
            np.testing.assert_allclose(result.parameter_gradients[name].reshape(-1)[positions], numeric,
                                       rtol=1e-6, atol=1e-9, err_msg=name)
        for name, value in inputs.items():
            positions, numeric = numeric_gradient(loss, value, limit=20, rng=rng)
            np.testing.assert_allclose(result.input_gradients[name].reshape(-1)[positions], numeric,
                                       rtol=1e-6, atol=1e-9, err_msg=f"input {name}")
    finally:
        case.weights = original_weights
        case.dataset.inputs.clear()
        case.dataset.inputs.update(original_inputs)


def shared_case(reuse: bool):
    """y = D(D(x)) with one Dense object (reuse) or two layers with the same initial weights."""
    second = ({"name": "again", "type": "Reuse", "layer": "first", "inputs": ["first"]} if reuse else
              {"name": "again", "type": "Dense", "units": 3, "inputs": ["first"]})
    kernel = [[0.5, -0.2, 0.1], [0.3, 0.8, -0.4], [-0.6, 0.2, 0.9]]
    parameters = {"first/kernel": {"values": kernel}, "first/bias": {"values": [0.1, 0.0, -0.1]}}
    if not reuse:
        parameters.update({"again/kernel": {"values": kernel}, "again/bias": {"values": [0.1, 0.0, -0.1]}})
    data = {
        "name": "shared", "dtype": "float64",
        "inputs": {"x": {"data": {"values": [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]]}}},
        "targets": {"t": {"data": {"values": [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]}}},
        "model": {"nodes": [{"name": "first", "type": "Dense", "units": 3, "inputs": ["x"]}, second]},
        "weights": {"parameters": parameters},
        "loss": {"type": "mean_squared_error", "reduction": "mean"},
    }
    (case,) = cases_from_data(data)
    return case


def test_reused_layer_gradient_is_the_sum_over_both_uses():
    shared = run_reference(shared_case(reuse=True))
    separate = run_reference(shared_case(reuse=False))
    assert set(shared.parameter_gradients) == {"first/kernel", "first/bias"}
    np.testing.assert_allclose(shared.outputs["again"], separate.outputs["again"])
    for parameter in ("kernel", "bias"):
        np.testing.assert_allclose(
            shared.parameter_gradients[f"first/{parameter}"],
            separate.parameter_gradients[f"first/{parameter}"] + separate.parameter_gradients[f"again/{parameter}"],
            rtol=1e-12)


def test_reused_layer_has_one_set_of_parameters():
    case = shared_case(reuse=True)
    assert list(case.graph.parameter_shapes) == ["first/kernel", "first/bias"]
    assert [node.layer for node in case.graph.nodes] == ["first", "first"]


def test_unnamed_layers_are_named_like_keras():
    data = {
        "name": "names", "samples": 2,
        "inputs": {"x": {"shape": [3], "data": {"normal": {}}}},
        "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
        "model": {"sequential": [{"type": "Dense", "units": 4}, {"type": "Dense", "units": 4, "name": "dense_1"},
                                 {"type": "Dense", "units": 2}, {"type": "Activation", "activation": "tanh"}]},
        "loss": {"type": "mean_squared_error", "reduction": "mean"},
    }
    (case,) = cases_from_data(data)
    assert [node.name for node in case.graph.nodes] == ["dense", "dense_1", "dense_2", "activation"]
