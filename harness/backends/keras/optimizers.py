"""keras.optimizers versions of the harness's optimizers (see harness/reference/optimizers.py for the
formulas), applied eagerly with `optimizer.apply(gradients, variables)` on the bound trainable
variables, and the readers of Keras' optimizer defaults (at the end).

Two things hold for every Keras optimizer here:

* A float learning rate lives in a variable of dtype keras.config.floatx(), float32 by default
  (keras/src/optimizers/base_optimizer.py, `__init__`): 0.01 would become 0.0099999998 in a
  float64 case. The learning rate is therefore given as a constant LearningRateSchedule that
  returns it in the case's dtype; that changes no formula, only its precision.
* Other Python-float hyper-parameters still pass through float32 where Keras casts them
  (`ops.cast(self.momentum, ...)` in sgd.py, the beta powers in adam.py, `weight_decay` in
  base_optimizer.py `_apply_weight_decay`, the Adagrad initial accumulator through
  initializers.Constant): float64 cases use values float32 holds exactly (keras/src/backend/tensorflow/core.py `cast`: tf.cast of a Python float makes a float32 tensor first).

Keras' `weight_decay=` is decoupled on every optimizer: `variable - variable * wd * lr`, before
the update (base_optimizer.py `_apply_weight_decay`). Coupled decay is composite: the gradients
get `rate * variable` added with keras.ops before `apply`.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from harness.backends.base import BuiltOptimizer
from harness.backends.keras._import import keras, tf
from harness.backends.keras.registry import DEFAULT_READERS as readers, OPTIMIZER_BUILDERS as builders
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

ops = keras.ops


class ConstantLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate as a constant of the case's dtype (see the module docstring)."""

    def __init__(self, value: float, dtype: str) -> None:
        self.value, self.dtype = value, dtype

    def __call__(self, step):
        return ops.convert_to_tensor(self.value, dtype=self.dtype)

    def get_config(self):
        return {"value": self.value, "dtype": self.dtype}


def native(optimizer_class, spec, variables, dtype: str, detail: str, *, before_step=None,
           **options) -> BuiltOptimizer:
    """A Keras optimizer on `variables`, with the case's weight decay (native when decoupled).
    `before_step(optimizer, t)` adjusts it for step t (Adam's epsilon)."""
    decay = spec.weight_decay
    decoupled = decay is not None and decay.coupling == "decoupled"
    optimizer = optimizer_class(learning_rate=ConstantLearningRate(spec.learning_rate, dtype),
                                weight_decay=decay.rate if decoupled else None, **options)
    text = f"keras.optimizers.{optimizer_class.__name__}(" + ", ".join(
        [f"learning_rate={spec.learning_rate}", *(f"{k}={v}" for k, v in options.items())]
        + ([f"weight_decay={decay.rate} (decoupled)"] if decoupled else [])) + ")" + detail
    coupled = decay is not None and decay.coupling == "coupled"
    steps = 0

    def apply(gradients):
        nonlocal steps
        steps += 1
        gradients = [ops.zeros_like(v) if g is None else g for g, v in zip(gradients, variables)]
        if coupled:
            gradients = [g + decay.rate * v for g, v in zip(gradients, variables)]
        if before_step is not None:
            before_step(optimizer, steps)
        optimizer.apply(gradients, variables)

    if coupled:
        return BuiltOptimizer(apply, "composite", text + f"; coupled weight decay by adding {decay.rate} * "
                              "variable to each gradient first: Keras' weight_decay is decoupled")
    return BuiltOptimizer(apply, "native", text)


@builders.register("sgd")
def sgd(spec, variables, dtype):
    """keras/src/optimizers/sgd.py: m = momentum m - lr g; variable += m (nesterov: += momentum m
    - lr g), or variable -= lr g without momentum: the canonical form as it stands."""
    return native(keras.optimizers.SGD, spec, variables, dtype, "",
                  momentum=float(spec.momentum), nesterov=spec.nesterov)


@builders.register("adam")
def adam(spec, variables, dtype):
    """keras/src/optimizers/adam.py `update_step`: m += (g - m)(1 - beta_1), v += (g^2 - v)(1 -
    beta_2), v_hat = max(v_hat, v) with amsgrad, variable -= m alpha / (sqrt(v) + epsilon) with
    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t): the canonical `before_bias_correction` form.

    `after_bias_correction` divides by sqrt(v / (1 - beta_2^t)) + epsilon, which is sqrt(v) +
    epsilon sqrt(1 - beta_2^t) over sqrt(1 - beta_2^t), so Keras' form with epsilon_t = epsilon
    sqrt(1 - beta_2^t) computes it exactly. `update_step` reads `self.epsilon` at every step
    (`ops.add(ops.sqrt(v), self.epsilon)`, a Python float, eager): it is set before each
    `apply`, t being that apply's step (Keras' `iterations + 1`)."""
    options = dict(beta_1=spec.beta_1, beta_2=spec.beta_2, epsilon=spec.epsilon, amsgrad=spec.amsgrad)
    if spec.epsilon_placement == "before_bias_correction" or spec.epsilon == 0:
        return native(keras.optimizers.Adam, spec, variables, dtype,
                      "; epsilon 0, so before and after bias correction agree"
                      if spec.epsilon_placement == "after_bias_correction" else "", **options)

    def epsilon_for_step(optimizer, t: int) -> None:
        optimizer.epsilon = spec.epsilon * math.sqrt(1 - spec.beta_2 ** t)

    return native(keras.optimizers.Adam, spec, variables, dtype, (
        f" with epsilon = {spec.epsilon} * sqrt(1 - beta_2^t) set before step t: epsilon after bias "
        "correction, which Keras adds before it"), before_step=epsilon_for_step, **options)


