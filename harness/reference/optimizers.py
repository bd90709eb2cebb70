"""Optimizers: the exact update formula each name means here, and its NumPy reference step.

A training case names one optimizer (`optimizer: {type: adam, learning_rate: ..., ...}`). The
docstring of each spec below is the canonical update; every adapter maps it onto its
framework's optimizer, stating any reparametrisation (torch's momentum buffer vs Keras'
velocity, Adam's epsilon placement, ...), or builds it from the framework's primitives and marks it
composite where no native optimizer computes the same thing (see each adapter's optimizers.py).

Notation: theta a parameter, g its gradient at this step (of the batch loss, before the update),
t the step number starting at 1, eta the learning rate. State starts at zero unless stated.
All operations are elementwise.

Hyper-parameters on which the frameworks' defaults differ (learning rate, momentum, epsilon and
where it goes, rho, the Adagrad initial accumulator) have no default: the case states them, or leaves them to
each framework with `{framework_default: {reference, reason}}` (harness/defaults/; the value
each framework used is recorded with its optimizer). The betas and rho have none either: Keras on TensorFlow rounds several hyper-parameters through float32 even in
float64 (keras/src/backend/tensorflow/core.py `cast`: tf.cast of a Python float makes a float32 tensor first), so a float64 case should choose values float32 represents exactly
(0.875, 0.9990234375 = 1 - 2**-10, 2**-7, ...) and should do so knowingly.

Weight decay (`weight_decay: {rate, coupling}`), with lambda the rate:

* `coupled`: g <- g + lambda theta before the update (an L2 penalty's gradient; torch's
  `weight_decay=` on SGD, Adam, RMSprop and Adagrad, chainer's WeightDecay hook);
* `decoupled`: theta <- theta - eta lambda theta, from the parameter before the step, next to
  the optimizer's own update (Loshchilov and Hutter; Keras' `weight_decay=` on any optimizer,
  torch's AdamW, chainer's Adam `weight_decay_rate = eta lambda`).

`step(theta, g, state, t)` returns the new parameter and updates `state` (a dict of arrays made
by `initial_state`). The reference calls it in float64; the `numpy` backend in the case's dtype.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, model_validator

from harness.reference.defaultable import Defaultable
from harness.reference.spec import Registry, Spec

OPTIMIZERS = Registry("optimizer", "type")

Placement = Literal["inside_sqrt", "outside_sqrt"]
PLACEMENT_DESCRIPTION = ("where epsilon goes: inside_sqrt g / sqrt(s + eps) (Keras), outside_sqrt "
                         "g / (sqrt(s) + eps) (torch, chainer). Required: frameworks differ")

AdamPlacement = Literal["before_bias_correction", "after_bias_correction"]
ADAM_PLACEMENT_DESCRIPTION = (
    "where Adam's epsilon goes: before_bias_correction m / (sqrt(v) + eps) times eta sqrt(1 - b2^t) / "
    "(1 - b1^t) (epsilon-hat; Keras, chainer), after_bias_correction m_hat / (sqrt(v_hat) + eps) with "
    "m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t) (torch). Required: frameworks differ")


class WeightDecay(Spec):
    """theta's own contribution to its update; see the module docstring for both couplings."""

    rate: float = Field(gt=0, description="lambda")
    coupling: Literal["coupled", "decoupled"] = Field(
        description="coupled: g + lambda theta (torch weight_decay, L2); decoupled: theta - eta lambda theta "
                    "(Keras weight_decay, torch AdamW). Required: frameworks differ")


class OptimizerSpec(Spec):
    type: str
    learning_rate: Defaultable[Annotated[float, Field(gt=0)]] = Field(
        description="eta; no default (Keras SGD 0.01, torch SGD 0.001, ...)")
    weight_decay: WeightDecay | None = Field(default=None, description="none unless stated")

    def initial_state(self, parameter: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], t: int) -> np.ndarray:
        """The optimizer's own update, without weight decay: the new theta."""
        raise NotImplementedError

    def step(self, theta: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], t: int) -> np.ndarray:
        decay = self.weight_decay
        if decay is not None and decay.coupling == "coupled":
            g = g + decay.rate * theta
        new = self.update(theta, g, state, t)
        if decay is not None and decay.coupling == "decoupled":
            new = new - self.learning_rate * decay.rate * theta
        return new

    def describe(self) -> str:
        # getattr, not model_dump: a framework_default field then reads as such, not as a dict.
        fields = {key: getattr(self, key) for key in type(self).model_fields if key not in ("type", "weight_decay")}
        text = f"{self.type}(" + ", ".join(f"{k}={v}" for k, v in fields.items())
        if self.weight_decay is not None:
            text += f", weight_decay={self.weight_decay.rate} {self.weight_decay.coupling}"
        return text + ")"


