"""Activation functions: what each one means here, and its NumPy reference forward and backward.

A case names an activation either as a string (`tanh`) or as a mapping with its parameters
(`{name: leaky_relu, negative_slope: 0.2}`). Where frameworks disagree on a default, the
parameter has no default here and must be written in the case: leaky_relu's slope (Keras layer
0.3, Keras function 0.2, torch 0.01, chainer 0.2), hard_sigmoid's slope (Keras 3 and torch 1/6,
chainer and legacy Keras 2 0.2) and gelu's approximation (keras.activations exact, keras.ops tanh).
Those fields (and softmax's axis) are `Defaultable`: a case may instead write
`{framework_default: {reference: VALUE, reason: WHY}}` to run each framework with its own default
(see harness/defaults/).

`forward(x)` returns y; `backward(x, y, dy)` returns dL/dx given dL/dy. The framework versions
live in each adapter's activations module, keyed by the same names.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Field

from harness.reference.defaultable import Defaultable
from harness.reference.spec import Registry, Spec, axis_range

ACTIVATIONS = Registry("activation", "name")


class ActivationSpec(Spec):
    not_covered = {  # every activation's (subclasses inherit it; the support table's test checks it holds)
        ("*", "reproducer"): "no reproducer template for the Activation layer written yet",
    }

    name: str

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_rank(self, rank: int) -> None:
        """Raise ValueError if this activation cannot act on tensors of `rank` (batch axis
        included); the graph calls it so that a bad axis is a case-file error, not a crash."""

    def describe(self) -> str:
        # getattr, not model_dump: a framework_default field then reads as such, not as a dict.
        params = {key: getattr(self, key) for key in type(self).model_fields if key != "name"}
        if not params:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"


@ACTIVATIONS.register
class Linear(ActivationSpec):
    """f(x) = x."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.Identity has no import translation",
    }

    name: Literal["linear"]

    def forward(self, x):
        return x

    def backward(self, x, y, dy):
        return dy


@ACTIVATIONS.register
class Relu(ActivationSpec):
    """f(x) = max(x, 0); f'(0) taken as 0, as in all three frameworks."""

    name: Literal["relu"]

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, x, y, dy):
        return dy * (x > 0)


@ACTIVATIONS.register
class LeakyRelu(ActivationSpec):
    """f(x) = x for x > 0, negative_slope * x otherwise. The slope is required (see module doc)."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("keras", "importable"): (
            "Keras saves Activation('leaky_relu') as a bare name; the case's leaky_relu needs its "
            "negative_slope stated (frameworks' defaults differ)"),
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.LeakyReLU imports as the LeakyReLU layer, not as an Activation",
    }

    name: Literal["leaky_relu"]
    negative_slope: Defaultable[float] = Field(description="slope for x < 0; no default, frameworks disagree")

    def forward(self, x):
        return np.where(x > 0, x, self.negative_slope * x)

    def backward(self, x, y, dy):
        return dy * np.where(x > 0, 1.0, self.negative_slope).astype(x.dtype)


@ACTIVATIONS.register
class Tanh(ActivationSpec):
    """f(x) = tanh(x); f' = 1 - f^2."""

    name: Literal["tanh"]

    def forward(self, x):
        return np.tanh(x)

    def backward(self, x, y, dy):
        return dy * (1 - y * y)


@ACTIVATIONS.register
class Sigmoid(ActivationSpec):
    """f(x) = 1 / (1 + exp(-x)); f' = f (1 - f)."""

    name: Literal["sigmoid"]

    def forward(self, x):
        return sigmoid(x)

    def backward(self, x, y, dy):
        return dy * y * (1 - y)