@builders.register("rmsprop")
def rmsprop(spec, variables, dtype):
    """keras/src/optimizers/rmsprop.py: velocity = rho velocity + (1 - rho) g^2; denominator =
    velocity [- average_grad^2] + epsilon; increment = lr g / sqrt(denominator); momentum
    buffer = momentum buffer + increment: epsilon inside the square root, the canonical form
    for `inside_sqrt`. Outside it has no reparametrisation: composite."""
    if spec.epsilon_placement == "outside_sqrt" and spec.epsilon != 0:
        return composite(spec, variables, dtype, rmsprop_outside_sqrt, (
            "keras.ops: delta = lr g / (sqrt(s) + epsilon): keras.optimizers.RMSprop adds epsilon "
            "inside the square root"))
    return native(keras.optimizers.RMSprop, spec, variables, dtype,
                  "; epsilon 0, so inside and outside the square root agree"
                  if spec.epsilon_placement == "outside_sqrt" else "",
                  rho=spec.rho, momentum=float(spec.momentum), epsilon=spec.epsilon, centered=spec.centered)


@builders.register("adagrad")
def adagrad(spec, variables, dtype):
    """keras/src/optimizers/adagrad.py: accumulator (from initial_accumulator_value) += g^2;
    variable -= lr g / sqrt(accumulator + epsilon): the canonical `inside_sqrt` form. Outside
    the square root has no reparametrisation: composite."""
    if spec.epsilon_placement == "outside_sqrt" and spec.epsilon != 0:
        return composite(spec, variables, dtype, adagrad_outside_sqrt, (
            "keras.ops: variable -= lr g / (sqrt(s) + epsilon): keras.optimizers.Adagrad adds epsilon "
            "inside the square root"))
    return native(keras.optimizers.Adagrad, spec, variables, dtype,
                  "; epsilon 0, so inside and outside the square root agree"
                  if spec.epsilon_placement == "outside_sqrt" else "",
                  initial_accumulator_value=spec.initial_accumulator_value, epsilon=spec.epsilon)


# --- composites: the canonical update written in keras.ops ------------------------------------

def composite(spec, variables, dtype: str, update, reason: str) -> BuiltOptimizer:
    """`update(spec, variable, g, state)` -> the new value; state tensors kept per variable."""
    decay = spec.weight_decay
    states = [{} for _ in variables]

    def apply(gradients):
        for variable, gradient, state in zip(variables, gradients, states):
            theta = ops.convert_to_tensor(variable)
            # An Embedding's gradient is a tf.IndexedSlices, which the arithmetic below does
            # not take (found by a generated case): made dense first.
            if isinstance(gradient, tf.IndexedSlices):
                gradient = tf.convert_to_tensor(gradient)
            g = ops.zeros_like(theta) if gradient is None else gradient
            if decay is not None and decay.coupling == "coupled":
                g = g + decay.rate * theta
            new = update(spec, theta, g, state)
            if decay is not None and decay.coupling == "decoupled":
                new = new - spec.learning_rate * decay.rate * theta
            variable.assign(new)

    if decay is not None:
        reason += f"; weight decay ({decay.coupling}) written out too"
    return BuiltOptimizer(apply, "composite", reason)


def rmsprop_outside_sqrt(spec, theta, g, state):
    s = state["s"] = spec.rho * state.get("s", ops.zeros_like(theta)) + (1 - spec.rho) * g * g
    d = s
    if spec.centered:
        a = state["a"] = spec.rho * state.get("a", ops.zeros_like(theta)) + (1 - spec.rho) * g
        d = s - a * a
    delta = spec.learning_rate * g / (ops.sqrt(d) + spec.epsilon)
    if spec.momentum:
        delta = state["b"] = spec.momentum * state.get("b", ops.zeros_like(theta)) + delta
    return theta - delta


def adagrad_outside_sqrt(spec, theta, g, state):
    s = state["s"] = state.get("s", ops.full_like(theta, spec.initial_accumulator_value)) + g * g
    return theta - spec.learning_rate * g / (ops.sqrt(s) + spec.epsilon)