@OPTIMIZERS.register
class SGD(OptimizerSpec):
    """Stochastic gradient descent, with momentum mu in Keras' velocity form:

        v <- mu v - eta g
        theta <- theta + v                       (nesterov: theta <- theta + mu v - eta g)

    with v the updated velocity in the Nesterov line. mu = 0 is plain SGD: theta - eta g.
    (torch keeps b <- mu b + g and subtracts eta b: the same for a constant eta, v = -eta b.)
    """

    type: Literal["sgd"]
    momentum: Defaultable[Annotated[float, Field(ge=0, lt=1)]] = Field(
        description="mu; no default (chainer MomentumSGD 0.9, others 0)")
    nesterov: bool = False

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self):
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum > 0")
        return self

    def initial_state(self, parameter):
        return {"velocity": np.zeros_like(parameter)} if self.momentum else {}

    def update(self, theta, g, state, t):
        if not self.momentum:
            return theta - self.learning_rate * g
        v = self.momentum * state["velocity"] - self.learning_rate * g
        state["velocity"] = v
        if self.nesterov:
            return theta + self.momentum * v - self.learning_rate * g
        return theta + v


@OPTIMIZERS.register
class Adam(OptimizerSpec):
    """Adam (Kingma and Ba), with epsilon where `epsilon_placement` puts it:

        m <- beta_1 m + (1 - beta_1) g
        v <- beta_2 v + (1 - beta_2) g^2
        v_hat <- max(v_hat, v)                   (amsgrad; otherwise v_hat = v)

        before_bias_correction (epsilon-hat, the efficient form at the end of the paper's
        section 2; Keras, chainer):
            theta <- theta - eta sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v_hat) + epsilon)
        after_bias_correction (Algorithm 1 as printed; torch):
            theta <- theta - eta (m / (1 - beta_1^t)) / (sqrt(v_hat / (1 - beta_2^t)) + epsilon)

    The two agree for epsilon 0. Otherwise an epsilon after bias correction is the epsilon-hat
    epsilon sqrt(1 - beta_2^t), which changes with t: early on (1 - beta_2^t small) it is far
    smaller, so the same number means a different optimizer. Adapters whose framework has the
    other form set their epsilon before every step (see their optimizers.py).
    """

    type: Literal["adam"]
    beta_1: Defaultable[Annotated[float, Field(ge=0, lt=1)]]
    beta_2: Defaultable[Annotated[float, Field(ge=0, lt=1)]]
    epsilon: Defaultable[Annotated[float, Field(ge=0)]] = Field(
        description="no default (Keras 1e-7, torch and chainer 1e-8); its form is epsilon_placement")
    epsilon_placement: Defaultable[AdamPlacement] = Field(description=ADAM_PLACEMENT_DESCRIPTION)
    amsgrad: bool = False

    def initial_state(self, parameter):
        state = {"m": np.zeros_like(parameter), "v": np.zeros_like(parameter)}
        if self.amsgrad:
            state["v_hat"] = np.zeros_like(parameter)
        return state

    def update(self, theta, g, state, t):
        m = self.beta_1 * state["m"] + (1 - self.beta_1) * g
        v = self.beta_2 * state["v"] + (1 - self.beta_2) * g * g
        state["m"], state["v"] = m, v
        v_hat = v
        if self.amsgrad:
            v_hat = state["v_hat"] = np.maximum(state["v_hat"], v)
        # Python floats, so the numpy backend's float32 arrays stay float32.
        correction_1, correction_2 = 1 - self.beta_1 ** t, 1 - self.beta_2 ** t
        if self.epsilon_placement == "before_bias_correction":
            step_size = self.learning_rate * math.sqrt(correction_2) / correction_1
            return theta - step_size * m / (np.sqrt(v_hat) + self.epsilon)
        return theta - self.learning_rate * (m / correction_1) / (np.sqrt(v_hat / correction_2) + self.epsilon)


