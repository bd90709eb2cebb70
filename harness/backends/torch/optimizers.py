"""torch.optim versions of the harness's optimizers (see harness/reference/optimizers.py for the formulas).

Each optimizer is built on the bound trainable parameters only, with every hyper-parameter
passed explicitly (torch's SGD learning rate defaults to 1e-3, its RMSprop alpha to 0.99, ...)
and `foreach=False`, so the code path is torch/optim/<name>.py `_single_tensor_<name>`, the one
cited below. A step sets each parameter's `.grad` and calls `optimizer.step()`.

torch's `weight_decay=` is coupled on SGD, Adam, RMSprop and Adagrad (`grad = grad.add(param,
alpha=weight_decay)` in each `_single_tensor_*`); Adam also has `decoupled_weight_decay=True`
(AdamW: `param.mul_(1 - lr * weight_decay)`, torch/optim/adam.py). Decoupled decay on the others
is composite: `param.mul_(1 - lr * rate)` before `step()`.

The defaults readers below take the values from the signatures and one step for what epsilon
means (Adam's is added after bias correction, torch/optim/adam.py `_single_tensor_adam`);
torch/optim/sgd.py (lr 1e-3 since torch 2.2), adam.py, rmsprop.py, adagrad.py.
"""

from __future__ import annotations

import math
from functools import cache

import torch

from harness.backends.base import BuiltOptimizer
from harness.backends.torch.registry import REGISTRY
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

builders = REGISTRY.optimizers


def stepping(optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor], spec, *,
             native_decoupled_decay: bool = False, before_step=None, kind: str = "native",
             detail: str = "") -> BuiltOptimizer:
    """Wrap a torch optimizer as a BuiltOptimizer: grads in, decoupled decay if torch does not,
    then `step()`. `before_step(t)` adjusts the param group for step t (Adam's epsilon)."""
    decay = spec.weight_decay
    manual_decay = decay is not None and decay.coupling == "decoupled" and not native_decoupled_decay
    if manual_decay:
        kind = "composite"
        detail += (f"; decoupled weight decay as param.mul_(1 - lr * {decay.rate}) before step(): "
                   "this torch optimizer's weight_decay is coupled")
    steps = 0

    def apply(gradients):
        nonlocal steps
        steps += 1
        with torch.no_grad():
            for parameter, gradient in zip(parameters, gradients):
                # A parameter without a gradient still moves (momentum, decay): give it zeros,
                # torch's step would skip it (`if p.grad is not None`).
                parameter.grad = torch.zeros_like(parameter) if gradient is None else gradient
                if manual_decay:
                    parameter.mul_(1 - spec.learning_rate * decay.rate)
        if before_step is not None:
            before_step(steps)
        optimizer.step()

    return BuiltOptimizer(apply=apply, implementation=kind, detail=detail)


def coupled_rate(spec) -> float:
    decay = spec.weight_decay
    return decay.rate if decay is not None and decay.coupling == "coupled" else 0.0


def decay_text(spec) -> str:
    rate = coupled_rate(spec)
    return f", weight_decay={rate} (coupled)" if rate else ""


@builders.register("sgd")
def sgd(spec, parameters, dtype):
    """torch keeps b <- mu b + g (b_1 = g) and subtracts lr b (nesterov: lr (g + mu b)),
    torch/optim/sgd.py `_single_tensor_sgd`; with dampening 0 and a constant lr that is Keras'
    velocity v = -lr b, the canonical form."""
    optimizer = torch.optim.SGD(parameters, lr=spec.learning_rate, momentum=spec.momentum, dampening=0.0,
                                nesterov=spec.nesterov, weight_decay=coupled_rate(spec), foreach=False)
    return stepping(optimizer, parameters, spec, detail=(
        f"torch.optim.SGD(lr={spec.learning_rate}, momentum={spec.momentum}, dampening=0, "
        f"nesterov={spec.nesterov}{decay_text(spec)})"
        + ("; its buffer b is the canonical velocity / -lr" if spec.momentum else "")))


