"""Activation layers with their own hyper-parameters: LeakyReLU and ReLU (max_value, threshold).

Keras, torch and chainer each have a LeakyReLU of their own whose default slope differs from
their leaky_relu *function*'s (Keras' layer 0.3, its function 0.2), so the layer is a kind of its
own: a case with `LeakyReLU` and `negative_slope: {framework_default: ...}` shows the layers'
defaults, one with `Activation` and `leaky_relu` the functions'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from harness.reference.activations import LeakyRelu
from harness.reference.defaultable import Defaultable
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer
from harness.reference.layers.core import ActivationReference


class LeakyReLUReference(ActivationReference):
    """The leaky_relu activation's reference math, applied as a layer."""


@LAYERS.register
class LeakyReLU(LayerSpec):
    """y = x for x > 0, negative_slope * x otherwise. No parameters.

    The slope is required (or `framework_default`): keras.layers.LeakyReLU defaults to 0.3,
    torch.nn.LeakyReLU to 0.01, chainer's F.leaky_relu to 0.2 (chainer has no LeakyReLU link).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["LeakyReLU"]
    negative_slope: Defaultable[float] = Field(description="slope for x < 0; no default, frameworks disagree")

    reference = LeakyReLUReference

    @property
    def activation(self) -> LeakyRelu:
        """The same function as the leaky_relu activation, for the shared reference."""
        return LeakyRelu(name="leaky_relu", negative_slope=self.negative_slope)

    @classmethod
    def default_name_stem(cls) -> str:
        return "leaky_re_lu"  # Keras' own name for it


class ReLUReference(ReferenceLayer):
    """y = min(x, max_value) for x > threshold, negative_slope * (x - threshold) otherwise.

    The derivative is 1 on (threshold, max_value), 0 above max_value, negative_slope below the
    threshold; at the kinks it is taken from the side Keras' implementation uses (x > threshold,
    keras/src/activations/activations.py `ReLU.static_call`), which the covering inputs never hit.
    """

    def forward(self, x):
        spec = self.spec
        self.x = x
        if self.plain:  # relu, relu6: the same values in one pass rather than four
            return np.clip(x, 0.0, spec.max_value) if spec.max_value is not None else np.maximum(x, 0.0)
        above = x > spec.threshold
        clipped = x if spec.max_value is None else np.minimum(x, spec.max_value)
        return np.where(above, clipped, spec.negative_slope * (x - spec.threshold))

    @property
    def plain(self) -> bool:
        """No slope below and a threshold of 0: y = clip(x, 0, max_value), derivative 1 on
        (0, max_value) and 0 elsewhere (ReLU and MobileNet's ReLU6, 35 layers of MobileNetV2)."""
        return self.spec.negative_slope == 0 and self.spec.threshold == 0

    def backward(self, dy):
        spec, x = self.spec, self.x
        if self.plain:
            inside = x > 0
            if spec.max_value is not None:
                inside &= x < spec.max_value
            return (dy * inside,)
        inside = x < spec.max_value if spec.max_value is not None else np.ones_like(x, dtype=bool)
        slope = np.where(x > spec.threshold, inside.astype(x.dtype), spec.negative_slope)
        return (dy * slope,)


@LAYERS.register
class ReLU(LayerSpec):
    """Keras' ReLU layer: y = min(x, max_value) for x > threshold, negative_slope * (x - threshold)
    otherwise. No parameters. ReLU6 is `max_value: 6`, a clipped ReLU any other max_value.

    The defaults are keras.layers.ReLU's (keras/src/layers/activations/relu.py), and so is the
    domain: Keras refuses negative values for all three. torch has a module for some settings
    (ReLU, ReLU6, Hardtanh(0, m), LeakyReLU, Threshold(t, 0)) and chainer a function for some
    (relu, clipped_relu, leaky_relu); the adapters build the others from primitives (composite).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["ReLU"]
    max_value: float | None = Field(default=None, ge=0, description="upper clip; None for no clip")
    negative_slope: float = Field(default=0.0, ge=0, description="slope below the threshold")
    threshold: float = Field(default=0.0, ge=0, description="inputs at or below it take the negative slope")

    reference = ReLUReference

    @property
    def activation(self) -> "ReLUPieces":
        """Its pieces, for the branch coverage (harness/diagnosis/coverage.py)."""
        return ReLUPieces(self.max_value, self.threshold, self.negative_slope)


@dataclass(frozen=True)
class ReLUPieces:
    """The ReLU layer's settings seen as a piecewise function (not a case-file activation)."""

    max_value: float | None
    threshold: float
    negative_slope: float

    @property
    def name(self) -> str:
        """The branch table's key: a clipped piece only exists with a max_value."""
        return "relu_layer" if self.max_value is None else "clipped_relu_layer"

    def describe(self) -> str:
        return (f"ReLU(max_value={self.max_value}, negative_slope={self.negative_slope}, "
                f"threshold={self.threshold})")


class PReLUReference(ReferenceLayer):
    """y = x for x > 0, alpha * x otherwise, alpha broadcast over the batch and the shared axes.

    Backward: dx = dy where x > 0, alpha * dy otherwise; d alpha = the sum of dy * x over the
    entries with x <= 0, summed over the batch and over each shared axis (where alpha has size 1).
    """

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.params["alpha"] * x)

    def backward(self, dy):
        x, alpha = self.x, self.params["alpha"]
        grad = (dy * np.where(x > 0, 0.0, x)).sum(axis=0)
        shared = tuple(axis for axis, (size, full) in enumerate(zip(alpha.shape, grad.shape)) if size == 1 < full)
        self.grads["alpha"] = grad.sum(axis=shared, keepdims=True)
        return (dy * np.where(x > 0, 1.0, alpha),)


@LAYERS.register
class PReLU(LayerSpec):
    """Keras' PReLU: y = x for x > 0, alpha * x otherwise, with a trained alpha per input entry.

    Canonical layout (Keras', keras/src/layers/activations/prelu.py): `alpha` has the input's
    shape without the batch axis, with size 1 along each of `shared_axes` (counted with the batch
    axis, as Keras counts them). torch's nn.PReLU holds one alpha per channel of axis 1 (or one
    for all): the same function where the input is (batch, features) and nothing is shared, or
    everything is; chainer's L.PReLU holds W shaped x.shape[1:1+W.ndim], the same layout where
    nothing is shared. Elsewhere both adapters build it from primitives (composite).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["PReLU"]
    shared_axes: list[int] = Field(default_factory=list,
                                   description="axes (counted with the batch axis, >= 1) sharing one alpha")

    reference = PReLUReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if any(not 1 <= axis <= len(shape) for axis in self.shared_axes):
            raise ValueError(f"shared_axes {self.shared_axes} must lie in 1..{len(shape)} for input shape {shape}")
        return shape

    def parameter_shapes(self, input_shapes):
        (shape,) = input_shapes
        return {"alpha": tuple(1 if axis + 1 in self.shared_axes else size for axis, size in enumerate(shape))}

    def default_initializers(self):
        return {"alpha": "zeros"}  # Keras' alpha_initializer
