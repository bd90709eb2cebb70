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
        above = x > spec.threshold
        clipped = x if spec.max_value is None else np.minimum(x, spec.max_value)
        return np.where(above, clipped, spec.negative_slope * (x - spec.threshold))

    def backward(self, dy):
        spec, x = self.spec, self.x
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
