"""chainer.optimizers versions of the harness's optimizers (see harness/reference/optimizers.py for the
formulas).

An optimizer is set up on a holder link that owns only the bound trainable parameters, so it
never touches anything else of the built layers; each step calls `optimizer.update()` on the
gradients `loss.backward()` left in the parameters (chainer's GradientMethod turns a missing
gradient into zeros, chainer/optimizer.py `reallocate_cleared_grads`).

chainer's own rules are in chainer/optimizers/<name>.py (`update_core_cpu`). Where none computes
the canonical update, the update is a chainer UpdateRule of our own written with array
operations (the way chainer's rules are written) and marked composite with the reason.

Weight decay: coupled is chainer's WeightDecay hook (`g += rate * p` before the update,
chainer/optimizer_hooks/weight_decay.py); decoupled is Adam's `weight_decay_rate` (`p <- (1 -
eta wdr) p - eta step`, chainer/optimizers/adam.py), which is the canonical decay for
wdr = learning_rate * rate, and a hook of our own (composite) for the other optimizers.

At the end, the readers of chainer's optimizer defaults: signatures for the values, steps for
what they mean. Sources: chainer/optimizers/sgd.py, momentum_sgd.py, adam.py (eps added to the
uncorrected sqrt(v), like Keras), rmsprop.py (eps_inside_sqrt=False), ada_grad.py (state h starts
at 0).
"""

from __future__ import annotations

import inspect
import math
from functools import cache

import numpy as np

from harness.backends.base import BuiltOptimizer
from harness.backends.chainer._import import chainer
from harness.backends.chainer.defaults.helpers import stated, steps
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.backends.chainer.registry import OPTIMIZER_BUILDERS as builders
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

optimizers = chainer.optimizers


def holder(parameters: list) -> chainer.Link:
    """A link owning exactly these parameters. Registering a Parameter renames it (chainer/link.py
    `__setattr__`): the original names are put back."""
    names = [parameter.name for parameter in parameters]
    link = chainer.Link()
    with link.init_scope():
        for index, parameter in enumerate(parameters):
            setattr(link, f"parameter{index}", parameter)
    for parameter, name in zip(parameters, names):
        parameter.name = name
    return link


class DecoupledWeightDecay:
    """p -= lr * rate * p before the update: decoupled weight decay, which chainer has only in
    Adam (as weight_decay_rate)."""

    name = "DecoupledWeightDecay"
    call_for_each_param = True
    timing = "pre"

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, rule, param):
        param.array[...] -= self.factor * param.array


def stepping(optimizer, parameters, spec, kind: str, detail: str, *,
             native_decoupled_decay: bool = False, before_step=None) -> BuiltOptimizer:
    """`before_step(t)` adjusts the optimizer for step t (Adam's epsilon)."""
    optimizer.setup(holder(parameters))
    decay = spec.weight_decay
    if decay is not None and decay.coupling == "coupled":
        optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(decay.rate))
        detail += f"; coupled weight decay: optimizer_hooks.WeightDecay({decay.rate})"
    elif decay is not None and not native_decoupled_decay:
        optimizer.add_hook(DecoupledWeightDecay(spec.learning_rate * decay.rate))
        kind = "composite"
        detail += (f"; decoupled weight decay as a pre-update hook p -= {spec.learning_rate} * {decay.rate} p: "
                   "chainer has it only in Adam")

    steps = 0

    def apply(gradients):
        nonlocal steps
        steps += 1
        for parameter, gradient in zip(parameters, gradients):
            if gradient is not None and parameter.grad is not gradient:
                parameter.grad = gradient
        if before_step is not None:
            before_step(steps)
        optimizer.update()

    return BuiltOptimizer(apply, kind, detail)


@builders.register("sgd")
def sgd(spec, parameters, dtype):
    """chainer/optimizers/sgd.py: p -= lr g. momentum_sgd.py: v *= momentum, v -= lr g, p += v:
    the canonical velocity form. nesterov_ag.py is another method (p += momentum^2 v_new - (1 +
    momentum) lr g: its first step moves (1 + m + m^2) lr g, Keras' and torch's (1 + m) lr g) and
    no choice of its hyper-parameters gives the canonical Nesterov step: composite."""
    if spec.nesterov:
        optimizer = Composite(NesterovSGDRule, lr=spec.learning_rate, momentum=spec.momentum)
        return stepping(optimizer, parameters, spec, "composite", (
            f"UpdateRule v = {spec.momentum} v - lr g; p += {spec.momentum} v - lr g: chainer's NesterovAG "
            "adds momentum^2 v_new - (1 + momentum) lr g, a different method"))
    if spec.momentum == 0:
        return stepping(optimizers.SGD(lr=spec.learning_rate), parameters, spec, "native",
                        f"chainer.optimizers.SGD(lr={spec.learning_rate})")
    return stepping(optimizers.MomentumSGD(lr=spec.learning_rate, momentum=spec.momentum), parameters, spec,
                    "native", f"chainer.optimizers.MomentumSGD(lr={spec.learning_rate}, momentum={spec.momentum})")


