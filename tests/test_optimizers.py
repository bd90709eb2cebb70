"""The optimizers: the reference against hand computations, every adapter against the reference.

* Reference: a few steps on the quadratic L(theta) = theta^2 (g = 2 theta) from theta = 1,
  worked out by hand in the comments (a calculator for the square roots), with hyper-parameters
  chosen so each formula's distinctive part shows (epsilon 0.25 where its placement matters).
* Adapters: every example in harness/case/examples.py OPTIMIZER_EXAMPLES (together they reach
  every native, reparametrised and composite path) trains a small network for three steps in
  float64 in each framework; loss and parameters after every step must match the reference to
  rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.case.examples import OPTIMIZER_EXAMPLES, optimizer_example_id, training_case
from harness.reference.optimizers import OPTIMIZERS
from harness.backends.numpy_reference import run_reference
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip


def quadratic_trace(config: dict, steps: int, theta: float = 1.0) -> list[float]:
    """theta after each of `steps` reference steps on L = theta^2."""
    optimizer = OPTIMIZERS[config["type"]].model_validate(config)
    parameter = np.array([theta])
    state = optimizer.initial_state(parameter)
    trace = []
    for t in range(1, steps + 1):
        parameter = optimizer.step(parameter, 2 * parameter, state, t)
        trace.append(float(parameter[0]))
    return trace


def gradient_trace(config: dict, gradients: list[float], theta: float = 1.0) -> list[float]:
    """theta after each step with the given gradients (not those of any function)."""
    optimizer = OPTIMIZERS[config["type"]].model_validate(config)
    parameter = np.array([theta])
    state = optimizer.initial_state(parameter)
    trace = []
    for t, gradient in enumerate(gradients, start=1):
        parameter = optimizer.step(parameter, np.array([gradient]), state, t)
        trace.append(float(parameter[0]))
    return trace


ADAM = {"type": "adam", "learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.75}

HAND_COMPUTED = [
    # Plain SGD, lr 0.1: theta <- theta - 0.1 * 2 theta = 0.8 theta.
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.0}, [0.8, 0.64, 0.512]),
    # Momentum 0.5: v1 = -0.2, theta 0.8; g 1.6, v2 = -0.1 - 0.16 = -0.26, theta 0.54;
    # g 1.08, v3 = -0.13 - 0.108 = -0.238, theta 0.302.
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.5}, [0.8, 0.54, 0.302]),
    # Nesterov: v1 = -0.2, theta = 1 + 0.5 (-0.2) - 0.2 = 0.7; g 1.4, v2 = -0.24,
    # theta = 0.7 - 0.12 - 0.14 = 0.44; g 0.88, v3 = -0.208, theta = 0.44 - 0.104 - 0.088 = 0.248.
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.5, "nesterov": True}, [0.7, 0.44, 0.248]),
    # Coupled decay 0.5: g' = 2.5 theta; v1 = -0.25, theta 0.75; g' 1.875, v2 = -0.125 - 0.1875,
    # theta 0.4375.
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.5, "weight_decay": {"rate": 0.5, "coupling": "coupled"}},
     [0.75, 0.4375]),
    # Decoupled decay 0.5: theta1 = 1 - 0.1*0.5*1 - 0.2 = 0.75; g 1.5, v2 = -0.1 - 0.15 = -0.25,
    # theta2 = 0.75 - 0.1*0.5*0.75 - 0.25 = 0.4625 (not the coupled 0.4375).
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.5, "weight_decay": {"rate": 0.5, "coupling": "decoupled"}},
     [0.75, 0.4625]),
    # Adam, beta 0.5 / 0.75, epsilon 0: the first step moves exactly lr (m1/sqrt(v1) = 1 after the
    # corrections): 0.9. Step 2: g 1.8, m2 = 0.5 + 0.9 = 1.4, v2 = 0.75 + 0.25 * 3.24 = 1.56,
    # theta2 = 0.9 - 0.1 sqrt(1 - 0.5625) / 0.75 * 1.4 / sqrt(1.56) = 0.80114617. With epsilon 0
    # both placements are this same update.
    ({**ADAM, "epsilon": 0.0, "epsilon_placement": "before_bias_correction"}, [0.9, 0.8011461697]),
    ({**ADAM, "epsilon": 0.0, "epsilon_placement": "after_bias_correction"}, [0.9, 0.8011461697]),
    # Epsilon 0.25 before bias correction (epsilon-hat): m1 = 1, v1 = 1, step 0.1 sqrt(0.25) / 0.5
    # = 0.1, theta1 = 1 - 0.1 * 1 / (1 + 0.25) = 0.92.
    ({**ADAM, "epsilon": 0.25, "epsilon_placement": "before_bias_correction"}, [0.92]),
    # After bias correction: m_hat = 1 / 0.5 = 2, v_hat = 1 / 0.25 = 4, theta1 = 1 - 0.1 * 2 /
    # (2 + 0.25) = 0.91111111. Step 2: g 1.82222222, m2 = 0.5 + 0.91111111 = 1.41111111, v2 = 0.75 +
    # 0.25 * 3.32049383 = 1.58012346; m_hat = 1.41111111 / 0.75 = 1.88148148, v_hat = 1.58012346 /
    # 0.4375 = 3.61171076, theta2 = 0.91111111 - 0.1 * 1.88148148 / (1.90045015 + 0.25) = 0.82361866.
    ({**ADAM, "epsilon": 0.25, "epsilon_placement": "after_bias_correction"}, [0.9111111111, 0.8236186629]),
    # Decoupled decay 0.5 on Adam: theta1 = 1 - 0.1 - 0.1 * 0.5 * 1 = 0.85.
    ({**ADAM, "epsilon": 0.0, "epsilon_placement": "before_bias_correction",
      "weight_decay": {"rate": 0.5, "coupling": "decoupled"}}, [0.85]),
    # RMSprop rho 0.5, epsilon 0: s1 = 2, theta1 = 1 - 0.2 / sqrt(2) = 0.85857864; g 1.71715729,
    # s2 = 1 + 0.5 * 2.94862915, theta2 = 0.85857864 - 0.171715729 / sqrt(2.47431458) = 0.74941384.
    ({"type": "rmsprop", "learning_rate": 0.1, "rho": 0.5, "epsilon": 0.0, "epsilon_placement": "inside_sqrt",
      "momentum": 0.0}, [0.8585786438, 0.7494138445]),
    # Epsilon 0.25 inside: 1 - 0.2 / sqrt(2.25) = 0.86666667; outside: 1 - 0.2 / (sqrt 2 + 0.25).
    ({"type": "rmsprop", "learning_rate": 0.1, "rho": 0.5, "epsilon": 0.25, "epsilon_placement": "inside_sqrt",
      "momentum": 0.0}, [0.8666666667]),
    ({"type": "rmsprop", "learning_rate": 0.1, "rho": 0.5, "epsilon": 0.25, "epsilon_placement": "outside_sqrt",
      "momentum": 0.0}, [0.8798231161]),
    # Centered, momentum 0.5: s1 = 2, a1 = 1, d1 = 1, delta 0.2, b1 = 0.2, theta1 0.8; g 1.6,
    # s2 = 1 + 1.28 = 2.28, a2 = 0.5 + 0.8 = 1.3, d2 = 2.28 - 1.69 = 0.59,
    # b2 = 0.1 + 0.16 / sqrt(0.59) = 0.30830226, theta2 = 0.49169774.
    ({"type": "rmsprop", "learning_rate": 0.1, "rho": 0.5, "epsilon": 0.0, "epsilon_placement": "outside_sqrt",
      "momentum": 0.5, "centered": True}, [0.8, 0.4916977424]),
    # Adagrad from 0.5, epsilon 0: s1 = 4.5, theta1 = 1 - 0.2 / sqrt(4.5) = 0.90571910;
    # g 1.81143819, s2 = 4.5 + 3.28130834, theta2 = 0.90571910 - 0.181143819 / sqrt(7.78130834).
    ({"type": "adagrad", "learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 0.0,
      "epsilon_placement": "inside_sqrt"}, [0.9057190958, 0.8407813502]),
    # From 0 with epsilon 0.25: inside 1 - 0.2 / sqrt(4.25); outside 1 - 0.2 / 2.25.
    ({"type": "adagrad", "learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 0.25,
      "epsilon_placement": "inside_sqrt"}, [0.9029857500]),
    ({"type": "adagrad", "learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 0.25,
      "epsilon_placement": "outside_sqrt"}, [0.9111111111]),
]


@pytest.mark.parametrize("config, expected", HAND_COMPUTED, ids=lambda v: optimizer_example_id(v)
                         if isinstance(v, dict) else "")
def test_reference_step_matches_hand_computation(config, expected):
    np.testing.assert_allclose(quadratic_trace(config, len(expected)), expected, rtol=0, atol=1e-9)


def test_amsgrad_keeps_the_largest_second_moment():
    # Gradients 2, then 0.5: v1 = 1, v2 = 0.75 + 0.25 * 0.25 = 0.8125 < 1, so amsgrad divides by
    # sqrt(1): m2 = 0.5 + 0.25 = 0.75, theta2 = 0.9 - 0.1 sqrt(0.4375) / 0.75 * 0.75 = 0.83385622;
    # plain Adam divides by sqrt(0.8125): 0.82662006.
    adam = {**ADAM, "epsilon": 0.0, "epsilon_placement": "before_bias_correction"}
    np.testing.assert_allclose(gradient_trace({**adam, "amsgrad": True}, [2.0, 0.5]), [0.9, 0.8338562172],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(gradient_trace(adam, [2.0, 0.5]), [0.9, 0.8266200614], rtol=0, atol=1e-9)


def test_numpy_float32_step_stays_float32():
    optimizer = OPTIMIZERS["adam"].model_validate(
        {"type": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
         "epsilon_placement": "before_bias_correction"})
    parameter = np.ones(3, dtype=np.float32)
    state = optimizer.initial_state(parameter)
    assert optimizer.step(parameter, parameter, state, 1).dtype == np.float32


# Measured in float64 with these float32-exact hyper-parameters: every framework within 2e-15
# absolute of the reference after three steps (parameters of order one). 1e-12 leaves room for
# rounding and none for a different formula, whose first step already differs by >1e-6.
RTOL, ATOL = 1e-10, 1e-12


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
@pytest.mark.parametrize("config", OPTIMIZER_EXAMPLES, ids=optimizer_example_id)
def test_adapter_optimizer_agrees_with_reference(framework, config):
    backend = backend_or_skip(framework)
    case = training_case(config)
    trace = backend.run(case).training
    assert trace.status == "ran", trace.reason
    expected = run_reference(case).training
    assert len(trace.losses) == len(expected.losses) == 3
    for step, (loss, parameters) in enumerate(zip(trace.losses, trace.parameters), start=1):
        np.testing.assert_allclose(loss, expected.losses[step - 1], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{framework} loss at step {step}")
        for name, value in parameters.items():
            np.testing.assert_allclose(value, expected.parameters[step - 1][name], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{framework} {name} after step {step} ({trace.optimizer.detail})")


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_the_parameters_move(framework):
    """Guards the test above against a trace that never leaves the initial weights."""
    backend = backend_or_skip(framework)
    case = training_case(OPTIMIZER_EXAMPLES[0])
    trace = backend.run(case).training
    moved = max(float(np.abs(trace.parameters[-1][name] - case.weights[name]).max()) for name in trace.parameters[-1])
    assert moved > 1e-3