@OPTIMIZERS.register
class RMSprop(OptimizerSpec):
    """RMSprop (Tieleman and Hinton), optionally centered (Graves) and with momentum mu:

        s <- rho s + (1 - rho) g^2
        d = s - a^2 with a <- rho a + (1 - rho) g     (centered; otherwise d = s)
        delta = eta g / sqrt(d + epsilon)             (epsilon_placement: inside_sqrt)
              = eta g / (sqrt(d) + epsilon)           (epsilon_placement: outside_sqrt)
        b <- mu b + delta; theta <- theta - b         (mu > 0; otherwise theta <- theta - delta)

    Keras' rho is torch's and chainer's alpha. torch's momentum buffer holds delta / eta: the
    same for a constant eta.
    """

    type: Literal["rmsprop"]
    rho: Defaultable[Annotated[float, Field(ge=0, lt=1)]] = Field(
        description="no default (Keras 0.9, torch and chainer alpha 0.99)")
    epsilon: Defaultable[Annotated[float, Field(ge=0)]] = Field(
        description="no default (Keras 1e-7, torch and chainer 1e-8)")
    epsilon_placement: Defaultable[Placement] = Field(description=PLACEMENT_DESCRIPTION)
    momentum: Defaultable[Annotated[float, Field(ge=0, lt=1)]] = Field(description="mu; 0 for none")
    centered: bool = False

    def initial_state(self, parameter):
        state = {"s": np.zeros_like(parameter)}
        if self.centered:
            state["a"] = np.zeros_like(parameter)
        if self.momentum:
            state["b"] = np.zeros_like(parameter)
        return state

    def update(self, theta, g, state, t):
        s = state["s"] = self.rho * state["s"] + (1 - self.rho) * g * g
        d = s
        if self.centered:
            a = state["a"] = self.rho * state["a"] + (1 - self.rho) * g
            d = s - a * a
        if self.epsilon_placement == "inside_sqrt":
            delta = self.learning_rate * g / np.sqrt(d + self.epsilon)
        else:
            delta = self.learning_rate * g / (np.sqrt(d) + self.epsilon)
        if self.momentum:
            delta = state["b"] = self.momentum * state["b"] + delta
        return theta - delta


@OPTIMIZERS.register
class Adagrad(OptimizerSpec):
    """Adagrad (Duchi et al.):

        s <- s + g^2                              (s starts at initial_accumulator_value)
        theta <- theta - eta g / sqrt(s + epsilon)        (epsilon_placement: inside_sqrt)
        theta <- theta - eta g / (sqrt(s) + epsilon)      (epsilon_placement: outside_sqrt)

    Keras: inside, s from 0.1. torch: outside, s from 0. chainer: outside, s from 0, no option.
    """

    type: Literal["adagrad"]
    initial_accumulator_value: Defaultable[Annotated[float, Field(ge=0)]] = Field(
        description="no default (Keras 0.1, torch and chainer 0)")
    epsilon: Defaultable[Annotated[float, Field(ge=0)]] = Field(
        description="no default (Keras 1e-7, torch 1e-10, chainer 1e-8)")
    epsilon_placement: Defaultable[Placement] = Field(description=PLACEMENT_DESCRIPTION)

    def initial_state(self, parameter):
        return {"s": np.full_like(parameter, self.initial_accumulator_value)}

    def update(self, theta, g, state, t):
        s = state["s"] = state["s"] + g * g
        if self.epsilon_placement == "inside_sqrt":
            return theta - self.learning_rate * g / np.sqrt(s + self.epsilon)
        return theta - self.learning_rate * g / (np.sqrt(s) + self.epsilon)


OptimizerField = Annotated[Union[tuple(OPTIMIZERS.values())], Field(discriminator="type")]  # type: ignore[valid-type]