@builders.register("adam")
def adam(spec, parameters, dtype):
    """chainer/optimizers/adam.py `AdamRule.update_core_cpu`: m += (1 - beta1)(g - m), v += (1 -
    beta2)(g^2 - v), vhat = max(vhat, v) with amsgrad, p <- (1 - eta wdr) p - eta alpha_t m /
    (sqrt(vhat) + eps), alpha_t = alpha sqrt(1 - beta2^t) / (1 - beta1^t) (`_learning_rate`): the
    canonical `before_bias_correction` form with alpha = learning_rate, eta = 1, and wdr =
    learning_rate * rate for decoupled decay.

    `after_bias_correction` divides by sqrt(v / (1 - beta2^t)) + epsilon, which is sqrt(v) +
    epsilon sqrt(1 - beta2^t) over sqrt(1 - beta2^t), so chainer's form with eps_t = epsilon
    sqrt(1 - beta2^t) computes it exactly. The rule reads `hp.eps` at every update (its
    hyperparam falls back to the optimizer's): it is set on the optimizer before each update."""
    decay = spec.weight_decay
    rate = spec.learning_rate * decay.rate if decay is not None and decay.coupling == "decoupled" else 0.0
    optimizer = optimizers.Adam(alpha=spec.learning_rate, beta1=spec.beta_1, beta2=spec.beta_2, eps=spec.epsilon,
                                eta=1.0, weight_decay_rate=rate, amsgrad=spec.amsgrad)
    detail = (f"chainer.optimizers.Adam(alpha={spec.learning_rate}, beta1={spec.beta_1}, beta2={spec.beta_2}, "
              f"eps={spec.epsilon}, eta=1, amsgrad={spec.amsgrad}")
    detail += f", weight_decay_rate={rate} = learning_rate * {decay.rate})" if rate else ")"
    if spec.epsilon_placement == "before_bias_correction" or spec.epsilon == 0:
        if spec.epsilon_placement == "after_bias_correction":
            detail += "; epsilon 0, so before and after bias correction agree"
        return stepping(optimizer, parameters, spec, "native", detail, native_decoupled_decay=True)

    def epsilon_for_step(t: int) -> None:
        optimizer.eps = spec.epsilon * math.sqrt(1 - spec.beta_2 ** t)

    return stepping(optimizer, parameters, spec, "native", detail + (
        f" with eps = {spec.epsilon} * sqrt(1 - beta2^t) set before step t: epsilon after bias correction, "
        "which chainer adds before it"), native_decoupled_decay=True, before_step=epsilon_for_step)


@builders.register("rmsprop")
def rmsprop(spec, parameters, dtype):
    """chainer/optimizers/rmsprop.py: ms = alpha ms + (1 - alpha) g^2, p -= lr g / denom with
    denom sqrt(ms) + eps, or sqrt(ms + eps) when eps_inside_sqrt: the canonical form without
    centering or momentum. rmsprop_graves.py: n, g_avg as the centered form, delta = momentum
    delta - lr g / sqrt(n - g_avg^2 + eps), p += delta: the canonical centered form with epsilon
    inside the square root and any momentum (delta is minus the canonical buffer b). Other
    combinations have no chainer optimizer: composite."""
    inside = spec.epsilon_placement == "inside_sqrt" or spec.epsilon == 0
    if not spec.centered and spec.momentum == 0:
        optimizer = optimizers.RMSprop(lr=spec.learning_rate, alpha=spec.rho, eps=spec.epsilon,
                                       eps_inside_sqrt=spec.epsilon_placement == "inside_sqrt")
        return stepping(optimizer, parameters, spec, "native", (
            f"chainer.optimizers.RMSprop(lr={spec.learning_rate}, alpha={spec.rho} (rho), eps={spec.epsilon}, "
            f"eps_inside_sqrt={spec.epsilon_placement == 'inside_sqrt'})"))
    if spec.centered and inside:
        optimizer = optimizers.RMSpropGraves(lr=spec.learning_rate, alpha=spec.rho, momentum=spec.momentum,
                                             eps=spec.epsilon)
        return stepping(optimizer, parameters, spec, "native", (
            f"chainer.optimizers.RMSpropGraves(lr={spec.learning_rate}, alpha={spec.rho} (rho), "
            f"momentum={spec.momentum}, eps={spec.epsilon}): centered, epsilon inside the square root"))
    optimizer = Composite(RMSpropRule, lr=spec.learning_rate, rho=spec.rho, eps=spec.epsilon,
                          inside=spec.epsilon_placement == "inside_sqrt", momentum=spec.momentum,
                          centered=spec.centered)
    why = ("chainer's RMSprop has no momentum" if not spec.centered
           else "chainer's RMSpropGraves (centered) puts epsilon inside the square root")
    return stepping(optimizer, parameters, spec, "composite", (
        f"UpdateRule with the canonical RMSprop (rho={spec.rho}, epsilon {spec.epsilon_placement}, "
        f"momentum={spec.momentum}, centered={spec.centered}): {why}"))


