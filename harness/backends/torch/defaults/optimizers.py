"""Defaults of torch's optimizers: signatures for the values, one step for what epsilon means
(Adam's is added after bias correction, torch/optim/adam.py `_single_tensor_adam`).

Sources: torch/optim/sgd.py (lr 1e-3 since torch 2.2), adam.py, rmsprop.py, adagrad.py.
"""

from __future__ import annotations

import math
from functools import cache

import torch

from harness.backends.torch.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

SGD, Adam, RMSprop, Adagrad = torch.optim.SGD, torch.optim.Adam, torch.optim.RMSprop, torch.optim.Adagrad


def first_step(optimizer_class, gradients: list[float], **options) -> list[float]:
    """How far one step of a fresh optimizer moves parameters at 0 with these gradients."""
    parameter = torch.zeros(len(gradients), dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([parameter], **options)
    parameter.grad = torch.tensor(gradients, dtype=torch.float64)
    optimizer.step()
    return (-parameter.detach()).tolist()


def stated(api, cls, parameter, *, index=None) -> Reading:
    value = signature_default(cls, parameter)
    name = parameter if index is None else f"{parameter}[{index}]"
    value = value if index is None else value[index]
    return Reading(api, name, value, "inspect.signature", value, used=True)


# Hyper-parameters whose default is the constructor's signature default, nothing more to it.
SIGNATURE_DEFAULTS = {
    "sgd.learning_rate": lambda: [stated("torch.optim.SGD", SGD, "lr")],
    "adam.learning_rate": lambda: [stated("torch.optim.Adam", Adam, "lr")],
    "adam.beta_1": lambda: [stated("torch.optim.Adam", Adam, "betas", index=0)],
    "adam.beta_2": lambda: [stated("torch.optim.Adam", Adam, "betas", index=1)],
    "rmsprop.learning_rate": lambda: [stated("torch.optim.RMSprop", RMSprop, "lr")],
    "rmsprop.rho": lambda: [stated("torch.optim.RMSprop", RMSprop, "alpha")],
    "rmsprop.momentum": lambda: [stated("torch.optim.RMSprop", RMSprop, "momentum")],
    "adagrad.learning_rate": lambda: [stated("torch.optim.Adagrad", Adagrad, "lr")],
}
for key, read in SIGNATURE_DEFAULTS.items():
    readers.register(key)(lambda context, read=read: read())


@readers.register("sgd.momentum")
def sgd_momentum(context):
    reading = stated("torch.optim.SGD", SGD, "momentum")
    parameter = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer, steps = SGD([parameter]), []
    for _ in range(2):
        parameter.grad = torch.ones(1, dtype=torch.float64)
        before = parameter.item()
        optimizer.step()
        steps.append(before - parameter.item())
    reading.effective, reading.probe = probes.momentum(*steps)
    return [reading]


@cache  # one probe serves both the epsilon reader and the placement reader
def adam_placement() -> tuple:
    epsilon = signature_default(Adam, "eps")
    small, one = first_step(Adam, [epsilon, 1.0])
    return probes.adam_epsilon(epsilon, signature_default(Adam, "betas")[1], small, one, epsilon)


@readers.register("adam.epsilon")
def adam_epsilon(context):
    # torch adds its eps after bias correction: 1e-8 in the after_bias_correction form.
    reading = stated("torch.optim.Adam", Adam, "eps")
    placement, reading.meaning, reading.probe = adam_placement()
    reading.effective = reading.value if placement else None
    return [reading]


@readers.register("adam.epsilon_placement")
def adam_epsilon_placement(context):
    placement, meaning, probe = adam_placement()
    return [Reading.fixed("torch.optim.Adam", placement, meaning, probe, used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def rmsprop_placement() -> tuple:
    epsilon = signature_default(RMSprop, "eps")
    gradient, rho = math.sqrt(epsilon), signature_default(RMSprop, "alpha")
    (step,) = first_step(RMSprop, [gradient])
    return probes.root_epsilon(step, learning_rate=signature_default(RMSprop, "lr"), epsilon=epsilon,
                               gradient=gradient, accumulated=(1 - rho) * gradient**2)


@readers.register("rmsprop.epsilon")
def rmsprop_epsilon(context):
    reading = stated("torch.optim.RMSprop", RMSprop, "eps")
    _, reading.meaning, reading.probe = rmsprop_placement()
    return [reading]


@readers.register("rmsprop.epsilon_placement")
def rmsprop_epsilon_placement(context):
    placement, meaning, probe = rmsprop_placement()
    return [Reading.fixed("torch.optim.RMSprop", placement, meaning, probe, used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def adagrad_placement() -> tuple:
    epsilon = signature_default(Adagrad, "eps")
    gradient = math.sqrt(epsilon)
    (step,) = first_step(Adagrad, [gradient], initial_accumulator_value=0.0)
    return probes.root_epsilon(step, learning_rate=signature_default(Adagrad, "lr"), epsilon=epsilon,
                               gradient=gradient, accumulated=gradient**2)


@readers.register("adagrad.epsilon")
def adagrad_epsilon(context):
    reading = stated("torch.optim.Adagrad", Adagrad, "eps")
    _, reading.meaning, reading.probe = adagrad_placement()
    return [reading]


@readers.register("adagrad.epsilon_placement")
def adagrad_epsilon_placement(context):
    placement, meaning, probe = adagrad_placement()
    return [Reading.fixed("torch.optim.Adagrad", placement, meaning, probe, used=True)]


@readers.register("adagrad.initial_accumulator_value")
def adagrad_initial_accumulator(context):
    reading = stated("torch.optim.Adagrad", Adagrad, "initial_accumulator_value")
    (step,) = first_step(Adagrad, [1.0])
    reading.effective, reading.probe = probes.adagrad_initial_accumulator(signature_default(Adagrad, "lr"), step)
    return [reading]
