"""Core layers: Dense, Activation, Flatten, Reuse, Rescaling."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from harness.reference.activations import ActivationField, Linear
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer, flat_features


class DenseReference(ReferenceLayer):
    def forward(self, x):
        W = self.params["kernel"]
        z = x @ W
        if self.spec.use_bias:
            z += self.params["bias"]
        self.x, self.z = x, z
        self.y = self.spec.activation.forward(z)
        return self.y

    def backward(self, dy):
        dz = self.spec.activation.backward(self.z, self.y, dy)
        units = dz.shape[-1]
        # Sum over every axis but the last: Dense acts on the last axis of N-D input.
        self.grads["kernel"] = self.x.reshape(-1, self.x.shape[-1]).T @ dz.reshape(-1, units)
        if self.spec.use_bias:
            self.grads["bias"] = dz.reshape(-1, units).sum(axis=0)
        return (dz @ self.params["kernel"].T,)


@LAYERS.register
class Dense(LayerSpec):
    """y = activation(x W + b), acting on the last axis.

    Canonical layout (Keras's): `kernel` (in, units), `bias` (units,).
    PyTorch's Linear and chainer's Linear store the weight (units, in): their adapters transpose.
    """

    type: Literal["Dense"]
    units: int = Field(gt=0)
    activation: ActivationField = Field(default_factory=lambda: Linear(name="linear"))
    use_bias: bool = True

    reference = DenseReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if not shape:
            raise ValueError("Dense needs an input with at least one feature axis")
        return (*shape[:-1], self.units)

    def parameter_shapes(self, input_shapes):
        (shape,) = input_shapes
        shapes = {"kernel": (shape[-1], self.units)}
        if self.use_bias:
            shapes["bias"] = (self.units,)
        return shapes

    def default_initializers(self):
        return {"kernel": "glorot_uniform", "bias": "zeros"}


class ActivationReference(ReferenceLayer):
    def forward(self, x):
        self.x = x
        self.y = self.spec.activation.forward(x)
        return self.y

    def backward(self, dy):
        return (self.spec.activation.backward(self.x, self.y, dy),)


@LAYERS.register
class Activation(LayerSpec):
    """y = activation(x), elementwise (softmax: along its axis). No parameters."""

    type: Literal["Activation"]
    activation: ActivationField

    reference = ActivationReference


class FlattenReference(ReferenceLayer):
    def forward(self, x):
        self.input_shape = x.shape
        if self.spec.data_format == "channels_first":
            x = np.moveaxis(x, 1, -1)
        self.ordered_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        dx = dy.reshape(self.ordered_shape)
        if self.spec.data_format == "channels_first":
            dx = np.moveaxis(dx, -1, 1)
        return (dx,)


@LAYERS.register
class Flatten(LayerSpec):
    """y = x reshaped to (batch, prod(other axes)).

    `data_format: channels_last` (the default) flattens the tensor as it is, in C order: (H, W, C)
    order for a channels_last image, (C, H, W) for a channels_first one. This is what Keras'
    Flatten does by default, torch's flatten(1) and chainer's reshape always, so the default
    means the same everywhere. `channels_first` is Keras' Flatten(data_format='channels_first'):
    the channel axis (axis 1) is moved last first, so a (C, H, W) input is flattened in (H, W, C)
    order, the order a channels_last model would have seen (keras/src/layers/reshaping/flatten.py,
    `call`). See harness/backends/layout.py for moving a Dense kernel between the two orders.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Flatten"]
    data_format: Literal["channels_last", "channels_first"] = Field(
        default="channels_last",
        description="channels_last: flatten as laid out (every framework's default); channels_first: "
                    "move axis 1 last before flattening (Keras' Flatten(data_format='channels_first'))")

    reference = FlattenReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        return (flat_features(shape),)


@LAYERS.register
class Reuse(LayerSpec):
    """Graph form only: apply the layer of an earlier node again, with the same weights.

    Gradients from every use add up, as in Keras when one layer object is called twice.
    Written `{type: Reuse, layer: hidden, inputs: [hidden]}`.
    """

    type: Literal["Reuse"]
    layer: str = Field(description="name of the node whose layer (and weights) to apply again")


class RescalingReference(ReferenceLayer):
    def forward(self, x):
        return x * self.spec.scale + self.spec.offset

    def backward(self, dy):
        return (dy * self.spec.scale,)


@LAYERS.register
class Rescaling(LayerSpec):
    """y = x * scale + offset, elementwise; no parameters (keras.layers.Rescaling, which
    keras.applications' EfficientNets and the Keras image tutorials put first: 1/255, or
    1/127.5 with offset -1). A per-channel scale (Keras takes a list) is not supported here."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): (
            "torch has no rescaling module; x * scale + offset is arithmetic with constants, which "
            "the importer refuses"),
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Rescaling"]
    scale: float = Field(description="the factor, e.g. 0.00390625 for 1/256 (a float32-exact value keeps "
                                     "float64 runs exact: Keras casts it to the layer's dtype)")
    offset: float = Field(default=0.0, description="added after scaling")

    reference = RescalingReference
