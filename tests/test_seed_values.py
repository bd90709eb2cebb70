"""The float64 reference against the numbers published with the seed networks.

The case matrix checks every backend against the same numbers in the case's dtype; this checks
the oracle itself in float64, where the published digits are the only uncertainty.
"""

from __future__ import annotations

import numpy as np

from harness.weights import load_cases
from harness.backends.numpy_reference import run_reference


def case(file: str, case_id: str):
    return next(c for c in load_cases([file]) if c.id == case_id)


def test_seed000_article_prediction():
    result = run_reference(case("cases/seed000_dense_tanh.yaml", "seed000_dense_tanh.single_point"))
    # The article prints 0.9301591 (float32) for input [0.3, 0.1].
    np.testing.assert_allclose(result.outputs["output"], [[0.9301591]], atol=5e-8)


def test_seed003_first_step_gradients():
    result = run_reference(case("cases/seed003_exp_regression.yaml", "seed003_exp_regression.linear_first_step"))
    # 2 (y - t) x and 2 (y - t) with y = 0, t = exp(0.80247033), as the article computes them.
    np.testing.assert_allclose(result.parameter_gradients["linear/kernel"], [[-3.5806957]], atol=5e-8)
    np.testing.assert_allclose(result.parameter_gradients["linear/bias"], [-4.4620911], atol=5e-8)


def test_seed001_parameter_count():
    mlp = case("cases/seed001_mnist_mlp.yaml", "seed001_mnist_mlp.probabilities")
    counts = {name: int(np.prod(shape)) for name, shape in mlp.graph.parameter_shapes.items()}
    assert counts["hidden/kernel"] + counts["hidden/bias"] == 100_480
    assert counts["classes/kernel"] + counts["classes/bias"] == 1_290