@ACTIVATIONS.register
class HardSigmoid(ActivationSpec):
    """f(x) = clip(slope * x + offset, 0, 1).

    Keras 3 and torch use slope 1/6, offset 1/2 (`relu6(x + 3) / 6`, saturating at +-3);
    chainer and legacy Keras 2 use slope 0.2, offset 1/2 (saturating at +-2.5). The slope has
    no default here: the case states which formula it means.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("keras", "importable"): (
            "Keras saves Activation('hard_sigmoid') as a bare name; the case's hard_sigmoid needs its "
            "slope stated (frameworks' defaults differ)"),
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.Hardsigmoid has no import translation",
    }

    name: Literal["hard_sigmoid"]
    slope: Defaultable[float] = Field(description="1/6 for Keras 3 and torch, 0.2 for chainer; required")
    offset: float = 0.5

    def forward(self, x):
        return np.clip(self.slope * x + self.offset, 0, 1)

    def backward(self, x, y, dy):
        inside = (self.slope * x + self.offset > 0) & (self.slope * x + self.offset < 1)
        return dy * self.slope * inside


@ACTIVATIONS.register
class Softmax(ActivationSpec):
    """f(x)_i = exp(x_i) / sum_j exp(x_j) along `axis` (default the last, as in Keras).

    torch's `dim=None` picks an axis from the rank and chainer defaults to axis 1, so the axis is
    always passed explicitly by the adapters. Backward: dx = y * (dy - sum(dy * y, axis)).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
    }

    name: Literal["softmax"]
    axis: Defaultable[int] = Field(default=-1, description="default -1 (Keras); torch and chainer differ")

    def check_rank(self, rank):
        if isinstance(self.axis, int) and not -rank <= self.axis < rank:
            raise ValueError(f"softmax axis {self.axis} is out of range for a tensor of rank {rank} "
                             f"(with the batch axis): use {axis_range(rank)}, or -1 for the last")

    def forward(self, x):
        shifted = x - x.max(axis=self.axis, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, x, y, dy):
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))


@ACTIVATIONS.register
class Elu(ActivationSpec):
    """f(x) = x for x > 0, alpha (exp(x) - 1) otherwise."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.ELU has no import translation",
    }

    name: Literal["elu"]
    alpha: float = 1.0

    def forward(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))

    def backward(self, x, y, dy):
        return dy * np.where(x > 0, 1.0, self.alpha * np.exp(np.minimum(x, 0)))


# SELU constants from Klambauer et al. 2017, the values all three frameworks use.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@ACTIVATIONS.register
class Selu(ActivationSpec):
    """f(x) = scale * (x if x > 0 else alpha (exp(x) - 1)), fixed alpha and scale."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.SELU has no import translation",
    }

    name: Literal["selu"]

    def forward(self, x):
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))

    def backward(self, x, y, dy):
        return dy * SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0)))


@ACTIVATIONS.register
class Softplus(ActivationSpec):
    """f(x) = log(1 + exp(beta x)) / beta, with no linear cut-off (torch switches to x above
    beta x = 20, a difference of about 2e-9 there)."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.Softplus has no import translation",
    }

    name: Literal["softplus"]
    beta: float = 1.0

    def forward(self, x):
        return np.logaddexp(0, self.beta * x) / self.beta

    def backward(self, x, y, dy):
        return dy * sigmoid(self.beta * x)


@ACTIVATIONS.register
class Softsign(ActivationSpec):
    """f(x) = x / (1 + |x|); f' = 1 / (1 + |x|)^2."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.Softsign has no import translation",
    }

    name: Literal["softsign"]

    def forward(self, x):
        return x / (1 + np.abs(x))

    def backward(self, x, y, dy):
        return dy / (1 + np.abs(x)) ** 2


SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@ACTIVATIONS.register
class Gelu(ActivationSpec):
    """Exact: f(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2.
    tanh: f(x) = x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2.
    `approximate` is required: keras.activations.gelu is exact, keras.ops.gelu is tanh."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("keras", "importable"): (
            "Keras saves Activation('gelu') as a bare name; the case's gelu needs its approximate "
            "stated (frameworks' defaults differ)"),
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
    }

    name: Literal["gelu"]
    approximate: Defaultable[Literal["none", "tanh"]] = Field(description="'none' (exact erf form) or 'tanh'")

    def forward(self, x):
        if self.approximate == "none":
            return 0.5 * x * (1 + erf(x / math.sqrt(2)))
        return 0.5 * x * (1 + np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3)))

    def backward(self, x, y, dy):
        if self.approximate == "none":
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            return dy * (0.5 * (1 + erf(x / math.sqrt(2))) + x * pdf)
        inner = SQRT_2_OVER_PI * (x + 0.044715 * x**3)
        t = np.tanh(inner)
        dinner = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dinner)


class _Swish(ActivationSpec):
    """f(x) = x sigmoid(beta x); beta 1 is silu. chainer's F.swish requires beta explicitly."""

    beta: float = 1.0

    def forward(self, x):
        return x * sigmoid(self.beta * x)

    def backward(self, x, y, dy):
        s = sigmoid(self.beta * x)
        return dy * (s + self.beta * x * s * (1 - s))


