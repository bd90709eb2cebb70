"""Defaults of chainer's optimizers: signatures for the values, steps for what they mean.

Sources: chainer/optimizers/sgd.py, momentum_sgd.py, adam.py (eps added to the uncorrected
sqrt(v), like Keras), rmsprop.py (eps_inside_sqrt=False), ada_grad.py (state h starts at 0).
"""

from __future__ import annotations

import inspect
import math
from functools import cache

import numpy as np

from harness.backends.chainer._import import chainer
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

O = chainer.optimizers


def steps(optimizer, gradients: list[float], count: int = 1) -> list[list[float]]:
    """How far each of `count` steps moves float64 parameters starting at 0."""
    link = chainer.Link()
    with link.init_scope():
        link.p = chainer.Parameter(np.zeros(len(gradients)))
    optimizer.setup(link)
    moves, before = [], np.zeros(len(gradients))
    for _ in range(count):
        link.p.grad = np.asarray(gradients, dtype=np.float64)
        optimizer.update()
        moves.append((before - link.p.array).tolist())
        before = link.p.array.copy()
    return moves


def stated(cls, parameter: str, *, used: bool = True) -> Reading:
    value = signature_default(cls, parameter)
    return Reading(f"chainer.optimizers.{cls.__name__}", parameter, value, "inspect.signature", value, used=used)


# Hyper-parameters whose default is the constructor's signature default, nothing more to it.
SIGNATURE_DEFAULTS = {
    "sgd.learning_rate": lambda: [stated(O.SGD, "lr"), stated(O.MomentumSGD, "lr", used=False)],
    "adam.learning_rate": lambda: [stated(O.Adam, "alpha")],
    "adam.beta_1": lambda: [stated(O.Adam, "beta1")],
    "adam.beta_2": lambda: [stated(O.Adam, "beta2")],
    "rmsprop.learning_rate": lambda: [stated(O.RMSprop, "lr")],
    "rmsprop.rho": lambda: [stated(O.RMSprop, "alpha")],
    "adagrad.learning_rate": lambda: [stated(O.AdaGrad, "lr")],
}
for key, read in SIGNATURE_DEFAULTS.items():
    readers.register(key)(lambda context, read=read: read())


@readers.register("sgd.momentum")
def sgd_momentum(context):
    # chainer's SGD has no momentum parameter (MomentumSGD has): two steps show what each does.
    plain = Reading.fixed("chainer.optimizers.SGD", used=True)
    with_momentum = stated(O.MomentumSGD, "momentum", used=False)
    for reading, cls in ((plain, O.SGD), (with_momentum, O.MomentumSGD)):
        ((first,), (second,)) = steps(cls(), [1.0], count=2)
        reading.effective, reading.probe = probes.momentum(first, second)
    return [plain, with_momentum]


@cache  # one probe serves both the epsilon reader and the placement reader
def adam_placement() -> tuple:
    epsilon = signature_default(O.Adam, "eps")
    ((small, one),) = steps(O.Adam(), [epsilon, 1.0])
    return probes.adam_epsilon(epsilon, signature_default(O.Adam, "beta2"), small, one, epsilon)


@readers.register("adam.epsilon")
def adam_epsilon(context):
    reading = stated(O.Adam, "eps")
    placement, reading.meaning, reading.probe = adam_placement()
    reading.effective = reading.value if placement else None
    return [reading]


@readers.register("adam.epsilon_placement")
def adam_epsilon_placement(context):
    placement, meaning, probe = adam_placement()
    return [Reading.fixed("chainer.optimizers.Adam", placement, meaning, probe,
                    used=True)]


@readers.register("rmsprop.momentum")
def rmsprop_momentum(context):
    # chainer's RMSprop has no momentum parameter: its update has none (0 in the harness's terms).
    found = "momentum" in inspect.signature(O.RMSprop).parameters
    return [Reading("chainer.optimizers.RMSprop", "", None,
                    "inspect.signature: " + ("a momentum parameter" if found else "no momentum parameter"),
                    None if found else 0.0, used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def rmsprop_placement() -> tuple:
    epsilon = signature_default(O.RMSprop, "eps")
    gradient, rho = math.sqrt(epsilon), signature_default(O.RMSprop, "alpha")
    ((step,),) = steps(O.RMSprop(), [gradient])
    return probes.root_epsilon(step, learning_rate=signature_default(O.RMSprop, "lr"), epsilon=epsilon,
                               gradient=gradient, accumulated=(1 - rho) * gradient**2)


@readers.register("rmsprop.epsilon")
def rmsprop_epsilon(context):
    reading = stated(O.RMSprop, "eps")
    _, reading.meaning, reading.probe = rmsprop_placement()
    return [reading]


@readers.register("rmsprop.epsilon_placement")
def rmsprop_epsilon_placement(context):
    placement, meaning, probe = rmsprop_placement()
    return [Reading("chainer.optimizers.RMSprop", "eps_inside_sqrt", signature_default(O.RMSprop, "eps_inside_sqrt"),
                    "inspect.signature", placement, meaning, probe, used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def adagrad_placement() -> tuple:
    epsilon = signature_default(O.AdaGrad, "eps")
    gradient = math.sqrt(epsilon)
    ((step,),) = steps(O.AdaGrad(), [gradient])  # the accumulator starts at 0 (no option)
    return probes.root_epsilon(step, learning_rate=signature_default(O.AdaGrad, "lr"), epsilon=epsilon,
                               gradient=gradient, accumulated=gradient**2)


@readers.register("adagrad.epsilon")
def adagrad_epsilon(context):
    reading = stated(O.AdaGrad, "eps")
    _, reading.meaning, reading.probe = adagrad_placement()
    return [reading]


@readers.register("adagrad.epsilon_placement")
def adagrad_epsilon_placement(context):
    placement, meaning, probe = adagrad_placement()
    return [Reading.fixed("chainer.optimizers.AdaGrad", placement, meaning, probe,
                    used=True)]


@readers.register("adagrad.initial_accumulator_value")
def adagrad_initial_accumulator(context):
    # No parameter: AdaGrad's state starts at zeros (chainer/optimizers/ada_grad.py); measured.
    reading = Reading.fixed("chainer.optimizers.AdaGrad", used=True)
    ((step,),) = steps(O.AdaGrad(), [1.0])
    reading.effective, reading.probe = probes.adagrad_initial_accumulator(signature_default(O.AdaGrad, "lr"), step)
    return [reading]
