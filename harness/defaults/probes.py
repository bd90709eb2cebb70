"""Interpreting probes: what a framework computed at a point says about what its default means.

The adapters evaluate their framework (a function at a point, a layer on a tiny input, one
optimizer step) and hand the numbers here. The candidate meanings are computed with NumPy from
the harness's own reference math (harness/reference/activations.py), never typed in as expected answers:
a probe recognises a meaning by reproducing the framework's number with one candidate formula
and no other.

Probes run in float64, but Keras passes some Python-float hyper-parameters through float32
(keras/src/backend/tensorflow/core.py `cast`: tf.cast of a Python float makes a float32 tensor first: leaky_relu's slope, gelu's constants, optimizer betas), so values are
recognised to a relative 1e-6, far below the gaps between the candidates.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from harness.reference.activations import ACTIVATIONS

RECOGNISE_RTOL = 1e-6


def snap(value: float, tolerance: float = RECOGNISE_RTOL) -> float:
    """The simple fraction (denominator <= 100) a measured value is, if it is one within
    `tolerance` (relative); otherwise the value itself. 0.16666669 (float32) -> 1/6."""
    fraction = Fraction(value).limit_denominator(100)
    if abs(float(fraction) - value) <= tolerance * abs(value):
        return float(fraction)
    return float(value)


def show(value: Any) -> str:
    """A short, exact-enough text for a default: 0.3, 1e-07, 1/6, 'tanh', True."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, dict) and "name" in value:
        params = ", ".join(f"{k}={show(v)}" for k, v in value.items() if k != "name")
        return f"{value['name']}({params})" if params else value["name"]
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(show(v) for v in value) + ")"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        text = f"{value:.6g}"
        if float(text) == value:
            return text
        fraction = Fraction(value).limit_denominator(100)
        if float(fraction) == value:
            return f"{fraction.numerator}/{fraction.denominator}"
        return f"{value:.9g}"
    return str(value)


def recognise(measured: float, candidates: dict[str, float], rtol: float = RECOGNISE_RTOL) -> str | None:
    """The one candidate label whose predicted value matches `measured`, else None."""
    matches = [label for label, predicted in candidates.items()
               if abs(predicted - measured) <= rtol * max(abs(predicted), 1e-300)]
    return matches[0] if len(matches) == 1 else None


# --- activations ------------------------------------------------------------------------------