@builders.register("adagrad")
def adagrad(spec, parameters, dtype):
    """chainer/optimizers/ada_grad.py: h += g^2, p -= lr g / (sqrt(h) + eps), h from zeros
    (init_state) with no option to start elsewhere. The rule is used as it is with h starting at
    initial_accumulator_value (a rule subclass that only fills the initial state), and epsilon
    inside the square root is exact as h starting at initial_accumulator_value + epsilon with
    eps = 0."""
    inside = spec.epsilon_placement == "inside_sqrt"
    initial = spec.initial_accumulator_value + (spec.epsilon if inside else 0.0)
    eps = 0.0 if inside else spec.epsilon
    optimizer = AdaGradFrom(initial, lr=spec.learning_rate, eps=eps)
    return stepping(optimizer, parameters, spec, "native", (
        f"chainer.optimizers.AdaGrad(lr={spec.learning_rate}, eps={eps}) with its state h starting at {initial}"
        + (" = initial_accumulator_value + epsilon (eps 0: epsilon inside the square root)" if inside else "")))


# --- chainer update rules ---------------------------------------------------------------------

class AdaGradFromRule(optimizers.ada_grad.AdaGradRule):
    """chainer's AdaGrad rule, with h starting at `initial` instead of zeros."""

    def __init__(self, parent_hyperparam, initial: float) -> None:
        super().__init__(parent_hyperparam)
        self.initial = initial

    def init_state(self, param):
        super().init_state(param)
        self.state["h"][...] = self.initial


class AdaGradFrom(optimizers.AdaGrad):
    def __init__(self, initial: float, **hyperparameters) -> None:
        super().__init__(**hyperparameters)
        self.initial = initial

    def create_update_rule(self):
        return AdaGradFromRule(self.hyperparam, self.initial)


class Composite(chainer.optimizer.GradientMethod):
    """A GradientMethod whose rule is one of ours, with the given hyper-parameters."""

    def __init__(self, rule_class, **hyperparameters) -> None:
        super().__init__()
        self.rule_class = rule_class
        for name, value in hyperparameters.items():
            setattr(self.hyperparam, name, value)

    def create_update_rule(self):
        return self.rule_class(self.hyperparam)


class NesterovSGDRule(chainer.optimizer.UpdateRule):
    """v <- mu v - lr g; p += mu v - lr g (Keras' and torch's Nesterov momentum)."""

    def init_state(self, param):
        self.state["v"] = np.zeros_like(param.array)

    def update_core_cpu(self, param):
        hp, v = self.hyperparam, self.state["v"]
        v *= hp.momentum
        v -= hp.lr * param.grad
        param.array[...] += hp.momentum * v - hp.lr * param.grad


class RMSpropRule(chainer.optimizer.UpdateRule):
    """The canonical RMSprop (harness/reference/optimizers.py), any centering, momentum and placement."""

    def init_state(self, param):
        for name in ("s", "a", "b"):
            self.state[name] = np.zeros_like(param.array)

    def update_core_cpu(self, param):
        hp, state, g = self.hyperparam, self.state, param.grad
        state["s"] *= hp.rho
        state["s"] += (1 - hp.rho) * g * g
        d = state["s"]
        if hp.centered:
            state["a"] *= hp.rho
            state["a"] += (1 - hp.rho) * g
            d = state["s"] - state["a"] * state["a"]
        denominator = np.sqrt(d + hp.eps) if hp.inside else np.sqrt(d) + hp.eps
        delta = hp.lr * g / denominator
        if hp.momentum:
            state["b"] *= hp.momentum
            state["b"] += delta
            delta = state["b"]
        param.array[...] -= delta


# Hyper-parameters whose default is the constructor's signature default, nothing more to it.
for _key, _read in (
        ("sgd.learning_rate", lambda: [stated(optimizers.SGD, "lr"), stated(optimizers.MomentumSGD, "lr", used=False)]),
        ("adam.learning_rate", lambda: [stated(optimizers.Adam, "alpha")]),
        ("adam.beta_1", lambda: [stated(optimizers.Adam, "beta1")]),
        ("adam.beta_2", lambda: [stated(optimizers.Adam, "beta2")]),
        ("rmsprop.learning_rate", lambda: [stated(optimizers.RMSprop, "lr")]),
        ("rmsprop.rho", lambda: [stated(optimizers.RMSprop, "alpha")]),
        ("adagrad.learning_rate", lambda: [stated(optimizers.AdaGrad, "lr")])):
    readers.register(_key)(lambda context, read=_read: read())


