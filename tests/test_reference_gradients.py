"""The NumPy reference's backward passes against central finite differences, in float64.

This is what makes the reference an oracle independent of the frameworks: every layer example,
every activation and every loss in harness/case/examples.py is checked here.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.common.errors import Unsupported
from harness.reference.layers import LAYERS
from harness.reference.losses import LOSSES
from harness.case.examples import LAYER_EXAMPLES, LOSS_EXAMPLES
from tests.helpers import numeric_gradient

# Central differences with step 1e-6 are good to ~1e-9 (tests/helpers.py); 1e-6 relative with
# a 1e-8 floor leaves room for that and catches any wrong factor or missing term.
RTOL, ATOL = 1e-6, 1e-8


def layer_application(example, params, training):
    spec = LAYERS[example.type].model_validate({"type": example.type, **example.config})
    return spec, spec.reference(spec, params, training=training)


@pytest.mark.parametrize("example", LAYER_EXAMPLES, ids=lambda e: e.id)
def test_layer_backward_matches_finite_differences(example):
    rng = np.random.default_rng(1)
    spec = LAYERS[example.type].model_validate({"type": example.type, **example.config})
    shapes = spec.parameter_shapes(example.input_shapes)
    params = {name: example.parameter(rng, name, shape).astype(np.float64) for name, shape in shapes.items()}
    inputs = [x.astype(np.float64) if x.dtype.kind == "f" else x for x in example.inputs(rng)]
    _, layer = layer_application(example, params, example.training)
    try:
        output = layer.forward(*inputs)
    except Unsupported as exc:  # e.g. Dropout in training mode (tests/test_modes_and_state.py)
        pytest.skip(f"the reference cannot run this example: {exc}")
    weights = rng.normal(size=output.shape)  # loss = sum(output * weights): d loss/d output = weights
    input_grads = layer.backward(weights)

    def loss() -> float:
        _, fresh = layer_application(example, params, example.training)
        return float((fresh.forward(*inputs) * weights).sum())

    for index, (x, analytic) in enumerate(zip(inputs, input_grads)):
        if x.dtype.kind != "f":
            continue
        positions, numeric = numeric_gradient(loss, x)
        np.testing.assert_allclose(analytic.reshape(-1)[positions], numeric, rtol=RTOL, atol=ATOL,
                                   err_msg=f"d loss / d input {index}")
    for name, value in params.items():
        if name in spec.non_trainable():
            continue
        positions, numeric = numeric_gradient(loss, value)
        np.testing.assert_allclose(layer.grads[name].reshape(-1)[positions], numeric, rtol=RTOL,
                                   atol=ATOL, err_msg=f"d loss / d {name}")


@pytest.mark.parametrize("example", LOSS_EXAMPLES, ids=lambda e: e.id)
def test_loss_backward_matches_finite_differences(example):
    rng = np.random.default_rng(2)
    spec = LOSSES[example.config["type"]].model_validate(example.config)
    y = example.make_outputs(rng, example.output_shape).astype(np.float64)
    t = example.make_targets(rng, example.output_shape)
    analytic = spec.backward(y, t)
    positions, numeric = numeric_gradient(lambda: float(spec.forward(y, t)), y)
    np.testing.assert_allclose(analytic.reshape(-1)[positions], numeric, rtol=RTOL, atol=ATOL)


def test_softmax_rows_sum_to_one_along_the_requested_axis():
    from harness.reference.activations import Softmax

    x = np.random.default_rng(3).normal(size=(2, 3, 4))
    for axis in (-1, 1):
        y = Softmax(name="softmax", axis=axis).forward(x)
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-12)


def test_hard_sigmoid_formulas_differ_as_documented():
    """Keras 3/torch (slope 1/6) give 2/3 at x = 1; chainer/legacy Keras (slope 0.2) give 0.7."""
    from harness.reference.activations import HardSigmoid

    one = np.array([1.0])
    assert HardSigmoid(name="hard_sigmoid", slope=1 / 6).forward(one)[0] == pytest.approx(2 / 3)
    assert HardSigmoid(name="hard_sigmoid", slope=0.2).forward(one)[0] == pytest.approx(0.7)
