"""Recurrent layers' states in and out: the reference's gradients w.r.t. the initial states and
from the final states, against central finite differences, and the graph's further outputs.

tests/test_reference_gradients.py checks the `initial_state` examples (one output, several
inputs); here the outputs are several too (`return_state`): the loss weighs the output and
every final state, so a missing term in either direction shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.case.case import cases_from_data
from harness.common.errors import CaseError
from harness.reference.layers import LAYERS
from tests.helpers import numeric_gradient

RTOL, ATOL = 1e-6, 1e-8  # as tests/test_reference_gradients.py: central differences, float64

CONFIGS = [
    {"type": "LSTM", "units": 3},
    {"type": "LSTM", "units": 3, "return_sequences": True},
    {"type": "LSTM", "units": 3, "go_backwards": True, "activation": "softsign"},
    {"type": "GRU", "units": 3, "reset_after": True},
    {"type": "GRU", "units": 3, "reset_after": False, "return_sequences": True},
    {"type": "SimpleRNN", "units": 3, "go_backwards": True, "return_sequences": True},
]


@pytest.mark.parametrize("initial_state", [False, True])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_final_states_backward_matches_finite_differences(config, initial_state):
    rng = np.random.default_rng(3)
    spec = LAYERS[config["type"]].model_validate({**config, "return_state": True, "initial_state": initial_state})
    states = len(spec.state_names)
    shapes = [(4, 2)] + [(3,)] * (states if initial_state else 0)
    params = {name: 0.5 * rng.normal(size=shape) for name, shape in spec.parameter_shapes(shapes).items()}
    inputs = [rng.normal(size=(2, *shape)) for shape in shapes]
    outputs = spec.reference(spec, params).forward(*inputs)
    assert len(outputs) == 1 + states
    weights = [rng.normal(size=output.shape) for output in outputs]

    def loss() -> float:
        fresh = spec.reference(spec, params).forward(*inputs)
        return float(sum((y * w).sum() for y, w in zip(fresh, weights)))

    layer = spec.reference(spec, params)
    layer.forward(*inputs)
    gradients = layer.backward(*weights)
    assert len(gradients) == len(inputs)
    for index, (x, analytic) in enumerate(zip(inputs, gradients)):
        positions, numeric = numeric_gradient(loss, x)
        np.testing.assert_allclose(analytic.reshape(-1)[positions], numeric, rtol=RTOL, atol=ATOL,
                                   err_msg=f"d loss / d input {index}")
    for name, value in params.items():
        positions, numeric = numeric_gradient(loss, value)
        np.testing.assert_allclose(layer.grads[name].reshape(-1)[positions], numeric, rtol=RTOL, atol=ATOL,
                                   err_msg=f"d loss / d {name}")


def test_final_state_is_the_last_output_and_zero_states_change_nothing():
    """Independent of the backward: without return_sequences Keras' output is h itself, and
    zeros given as initial states are the default start."""
    rng = np.random.default_rng(0)
    plain = LAYERS["LSTM"].model_validate({"type": "LSTM", "units": 3})
    stated = LAYERS["LSTM"].model_validate({"type": "LSTM", "units": 3, "initial_state": True, "return_state": True})
    params = {name: rng.normal(size=shape) for name, shape in plain.parameter_shapes([(4, 2)]).items()}
    x = rng.normal(size=(2, 4, 2))
    y, h, c = stated.reference(stated, params).forward(x, np.zeros((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(y, h)
    np.testing.assert_array_equal(y, plain.reference(plain, params).forward(x))
    assert not np.allclose(c, h)


NORMAL = {"normal": {"mean": 0.0, "std": 1.0}}


def _case(nodes, outputs, inputs=None):
    return {
        "name": "states", "dtype": "float64", "samples": 2,
        "inputs": inputs or {name: {"shape": shape, "data": NORMAL}
                             for name, shape in (("x", [4, 2]), ("h0", [3]), ("c0", [3]))},
        "targets": {"t": {"shape": [3], "data": NORMAL}},
        "model": {"nodes": nodes, "outputs": outputs},
        "loss": {"type": "mean_squared_error", "reduction": "mean", "output": outputs[0]},
    }


def test_graph_names_the_final_states_as_tensors():
    (case,) = cases_from_data(_case(
        [{"type": "LSTM", "name": "lstm", "units": 3, "initial_state": True, "return_state": True,
          "inputs": ["x", "h0", "c0"]},
         {"type": "Dense", "name": "head", "units": 3, "inputs": ["lstm.c"]}],
        ["head", "lstm.h"]), file="<states>")
    node = case.graph.node("lstm")
    assert node.outputs == ["lstm", "lstm.h", "lstm.c"]
    assert case.graph.shapes["lstm.c"] == (3,)


@pytest.mark.parametrize("nodes, words", [
    ([{"type": "LSTM", "units": 3, "initial_state": True, "inputs": ["x", "h0"]}], "takes 3 inputs"),
    ([{"type": "LSTM", "units": 4, "initial_state": True, "inputs": ["x", "h0", "c0"]}], "must be (4,)"),
    ([{"type": "GRU", "units": 3, "reset_after": True, "inputs": ["x"], "name": "g"},
      {"type": "Dense", "units": 3, "inputs": ["g.h"]}], "unknown input 'g.h'"),
])
def test_states_wrongly_wired_are_case_errors(nodes, words):
    with pytest.raises(CaseError, match=words.replace("(", r"\(").replace(")", r"\)")):
        cases_from_data(_case(nodes, [nodes[-1].get("name") or "dense"]), file="<states>")
