"""Defaults of Keras' optimizers: signatures for the values (get_config() shows them after the
float32 round trip of the learning-rate variable), one step for what epsilon means.

Sources: keras/src/optimizers/sgd.py, adam.py (epsilon added to sqrt(v) before bias correction,
`ops.add(ops.sqrt(v), self.epsilon)`, the correction being in alpha), rmsprop.py (epsilon added
inside the root, `ops.add(velocity, self.epsilon)`), adagrad.py.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from harness.backends.keras._import import keras
from harness.backends.keras.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

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


# Hyper-parameters whose default is the constructor's signature default, nothing more to it.
SIGNATURE_DEFAULTS = {
    "sgd.learning_rate": lambda: [stated(O.SGD, "learning_rate")],
    "adam.learning_rate": lambda: [stated(O.Adam, "learning_rate")],
    "adam.beta_1": lambda: [stated(O.Adam, "beta_1")],
    "adam.beta_2": lambda: [stated(O.Adam, "beta_2")],
    "rmsprop.learning_rate": lambda: [stated(O.RMSprop, "learning_rate")],
    "rmsprop.rho": lambda: [stated(O.RMSprop, "rho")],
    "rmsprop.momentum": lambda: [stated(O.RMSprop, "momentum")],
    "adagrad.learning_rate": lambda: [stated(O.Adagrad, "learning_rate")],
}
for key, read in SIGNATURE_DEFAULTS.items():
    readers.register(key)(lambda context, read=read: read())


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
