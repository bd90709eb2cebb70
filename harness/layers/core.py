"""Core layers: Dense, Activation, Flatten."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from harness.activations import ActivationField, Linear
from harness.layers.base import LAYERS, LayerSpec, ReferenceLayer, flat_features
from harness.spec import Shape


class DenseReference(ReferenceLayer):
    def forward(self, x):
        W = self.params["kernel"]
        z = x @ W
        if self.spec.use_bias:
            z = z + self.params["bias"]
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
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return (dy.reshape(self.input_shape),)


@LAYERS.register
class Flatten(LayerSpec):
    """y = x reshaped to (batch, prod(other axes)), in C order of the canonical layout.

    For channels_last images that is (H, W, C) order, as Keras; torch and chainer flatten NCHW
    in (C, H, W) order, so their adapters permute before flattening (see issue 3's conv layers).
    """

    type: Literal["Flatten"]

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