# --- the readers of Keras' optimizer defaults ---------------------------------------------------
# Signatures for the values (get_config() shows them after the float32 round trip of the
# learning-rate variable), one step for what epsilon means. Sources: keras/src/optimizers/sgd.py,
# adam.py (epsilon added to sqrt(v) before bias correction, `ops.add(ops.sqrt(v), self.epsilon)`,
# the correction being in alpha), rmsprop.py (epsilon added inside the root,
# `ops.add(velocity, self.epsilon)`), adagrad.py.

O = keras.optimizers


def steps(optimizer, gradients: list[float], count: int = 1) -> tuple[list[list[float]], float]:
    """How far each of `count` steps moves float64 parameters starting at 0, and the learning
    rate the optimizer really uses (a float32 variable: 0.001 is 0.0010000000475)."""
    variable = keras.Variable(np.zeros(len(gradients)), dtype="float64")
    moves, before = [], np.zeros(len(gradients))
    for _ in range(count):
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(np.asarray(gradients, dtype=np.float64)),
                                    variable)])
        after = keras.ops.convert_to_numpy(variable)
        moves.append((before - after).tolist())
        before = after
    return moves, float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def stated(cls, parameter: str) -> Reading:
    value = signature_default(cls, parameter)
    return Reading(f"keras.optimizers.{cls.__name__}", parameter, value, "inspect.signature", value, used=True)


def register_signature_default(optimizer: str, cls, parameter: str) -> None:
    """A hyper-parameter whose default is the constructor's signature default, nothing more to it."""
    readers.register(f"{optimizer}.{parameter}")(lambda context: [stated(cls, parameter)])


register_signature_default("sgd", O.SGD, "learning_rate")
for parameter in ("learning_rate", "beta_1", "beta_2"):
    register_signature_default("adam", O.Adam, parameter)
for parameter in ("learning_rate", "rho", "momentum"):
    register_signature_default("rmsprop", O.RMSprop, parameter)
register_signature_default("adagrad", O.Adagrad, "learning_rate")


@readers.register("sgd.momentum")
def sgd_momentum(context):
    reading = stated(O.SGD, "momentum")
    ((first,), (second,)), _ = steps(O.SGD(), [1.0], count=2)
    reading.effective, reading.probe = probes.momentum(first, second)
    return [reading]


@cache  # one probe serves both the epsilon reader and the placement reader
def adam_placement() -> tuple:
    epsilon = signature_default(O.Adam, "epsilon")
    ((small, one),), _ = steps(O.Adam(), [epsilon, 1.0])
    return probes.adam_epsilon(epsilon, signature_default(O.Adam, "beta_2"), small, one, epsilon)


@readers.register("adam.epsilon")
def adam_epsilon(context):
    reading = stated(O.Adam, "epsilon")
    placement, reading.meaning, reading.probe = adam_placement()
    reading.effective = reading.value if placement else None
    return [reading]


@readers.register("adam.epsilon_placement")
def adam_epsilon_placement(context):
    placement, meaning, probe = adam_placement()
    return [Reading.fixed("keras.optimizers.Adam", placement, meaning, probe,
                    used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def rmsprop_placement() -> tuple:
    epsilon = signature_default(O.RMSprop, "epsilon")
    gradient, rho = math.sqrt(epsilon), signature_default(O.RMSprop, "rho")
    ((step,),), learning_rate = steps(O.RMSprop(), [gradient])
    return probes.root_epsilon(step, learning_rate=learning_rate, epsilon=epsilon, gradient=gradient,
                               accumulated=(1 - rho) * gradient**2)


@readers.register("rmsprop.epsilon")
def rmsprop_epsilon(context):
    reading = stated(O.RMSprop, "epsilon")
    _, reading.meaning, reading.probe = rmsprop_placement()
    return [reading]


@readers.register("rmsprop.epsilon_placement")
def rmsprop_epsilon_placement(context):
    placement, meaning, probe = rmsprop_placement()
    return [Reading.fixed("keras.optimizers.RMSprop", placement, meaning, probe,
                    used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def adagrad_placement() -> tuple:
    epsilon = signature_default(O.Adagrad, "epsilon")
    gradient = math.sqrt(epsilon)
    ((step,),), learning_rate = steps(O.Adagrad(initial_accumulator_value=0.0), [gradient])
    return probes.root_epsilon(step, learning_rate=learning_rate, epsilon=epsilon, gradient=gradient,
                               accumulated=gradient**2)


@readers.register("adagrad.epsilon")
def adagrad_epsilon(context):
    reading = stated(O.Adagrad, "epsilon")
    _, reading.meaning, reading.probe = adagrad_placement()
    return [reading]


@readers.register("adagrad.epsilon_placement")
def adagrad_epsilon_placement(context):
    placement, meaning, probe = adagrad_placement()
    return [Reading.fixed("keras.optimizers.Adagrad", placement, meaning, probe,
                    used=True)]


@readers.register("adagrad.initial_accumulator_value")
def adagrad_initial_accumulator(context):
    reading = stated(O.Adagrad, "initial_accumulator_value")
    ((step,),), learning_rate = steps(O.Adagrad(), [1.0])
    reading.effective, reading.probe = probes.adagrad_initial_accumulator(learning_rate, step)
    return [reading]