def activation(config: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """The harness's reference forward of an activation config, e.g. {'name': 'tanh'}."""
    spec = ACTIVATIONS[config["name"]].model_validate(config)
    return lambda x: spec.forward(np.asarray(x, dtype=np.float64))


def leaky_relu_slope(y_at_minus_one: float) -> tuple[float, str]:
    """f(-1) = -slope for leaky_relu."""
    return snap(-y_at_minus_one), f"f(-1) = {y_at_minus_one:.9g}"


HARD_SIGMOID_POINTS = (-10.0, -1.0, 0.0, 1.0, 10.0)


def hard_sigmoid_formula(values: list[float]) -> tuple[float | None, str, str]:
    """(slope, formula, probe text) from f at HARD_SIGMOID_POINTS.

    The formula is recognised as clip(slope x + offset, 0, 1) when f is linear through -1, 0, 1
    and saturates at 0 and 1 by +-10; the slope and offset are read off the values."""
    low, minus_one, zero, one, high = values
    probe = "f(-10, -1, 0, 1, 10) = " + ", ".join(f"{v:.9g}" for v in values)
    slope, offset = snap((one - minus_one) / 2), snap(zero)
    linear = abs((one - zero) - (zero - minus_one)) <= RECOGNISE_RTOL
    if not (linear and abs(low) <= RECOGNISE_RTOL and abs(high - 1) <= RECOGNISE_RTOL):
        return None, "not of the form clip(a x + b, 0, 1)", probe
    return slope, f"clip({show(slope)} x + {show(offset)}, 0, 1)", probe


GELU_FORMS = {"none": "exact: x Phi(x), with erf", "tanh": "tanh approximation"}


def gelu_form(y_at_one: float) -> tuple[str | None, str, str]:
    """('none' | 'tanh' | None, meaning, probe text) from gelu(1)."""
    candidates = {form: float(activation({"name": "gelu", "approximate": form})(np.array(1.0)))
                  for form in GELU_FORMS}
    form = recognise(y_at_one, candidates)
    meaning = GELU_FORMS[form] if form else "neither the exact nor the tanh form"
    return form, meaning, f"gelu(1) = {y_at_one:.12g} (exact {candidates['none']:.12g}, tanh {candidates['tanh']:.12g})"


SOFTMAX_PROBE_SHAPES = {2: (2, 3), 3: (2, 3, 4), 4: (2, 3, 4, 5)}


def softmax_probe_input(rank: int) -> np.ndarray:
    shape = SOFTMAX_PROBE_SHAPES.get(rank, tuple(range(2, 2 + rank)))
    return np.random.default_rng(0).normal(size=shape)


def softmax_axis(y: np.ndarray) -> int | None:
    """The one axis along which softmax's output sums to 1 everywhere."""
    axes = [axis for axis in range(y.ndim) if np.allclose(y.sum(axis=axis), 1.0, rtol=0, atol=1e-9)]
    return axes[0] if len(axes) == 1 else None


def softmax_default_axis(softmax: Callable[[np.ndarray], np.ndarray], rank: int) -> tuple[int | None, str, str]:
    """(axis at `rank`, meaning, probe text): the framework's softmax with its default axis,
    applied to inputs of rank 2, 3 and 4, sums to 1 along which axis."""
    found = {r: softmax_axis(softmax(softmax_probe_input(r))) for r in (2, 3, 4, rank)}
    probe = "sums to 1 along axis " + ", ".join(f"{found[r]} ({r}-D)" for r in (2, 3, 4))
    if all(found[r] == r - 1 for r in found):
        meaning = "the last axis"
    elif len(set(found.values())) == 1:
        meaning = f"axis {found[rank]} whatever the rank"
    else:
        meaning = "an axis chosen from the rank: " + ", ".join(f"{found[r]} for {r}-D" for r in (2, 3, 4))
    return found[rank], meaning, probe


def elu_alpha(y_at_minus_one: float) -> tuple[float, str]:
    """f(-1) = alpha (exp(-1) - 1) for elu."""
    return snap(y_at_minus_one / math.expm1(-1.0)), f"f(-1) = {y_at_minus_one:.9g}"


# --- normalization ----------------------------------------------------------------------------

RUNNING_STATS_BATCH = np.array([[0.0], [0.0], [2.0], [2.0]])
"""One training step on this batch (mean 1, biased variance 1, unbiased 4/3), starting from a
running mean of 0 and a running variance of 1, shows how the running statistics are updated."""

KEEP_MEANINGS = {"kept": "share of the running statistic kept at each update",
                 "taken": "share of the batch statistic taken at each update"}


def running_mean_convention(value: float, running_mean_after: float) -> tuple[float, str, str]:
    """(share kept, meaning of the framework's parameter, probe text) after one update from 0
    towards the batch mean 1."""
    kept = 1.0 - running_mean_after
    label = recognise(kept, {"kept": value, "taken": 1.0 - value})
    meaning = KEEP_MEANINGS[label] if label else f"neither (keeps {kept:.9g})"
    return snap(kept), meaning, f"running mean 0 -> {running_mean_after:.9g} after one batch of mean 1"


VARIANCE_MEANINGS = {"biased": "the biased batch variance (divides by n)",
                     "unbiased": "the unbiased batch variance (divides by n - 1)"}


def running_variance_estimator(kept: float, running_variance_after: float) -> tuple[str | None, str, str]:
    """('biased' | 'unbiased' | None, meaning, probe text): which batch variance went into the
    running variance."""
    batch = RUNNING_STATS_BATCH[:, 0]
    used = (running_variance_after - kept * 1.0) / (1.0 - kept)
    label = recognise(used, {"biased": float(batch.var()), "unbiased": float(batch.var(ddof=1))}, rtol=1e-5)
    return (label, VARIANCE_MEANINGS[label] if label else f"neither ({used:.9g})",
            f"running variance 1 -> {running_variance_after:.9g} after one batch of variance 1 (n = 4)")


EPSILON_MEANINGS = {"inside": "inside the square root: sqrt(var + eps)",
                    "outside": "outside the square root: sqrt(var) + eps"}


def batch_norm_epsilon(epsilon: float, y: float) -> tuple[float | None, str, str]:
    """(effective epsilon, meaning, probe text) from y = BN(1) with running mean 0, running
    variance 0, gamma 1, beta 0 in inference mode: 1/sqrt(eps) if eps is inside, 1/eps if not.

    The effective value is the stated one where the probe confirms it is inside the root (the
    harness's meaning), and None where it is not (it cannot be restated as an inside epsilon)."""
    label = recognise(y, {"inside": 1 / math.sqrt(epsilon), "outside": 1 / epsilon}, rtol=1e-5)
    return (epsilon if label == "inside" else None,
            EPSILON_MEANINGS.get(label, "neither inside nor outside the square root"),
            f"y(x=1; mean 0, variance 0) = {y:.9g}")


def layer_norm_probe_input(epsilon: float) -> np.ndarray:
    """One sample of two features +-d, d = sqrt(eps): its variance equals eps, so where eps is
    added shows clearly (1/sqrt 2 inside, about 1 outside)."""
    d = math.sqrt(epsilon)
    return np.array([[d, -d]])


def layer_norm_epsilon(epsilon: float, y_first: float) -> tuple[float | None, str, str]:
    """As batch_norm_epsilon, from the first output for layer_norm_probe_input(epsilon)."""
    d = math.sqrt(epsilon)
    label = recognise(y_first, {"inside": d / math.sqrt(d * d + epsilon), "outside": d / (d + epsilon)},
                      rtol=1e-5)
    return (epsilon if label == "inside" else None,
            EPSILON_MEANINGS.get(label, "neither inside nor outside the square root"),
            f"y([d, -d]; d = sqrt({show(epsilon)}))[0] = {y_first:.9g}")


# --- recurrent layers -------------------------------------------------------------------------

ACTIVATION_CANDIDATES = [{"name": "tanh"}, {"name": "sigmoid"}, {"name": "relu"}, {"name": "linear"}]
RECURRENT_CANDIDATES = [{"name": "sigmoid"}, {"name": "hard_sigmoid", "slope": 1 / 6},
                        {"name": "hard_sigmoid", "slope": 0.2}]

LSTM_PROBE_BIASES = (1.0, -0.5)
"""One step of a 1-unit LSTM from h = c = 0 on x = 0, every weight 0 and the total bias of every
gate b: i = f = o = rec(b), c = i act(b), h = o act(c), for each b here."""


def lstm_candidates() -> list[tuple[dict, dict, tuple[float, ...]]]:
    found = []
    for act in ACTIVATION_CANDIDATES:
        for rec in RECURRENT_CANDIDATES:
            a, r = activation(act), activation(rec)
            found.append((act, rec, tuple(float(r(b) * a(r(b) * a(b))) for b in LSTM_PROBE_BIASES)))
    return found


def lstm_activations(h: tuple[float, ...]) -> tuple[dict | None, dict | None, str]:
    """(activation, recurrent_activation, probe text) recognised from h per LSTM_PROBE_BIASES."""
    probe = "h1 = " + ", ".join(f"{v:.9g}" for v in h) + f" for gate biases {LSTM_PROBE_BIASES}"
    matches = [(act, rec) for act, rec, predicted in lstm_candidates()
               if np.allclose(h, predicted, rtol=RECOGNISE_RTOL, atol=0)]
    if len(matches) != 1:
        return None, None, probe + " (no single candidate matches)"
    return (*matches[0], probe)


GRU_PROBE_POINTS = ((1.0, 0.5, 1.0), (-0.7, 1.5, -0.3))
"""(h0, w, b): one step of a 1-unit GRU on x = 0 with every input weight and input bias 0, every
recurrent weight w and every recurrent-side bias b (a framework with a single bias gets b
there), from the state h0. Every gate's pre-activation is then w h0 + b."""

GRU_UPDATES = {"z keeps the state": lambda z, h, candidate: z * h + (1 - z) * candidate,
               "z takes the candidate": lambda z, h, candidate: (1 - z) * h + z * candidate}


def gru_candidates() -> list[tuple[dict[str, Any], tuple[float, ...]]]:
    found = []
    for act in ACTIVATION_CANDIDATES:
        for rec in RECURRENT_CANDIDATES:
            for reset_after in (True, False):
                for update, combine in GRU_UPDATES.items():
                    a, r = activation(act), activation(rec)
                    outputs = []
                    for h, w, b in GRU_PROBE_POINTS:
                        gate = float(r(w * h + b))
                        candidate = float(a(gate * (w * h + b)) if reset_after else a(w * (gate * h) + b))
                        outputs.append(float(combine(gate, h, candidate)))
                    found.append(({"activation": act, "recurrent_activation": rec,
                                   "reset_after": reset_after, "update": update}, tuple(outputs)))
    return found


def gru_formula(h: tuple[float, ...]) -> tuple[dict[str, Any] | None, str]:
    """({activation, recurrent_activation, reset_after, update} or None, probe text)."""
    probe = "h1 = " + ", ".join(f"{v:.9g}" for v in h) + f" for (h0, w, b) in {GRU_PROBE_POINTS}"
    matches = [formula for formula, predicted in gru_candidates()
               if np.allclose(h, predicted, rtol=RECOGNISE_RTOL, atol=0)]
    if len(matches) != 1:
        return None, probe + " (no single candidate matches)"
    return matches[0], probe


RESET_MEANINGS = {True: "reset after the recurrent matmul: r * (h U + b_rec)",
                  False: "reset before the recurrent matmul: (r * h) U"}


# --- optimizers -------------------------------------------------------------------------------

ADAM_MEANINGS = {"after_bias_correction": "eps added to sqrt(v_hat), after bias correction",
                 "before_bias_correction": "eps added to sqrt(v) before bias correction (eps-hat form)"}


def adam_epsilon(epsilon: float, beta_2: float, step_small: float, step_one: float,
                 gradient: float) -> tuple[str | None, str, str]:
    """('before_bias_correction' | 'after_bias_correction' | None, meaning, probe text): where
    the stated epsilon goes, as the value of Adam's epsilon_placement.

    First Adam step on two parameters with gradients `gradient` and 1: each moves by
    lr g / (|g| + e), e the effective epsilon at step 1 (after bias correction); two equations
    give e without lr. The stated epsilon is added before bias correction (Keras', chainer's
    epsilon-hat) if e = epsilon / sqrt(1 - beta_2), after it (torch) if e = epsilon."""
    ratio = step_one / step_small
    effective = gradient * (1 - ratio) / (ratio * gradient - 1)
    placement = recognise(effective, {"after_bias_correction": epsilon,
                                      "before_bias_correction": epsilon / math.sqrt(1 - beta_2)}, rtol=1e-3)
    meaning = ADAM_MEANINGS[placement] if placement else f"neither (effective eps {effective:.3g})"
    return (placement, meaning,
            f"step 1 moves g = {show(gradient)} by {step_small:.6g} and g = 1 by {step_one:.6g}: "
            f"eps after bias correction {effective:.3g}")


ROOT_MEANINGS = {"inside": "eps inside the square root: g / sqrt(a + eps)",
                 "outside": "eps outside the square root: g / (sqrt(a) + eps)"}


def root_epsilon(step: float, *, learning_rate: float, epsilon: float, gradient: float,
                 accumulated: float) -> tuple[str | None, str, str]:
    """('inside_sqrt' | 'outside_sqrt' | None, meaning, probe text) for RMSprop/Adagrad: the
    first step is lr g / sqrt(a + eps) or lr g / (sqrt(a) + eps), `accumulated` the accumulator
    a after that step's gradient. The label is the value of the optimizers' epsilon_placement."""
    candidates = {"inside": learning_rate * gradient / math.sqrt(accumulated + epsilon),
                  "outside": learning_rate * gradient / (math.sqrt(accumulated) + epsilon)}
    label = recognise(step, candidates, rtol=1e-4)
    return (f"{label}_sqrt" if label else None,
            ROOT_MEANINGS[label] if label else "neither inside nor outside the square root",
            f"step 1 with g = {show(gradient)}: {step:.9g} (inside {candidates['inside']:.9g}, "
            f"outside {candidates['outside']:.9g})")


def adagrad_initial_accumulator(learning_rate: float, step: float) -> tuple[float, str]:
    """(initial accumulator, probe text) from the first step with g = 1: lr / sqrt(a0 + 1)."""
    initial = (learning_rate / step) ** 2 - 1
    return float(f"{initial:.6g}") if abs(initial) > 1e-6 else 0.0, \
        f"step 1 with g = 1 moves {step:.9g} = lr / sqrt(a0 + 1)"


def momentum(first_step: float, second_step: float) -> tuple[float, str]:
    """(momentum, probe text) from two steps with gradient 1: lr, then lr (1 + momentum)."""
    return snap(second_step / first_step - 1) if second_step != first_step else 0.0, \
        f"two steps with g = 1 move {first_step:.9g}, then {second_step:.9g}"