@readers.register("sgd.momentum")
def read_sgd_momentum(context):
    # chainer's SGD has no momentum parameter (MomentumSGD has): two steps show what each does.
    plain = Reading.fixed("chainer.optimizers.SGD", used=True)
    with_momentum = stated(optimizers.MomentumSGD, "momentum", used=False)
    for reading, cls in ((plain, optimizers.SGD), (with_momentum, optimizers.MomentumSGD)):
        ((first,), (second,)) = steps(cls(), [1.0], count=2)
        reading.effective, reading.probe = probes.momentum(first, second)
    return [plain, with_momentum]


@cache  # one probe serves both the epsilon reader and the placement reader
def adam_placement() -> tuple:
    epsilon = signature_default(optimizers.Adam, "eps")
    ((small, one),) = steps(optimizers.Adam(), [epsilon, 1.0])
    return probes.adam_epsilon(epsilon, signature_default(optimizers.Adam, "beta2"), small, one, epsilon)


@readers.register("adam.epsilon")
def read_adam_epsilon(context):
    reading = stated(optimizers.Adam, "eps")
    placement, reading.meaning, reading.probe = adam_placement()
    reading.effective = reading.value if placement else None
    return [reading]


@readers.register("adam.epsilon_placement")
def read_adam_epsilon_placement(context):
    placement, meaning, probe = adam_placement()
    return [Reading.fixed("chainer.optimizers.Adam", placement, meaning, probe,
                    used=True)]


@readers.register("rmsprop.momentum")
def read_rmsprop_momentum(context):
    # chainer's RMSprop has no momentum parameter: its update has none (0 in the harness's terms).
    found = "momentum" in inspect.signature(optimizers.RMSprop).parameters
    return [Reading("chainer.optimizers.RMSprop", "", None,
                    "inspect.signature: " + ("a momentum parameter" if found else "no momentum parameter"),
                    None if found else 0.0, used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def rmsprop_placement() -> tuple:
    epsilon = signature_default(optimizers.RMSprop, "eps")
    gradient, rho = math.sqrt(epsilon), signature_default(optimizers.RMSprop, "alpha")
    ((step,),) = steps(optimizers.RMSprop(), [gradient])
    return probes.root_epsilon(step, learning_rate=signature_default(optimizers.RMSprop, "lr"), epsilon=epsilon,
                               gradient=gradient, accumulated=(1 - rho) * gradient**2)


@readers.register("rmsprop.epsilon")
def read_rmsprop_epsilon(context):
    reading = stated(optimizers.RMSprop, "eps")
    _, reading.meaning, reading.probe = rmsprop_placement()
    return [reading]


@readers.register("rmsprop.epsilon_placement")
def read_rmsprop_epsilon_placement(context):
    placement, meaning, probe = rmsprop_placement()
    return [Reading("chainer.optimizers.RMSprop", "eps_inside_sqrt", signature_default(optimizers.RMSprop, "eps_inside_sqrt"),
                    "inspect.signature", placement, meaning, probe, used=True)]


@cache  # one probe serves both the epsilon reader and the placement reader
def adagrad_placement() -> tuple:
    epsilon = signature_default(optimizers.AdaGrad, "eps")
    gradient = math.sqrt(epsilon)
    ((step,),) = steps(optimizers.AdaGrad(), [gradient])  # the accumulator starts at 0 (no option)
    return probes.root_epsilon(step, learning_rate=signature_default(optimizers.AdaGrad, "lr"), epsilon=epsilon,
                               gradient=gradient, accumulated=gradient**2)


@readers.register("adagrad.epsilon")
def read_adagrad_epsilon(context):
    reading = stated(optimizers.AdaGrad, "eps")
    _, reading.meaning, reading.probe = adagrad_placement()
    return [reading]


@readers.register("adagrad.epsilon_placement")
def read_adagrad_epsilon_placement(context):
    placement, meaning, probe = adagrad_placement()
    return [Reading.fixed("chainer.optimizers.AdaGrad", placement, meaning, probe,
                    used=True)]


@readers.register("adagrad.initial_accumulator_value")
def read_adagrad_initial_accumulator(context):
    # No parameter: AdaGrad's state starts at zeros (chainer/optimizers/ada_grad.py); measured.
    reading = Reading.fixed("chainer.optimizers.AdaGrad", used=True)
    ((step,),) = steps(optimizers.AdaGrad(), [1.0])
    reading.effective, reading.probe = probes.adagrad_initial_accumulator(signature_default(optimizers.AdaGrad, "lr"), step)
    return [reading]
