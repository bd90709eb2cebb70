"""Defaults of torch's optimizers: signatures for the values, one step for what epsilon means.

Sources: torch/optim/sgd.py (lr 1e-3 since torch 2.2), adam.py, rmsprop.py, adagrad.py.
"""

from __future__ import annotations

import math

import torch

from harness.adapters.torch_backend.registry import DEFAULT_READERS as readers
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


@readers.register("SGD.learning_rate")
def sgd_learning_rate(context):
    return [stated("torch.optim.SGD", SGD, "lr")]


@readers.register("SGD.momentum")
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


@readers.register("Adam.learning_rate")
def adam_learning_rate(context):
    return [stated("torch.optim.Adam", Adam, "lr")]


@readers.register("Adam.beta_1")
def adam_beta_1(context):
    return [stated("torch.optim.Adam", Adam, "betas", index=0)]


@readers.register("Adam.beta_2")
def adam_beta_2(context):
    return [stated("torch.optim.Adam", Adam, "betas", index=1)]


@readers.register("Adam.epsilon")
def adam_epsilon(context):
    reading = stated("torch.optim.Adam", Adam, "eps")
    gradient = reading.value
    small, one = first_step(Adam, [gradient, 1.0])
    _, reading.meaning, reading.probe = probes.adam_epsilon(
        reading.value, signature_default(Adam, "betas")[1], small, one, gradient)
    return [reading]


@readers.register("RMSprop.learning_rate")
def rmsprop_learning_rate(context):
    return [stated("torch.optim.RMSprop", RMSprop, "lr")]


@readers.register("RMSprop.rho")
def rmsprop_rho(context):
    return [stated("torch.optim.RMSprop", RMSprop, "alpha")]


@readers.register("RMSprop.epsilon")
def rmsprop_epsilon(context):
    reading = stated("torch.optim.RMSprop", RMSprop, "eps")
    gradient, rho = math.sqrt(reading.value), signature_default(RMSprop, "alpha")
    (step,) = first_step(RMSprop, [gradient])
    reading.meaning, reading.probe = probes.root_epsilon(
        step, learning_rate=signature_default(RMSprop, "lr"), epsilon=reading.value, gradient=gradient,
        accumulated=(1 - rho) * gradient**2)
    return [reading]


@readers.register("Adagrad.learning_rate")
def adagrad_learning_rate(context):
    return [stated("torch.optim.Adagrad", Adagrad, "lr")]


@readers.register("Adagrad.epsilon")
def adagrad_epsilon(context):
    reading = stated("torch.optim.Adagrad", Adagrad, "eps")
    gradient = math.sqrt(reading.value)
    (step,) = first_step(Adagrad, [gradient], initial_accumulator_value=0.0)
    reading.meaning, reading.probe = probes.root_epsilon(
        step, learning_rate=signature_default(Adagrad, "lr"), epsilon=reading.value, gradient=gradient,
        accumulated=gradient**2)
    return [reading]


@readers.register("Adagrad.initial_accumulator_value")
def adagrad_initial_accumulator(context):
    reading = stated("torch.optim.Adagrad", Adagrad, "initial_accumulator_value")
    (step,) = first_step(Adagrad, [1.0])
    reading.effective, reading.probe = probes.adagrad_initial_accumulator(signature_default(Adagrad, "lr"), step)
    return [reading]