@ACTIVATIONS.register
class Swish(_Swish):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.SiLU has no import translation",
    }
    __doc__ = _Swish.__doc__
    name: Literal["swish"]


@ACTIVATIONS.register
class Silu(_Swish):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
        ("torch", "importable"): "nn.SiLU has no import translation",
    }
    __doc__ = _Swish.__doc__
    name: Literal["silu"]


@ACTIVATIONS.register
class LogSoftmax(ActivationSpec):
    """f(x)_i = x_i - log(sum_j exp(x_j)) along `axis` (default the last, as in Keras).

    Computed as shifted - log(sum(exp(shifted))) with the maximum subtracted first, so that large
    logits do not overflow; torch's log_softmax and Keras' do the same. chainer's F.log_softmax
    defaults to axis 1 and torch's `dim=None` picks one from the rank, so the adapters always
    pass it. Backward: dx = dy - softmax(x) * sum(dy, axis).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
    }

    name: Literal["log_softmax"]
    axis: int = Field(default=-1, description="default -1 (Keras); always passed to the frameworks")

    def check_rank(self, rank):
        if not -rank <= self.axis < rank:
            raise ValueError(f"log_softmax axis {self.axis} is out of range for a tensor of rank {rank} "
                             f"(with the batch axis): use {axis_range(rank)}, or -1 for the last")

    def forward(self, x):
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, x, y, dy):
        return dy - np.exp(y) * dy.sum(axis=self.axis, keepdims=True)


@ACTIVATIONS.register
class HardSwish(ActivationSpec):
    """f(x) = x * relu6(x + 3) / 6 (MobileNetV3's h-swish; Keras calls it hard_silu too).

    Backward: 0 for x < -3, (2x + 3) / 6 on [-3, 3], 1 above 3; at the kinks torch's
    hardswish_backward uses the same closed intervals (aten/src/ATen/native/cpu/Activation.cpp).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("keras", "importable"): "Keras 3 saves Activation('hard_swish') as 'hard_silu', a name the case does not know",
        ("chainer", "importable"): "the chainer importer translates no chainer function to it",
    }

    name: Literal["hard_swish"]

    def forward(self, x):
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0

    def backward(self, x, y, dy):
        return dy * np.where(x < -3.0, 0.0, np.where(x > 3.0, 1.0, (2.0 * x + 3.0) / 6.0))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)), accurate to about 2e-16 relative everywhere.

    exp(-x) overflows to inf below x = -709 (-88 in float32), where the result is its limit 0,
    so the overflow warning is silenced. Computed in one buffer: about 3 times faster than a
    two-branch `where(x >= 0, ...)` form with its temporaries, which matters in the recurrent
    references (up to five calls per step).
    """
    y = np.negative(x, out=np.empty_like(x))
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1
    return np.reciprocal(y, out=y)


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function; NumPy has none, math.erf is exact to double precision."""
    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


def _from_string(value: Any) -> Any:
    """Allow `activation: tanh` as shorthand for `activation: {name: tanh}`."""
    return {"name": value} if isinstance(value, str) else value


_ACTIVATION_UNION = Union[tuple(ACTIVATIONS.values())]  # type: ignore[valid-type]

ActivationField = Annotated[
    _ACTIVATION_UNION,
    Field(discriminator="name"),
    # The published JSON Schema accepts the string shorthand too.
    BeforeValidator(_from_string, json_schema_input_type=Union[
        Literal[tuple(ACTIVATIONS)], _ACTIVATION_UNION]),  # type: ignore[valid-type]
]
"""The type of an `activation:` field: a name, or a mapping with `name` and parameters."""

