"""Activation layers with their own hyper-parameters: LeakyReLU.

Keras, torch and chainer each have a LeakyReLU of their own whose default slope differs from
their leaky_relu *function*'s (Keras' layer 0.3, its function 0.2), so the layer is a kind of its
own: a case with `LeakyReLU` and `negative_slope: {framework_default: ...}` shows the layers'
defaults, one with `Activation` and `leaky_relu` the functions'.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.activations import LeakyRelu
from harness.defaults.schema import Defaultable
from harness.layers.base import LAYERS, LayerSpec
from harness.layers.core import ActivationReference


class LeakyReLUReference(ActivationReference):
    """The leaky_relu activation's reference math, applied as a layer."""


@LAYERS.register
class LeakyReLU(LayerSpec):
    """y = x for x > 0, negative_slope * x otherwise. No parameters.

    The slope is required (or `framework_default`): keras.layers.LeakyReLU defaults to 0.3,
    torch.nn.LeakyReLU to 0.01, chainer's F.leaky_relu to 0.2 (chainer has no LeakyReLU link).
    """

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