@builders.register("adam")
def adam(spec, parameters, dtype):
    """torch's denominator is sqrt(v_hat) / sqrt(1 - beta_2^t) + eps, its step lr / (1 - beta_1^t)
    (torch/optim/adam.py `_single_tensor_adam`; amsgrad takes the running max of v first): the
    canonical `after_bias_correction` form as it stands, with a constant eps. The canonical
    `before_bias_correction` form has sqrt(v_hat) + epsilon after the factor sqrt(1 - beta_2^t)
    moved into the step size: the two agree for eps = epsilon / sqrt(1 - beta_2^t), set in the
    param group before every step (`eps` is read at each step())."""
    decay = spec.weight_decay
    decoupled = decay is not None and decay.coupling == "decoupled"
    optimizer = torch.optim.Adam(parameters, lr=spec.learning_rate, betas=(spec.beta_1, spec.beta_2),
                                 eps=spec.epsilon, amsgrad=spec.amsgrad, foreach=False,
                                 weight_decay=decay.rate if decay is not None else 0.0,
                                 decoupled_weight_decay=decoupled)
    group = optimizer.param_groups[0]

    def epsilon_for_step(t: int) -> None:
        group["eps"] = spec.epsilon / math.sqrt(1 - spec.beta_2 ** t)

    decay_detail = ""
    if decay is not None:
        decay_detail = f", weight_decay={decay.rate}" + (", decoupled_weight_decay=True (AdamW's update)"
                                                         if decoupled else " (coupled)")
    detail = (f"torch.optim.Adam(lr={spec.learning_rate}, betas=({spec.beta_1}, {spec.beta_2}), "
              f"amsgrad={spec.amsgrad}{decay_detail}")
    if spec.epsilon_placement == "after_bias_correction" or spec.epsilon == 0:
        return stepping(optimizer, parameters, spec, native_decoupled_decay=True, detail=(
            detail + f", eps={spec.epsilon})"
            + ("" if spec.epsilon_placement == "after_bias_correction"
               else "; epsilon 0, so before and after bias correction agree")))
    return stepping(optimizer, parameters, spec, native_decoupled_decay=True, before_step=epsilon_for_step,
                    detail=(detail + f") with eps = {spec.epsilon} / sqrt(1 - beta_2^t) set before step t: "
                            "epsilon before bias correction, which torch adds after dividing by "
                            "sqrt(1 - beta_2^t)"))


@builders.register("rmsprop")
def rmsprop(spec, parameters, dtype):
    """torch: avg = sqrt(square_avg [- grad_avg^2]) + eps, then buf = momentum buf + g / avg and
    p -= lr buf, or p -= lr g / avg (torch/optim/rmsprop.py `_single_tensor_rmsprop`): epsilon
    outside the square root. Inside it has no reparametrisation: composite."""
    if spec.epsilon_placement == "inside_sqrt" and spec.epsilon != 0:
        return rmsprop_inside_sqrt(spec, parameters)
    optimizer = torch.optim.RMSprop(parameters, lr=spec.learning_rate, alpha=spec.rho, eps=spec.epsilon,
                                    momentum=spec.momentum, centered=spec.centered,
                                    weight_decay=coupled_rate(spec), foreach=False)
    return stepping(optimizer, parameters, spec, detail=(
        f"torch.optim.RMSprop(lr={spec.learning_rate}, alpha={spec.rho} (rho), eps={spec.epsilon}, "
        f"momentum={spec.momentum}, centered={spec.centered}{decay_text(spec)})"
        + ("; epsilon 0, so inside and outside the square root agree" if spec.epsilon_placement == "inside_sqrt"
           else "")))


def rmsprop_inside_sqrt(spec, parameters):
    states = [{"s": torch.zeros_like(p), "a": torch.zeros_like(p), "b": torch.zeros_like(p)} for p in parameters]
    decay = spec.weight_decay

    def apply(gradients):
        with torch.no_grad():
            for parameter, gradient, state in zip(parameters, gradients, states):
                g = torch.zeros_like(parameter) if gradient is None else gradient
                if decay is not None and decay.coupling == "coupled":
                    g = g + decay.rate * parameter
                if decay is not None and decay.coupling == "decoupled":
                    parameter.mul_(1 - spec.learning_rate * decay.rate)
                state["s"].mul_(spec.rho).addcmul_(g, g, value=1 - spec.rho)
                d = state["s"]
                if spec.centered:
                    state["a"].mul_(spec.rho).add_(g, alpha=1 - spec.rho)
                    d = state["s"] - state["a"] * state["a"]
                delta = spec.learning_rate * g / torch.sqrt(d + spec.epsilon)
                if spec.momentum:
                    delta = state["b"].mul_(spec.momentum).add_(delta)
                parameter.sub_(delta)

    return BuiltOptimizer(apply=apply, implementation="composite", detail=(
        f"torch ops: s = {spec.rho} s + (1 - {spec.rho}) g^2, p -= lr g / sqrt(s{' - a^2' if spec.centered else ''}"
        f" + {spec.epsilon}){' through a momentum buffer' if spec.momentum else ''}: torch.optim.RMSprop adds "
        "eps outside the square root, which no eps of its own reproduces"
        + (f"; weight decay {decay.coupling} by hand" if decay is not None else "")))


@builders.register("adagrad")
def adagrad(spec, parameters, dtype):
    """torch: state_sum starts at initial_accumulator_value, += g^2, p -= lr g / (sqrt(sum) +
    eps) (torch/optim/adagrad.py `_single_tensor_adagrad`; lr_decay 0). Epsilon inside the square
    root is exact with initial_accumulator_value = a + epsilon and eps = 0: sqrt(a + epsilon +
    sum g^2) is the canonical sqrt(s + epsilon)."""
    inside = spec.epsilon_placement == "inside_sqrt"
    initial = spec.initial_accumulator_value + (spec.epsilon if inside else 0.0)
    eps = 0.0 if inside else spec.epsilon
    optimizer = torch.optim.Adagrad(parameters, lr=spec.learning_rate, lr_decay=0.0, eps=eps,
                                    initial_accumulator_value=initial, weight_decay=coupled_rate(spec),
                                    foreach=False)
    reparametrised = (f"; epsilon inside the square root as initial_accumulator_value = "
                      f"{spec.initial_accumulator_value} + {spec.epsilon} with eps = 0") if inside else ""
    return stepping(optimizer, parameters, spec, detail=(
        f"torch.optim.Adagrad(lr={spec.learning_rate}, initial_accumulator_value={initial}, eps={eps}"
        f"{decay_text(spec)}){reparametrised}"))


# --- defaults ----------------------------------------------------------------------------------

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
    REGISTRY.defaults.register(key)(lambda context, read=read: read())


@REGISTRY.defaults.register("sgd.momentum")
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


@REGISTRY.defaults.register("adam.epsilon")
def adam_epsilon(context):
    # torch adds its eps after bias correction: 1e-8 in the after_bias_correction form.
    reading = stated("torch.optim.Adam", Adam, "eps")
    placement, reading.meaning, reading.probe = adam_placement()
    reading.effective = reading.value if placement else None
    return [reading]


@REGISTRY.defaults.register("adam.epsilon_placement")
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


@REGISTRY.defaults.register("rmsprop.epsilon")
def rmsprop_epsilon(context):
    reading = stated("torch.optim.RMSprop", RMSprop, "eps")
    _, reading.meaning, reading.probe = rmsprop_placement()
    return [reading]


@REGISTRY.defaults.register("rmsprop.epsilon_placement")
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


@REGISTRY.defaults.register("adagrad.epsilon")
def adagrad_epsilon(context):
    reading = stated("torch.optim.Adagrad", Adagrad, "eps")
    _, reading.meaning, reading.probe = adagrad_placement()
    return [reading]


@REGISTRY.defaults.register("adagrad.epsilon_placement")
def adagrad_epsilon_placement(context):
    placement, meaning, probe = adagrad_placement()
    return [Reading.fixed("torch.optim.Adagrad", placement, meaning, probe, used=True)]


@REGISTRY.defaults.register("adagrad.initial_accumulator_value")
def adagrad_initial_accumulator(context):
    reading = stated("torch.optim.Adagrad", Adagrad, "initial_accumulator_value")
    (step,) = first_step(Adagrad, [1.0])
    reading.effective, reading.probe = probes.adagrad_initial_accumulator(signature_default(Adagrad, "lr"), step)
    return [reading]
