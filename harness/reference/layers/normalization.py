"""Normalization layers: BatchNormalization and LayerNormalization.

Both normalise with the biased variance (divide by n) in Keras, torch and chainer alike. Where the
frameworks differ is in their defaults (epsilon; BatchNorm's momentum and its convention) and in
what BatchNorm's moving variance stores, so those have no default here: a case states them, or
asks for each framework's own with `framework_default` (harness/defaults/).

Axes are counted as Keras counts them: with the batch axis, negative from the end (-1 = last).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator

from harness.reference.defaultable import Defaultable
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer
from harness.reference.spec import Shape


def positive_axis(axis: int, rank: int, layer: str) -> int:
    """`axis` (counted with the batch axis) as a non-negative index; never the batch axis."""
    if not -rank <= axis < rank:
        raise ValueError(f"{layer} axis {axis} is out of range for an input of rank {rank} "
                         "(counted with the batch axis)")
    axis %= rank
    if axis == 0:
        raise ValueError(f"{layer} cannot use the batch axis (axis 0) as a feature axis")
    return axis


def broadcastable(vector: np.ndarray, axes: tuple[int, ...], rank: int) -> np.ndarray:
    """A parameter of shape (dims at `axes`) reshaped to broadcast against the input."""
    shape = [1] * rank
    for axis, size in zip(axes, vector.shape):
        shape[axis] = size
    return vector.reshape(shape)


class BatchNormalizationReference(ReferenceLayer):
    """Training: batch mean and biased batch variance over every axis but the feature axis;
    the new moving statistics go into `self.state`. Inference: the moving statistics."""

    def forward(self, x):
        spec = self.spec
        self.axis = positive_axis(spec.axis, x.ndim, "BatchNormalization")
        self.reduce = tuple(a for a in range(x.ndim) if a != self.axis)
        if self.training:
            mean = x.mean(axis=self.reduce)
            variance = x.var(axis=self.reduce)  # biased (ddof 0), as in all three frameworks
            self.state = self.moving_statistics(mean, variance, x.size // mean.size)
        else:
            mean, variance = self.params["moving_mean"], self.params["moving_variance"]
        self.inv_std = self.along_axis(1.0 / np.sqrt(variance + spec.epsilon), x.ndim)
        self.x_hat = (x - self.along_axis(mean, x.ndim)) * self.inv_std
        return self.x_hat * self.gamma(x.ndim) + self.beta(x.ndim)

    def moving_statistics(self, mean, variance, count):
        """moving = momentum * moving + (1 - momentum) * batch (Keras' convention)."""
        momentum = self.spec.momentum
        if self.spec.moving_variance == "unbiased":
            if count < 2:
                raise ValueError("the unbiased variance of one value per feature is undefined")
            variance = variance * count / (count - 1)
        return {"moving_mean": momentum * self.params["moving_mean"] + (1 - momentum) * mean,
                "moving_variance": momentum * self.params["moving_variance"] + (1 - momentum) * variance}

    def along_axis(self, vector, rank):
        return broadcastable(vector, (self.axis,), rank)

    def gamma(self, rank):
        return self.along_axis(self.params["gamma"], rank) if self.spec.scale else 1.0

    def beta(self, rank):
        return self.along_axis(self.params["beta"], rank) if self.spec.center else 0.0

    def backward(self, dy):
        if self.spec.scale:
            self.grads["gamma"] = (dy * self.x_hat).sum(axis=self.reduce)
        if self.spec.center:
            self.grads["beta"] = dy.sum(axis=self.reduce)
        d_x_hat = dy * self.gamma(dy.ndim)
        if not self.training:  # the moving statistics are constants
            return (d_x_hat * self.inv_std,)
        # Through the batch mean and variance (Ioffe and Szegedy 2015, section 3):
        # dx = inv_std * (d_x_hat - mean(d_x_hat) - x_hat * mean(d_x_hat * x_hat)).
        mean_d = d_x_hat.mean(axis=self.reduce, keepdims=True)
        mean_d_x_hat = (d_x_hat * self.x_hat).mean(axis=self.reduce, keepdims=True)
        return (self.inv_std * (d_x_hat - mean_d - self.x_hat * mean_d_x_hat),)


@LAYERS.register
class BatchNormalization(LayerSpec):
    """y = gamma (x - mean) / sqrt(variance + epsilon) + beta, per feature along `axis`.

    Training mode: mean and variance of the batch (over every axis but `axis`), the variance
    biased (divided by n) in Keras, torch and chainer alike; then
    moving_mean = momentum * moving_mean + (1 - momentum) * batch mean, and likewise
    moving_variance with the batch variance: the biased one (`moving_variance: biased`, what
    Keras stores) or the unbiased one, times n / (n - 1) (`unbiased`, what torch and chainer
    store). Inference mode: the moving statistics, which stay as they are.

    `momentum` follows Keras' convention (close to 1 = slow); torch's momentum is 1 - momentum,
    chainer's decay is momentum. Frameworks default epsilon, momentum and the moving variance
    differently (Keras 1e-3, 0.99, biased; torch 1e-5, 0.9, unbiased; chainer 2e-5, 0.9,
    unbiased), so a case states all three, or leaves them to each framework with
    `{framework_default: {reference, reason}}` (harness/defaults/).

    Canonical layout (Keras'): `gamma`, `beta`, `moving_mean`, `moving_variance`, each
    (features,); the moving statistics are not trainable.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["BatchNormalization"]
    axis: int = Field(default=-1, description="the feature axis, counted with the batch axis (-1: last)")
    epsilon: Defaultable[Annotated[float, Field(gt=0)]] = Field(
        description="added to the variance (Keras 1e-3, torch 1e-5, chainer 2e-5)")
    momentum: Defaultable[Annotated[float, Field(ge=0, le=1)]] = Field(description=(
        "Keras' convention: moving = momentum * moving + (1 - momentum) * batch "
        "(Keras 0.99; torch's momentum=0.1 is 0.9 here; chainer's decay=0.9 is 0.9)"))
    moving_variance: Defaultable[Literal["biased", "unbiased"]] = Field(description=(
        "what the moving variance accumulates in training mode: the biased batch variance "
        "(Keras) or the unbiased one, n/(n-1) times it (torch, chainer)"))
    center: bool = Field(default=True, description="add beta")
    scale: bool = Field(default=True, description="multiply by gamma")

    reference = BatchNormalizationReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        positive_axis(self.axis, len(shape) + 1, "BatchNormalization")
        return shape

    def parameter_shapes(self, input_shapes):
        (shape,) = input_shapes
        features = (shape[positive_axis(self.axis, len(shape) + 1, "BatchNormalization") - 1],)
        shapes = {}
        if self.scale:
            shapes["gamma"] = features
        if self.center:
            shapes["beta"] = features
        return {**shapes, "moving_mean": features, "moving_variance": features}

    def default_initializers(self):
        return {"gamma": "ones", "beta": "zeros", "moving_mean": "zeros", "moving_variance": "ones"}

    def non_trainable(self):
        return frozenset({"moving_mean", "moving_variance"})


class LayerNormalizationReference(ReferenceLayer):
    """Mean and biased variance of each sample over the normalised axes."""

    def forward(self, x):
        self.axes = self.spec.positive_axes(x.ndim)
        mean = x.mean(axis=self.axes, keepdims=True)
        variance = x.var(axis=self.axes, keepdims=True)  # biased, as in all three frameworks
        self.inv_std = 1.0 / np.sqrt(variance + self.spec.epsilon)
        self.x_hat = (x - mean) * self.inv_std
        return self.x_hat * self.gamma(x.ndim) + self.beta(x.ndim)

    def gamma(self, rank):
        return broadcastable(self.params["gamma"], self.axes, rank) if self.spec.scale else 1.0

    def beta(self, rank):
        return broadcastable(self.params["beta"], self.axes, rank) if self.spec.center else 0.0

    def backward(self, dy):
        others = tuple(a for a in range(dy.ndim) if a not in self.axes)
        if self.spec.scale:
            self.grads["gamma"] = (dy * self.x_hat).sum(axis=others).reshape(self.params["gamma"].shape)
        if self.spec.center:
            self.grads["beta"] = dy.sum(axis=others).reshape(self.params["beta"].shape)
        d_x_hat = dy * self.gamma(dy.ndim)
        mean_d = d_x_hat.mean(axis=self.axes, keepdims=True)
        mean_d_x_hat = (d_x_hat * self.x_hat).mean(axis=self.axes, keepdims=True)
        return (self.inv_std * (d_x_hat - mean_d - self.x_hat * mean_d_x_hat),)


@LAYERS.register
class LayerNormalization(LayerSpec):
    """y = gamma (x - mean) / sqrt(variance + epsilon) + beta, mean and (biased) variance of each
    sample over the axes in `axis`; the same in training and inference mode.

    Canonical layout (Keras'): `gamma` and `beta` with the input's sizes along the normalised
    axes, in increasing axis order (e.g. (features,) for the default axis -1).
    Defaults differ (Keras epsilon 1e-3, torch 1e-5, chainer's link 1e-6 but its function
    1e-5), so a case states epsilon (or `framework_default`: the chainer adapter then reads the
    link's 1e-6).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("chainer", "reproducer"): "no chainer reproducer template written for it yet",
    }

    type: Literal["LayerNormalization"]
    axis: int | list[int] = Field(default=-1, description=(
        "the axis or axes to normalise over, counted with the batch axis (-1: last)"))
    epsilon: Defaultable[Annotated[float, Field(gt=0)]] = Field(
        description="added to the variance (Keras 1e-3, torch 1e-5, chainer 1e-6)")
    center: bool = Field(default=True, description="add beta")
    scale: bool = Field(default=True, description="multiply by gamma")

    reference = LayerNormalizationReference

    @field_validator("axis")
    @classmethod
    def _some_axis(cls, axis):
        if isinstance(axis, list) and not axis:
            raise ValueError("name at least one axis")
        return axis

    def positive_axes(self, rank: int) -> tuple[int, ...]:
        """The normalised axes as sorted non-negative indices (with the batch axis)."""
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        positive = sorted({positive_axis(a, rank, "LayerNormalization") for a in axes})
        if len(positive) != len(axes):
            raise ValueError(f"LayerNormalization axis {self.axis} names an axis twice")
        return tuple(positive)

    def parameter_shapes(self, input_shapes):
        (shape,) = input_shapes
        parameter: Shape = tuple(shape[a - 1] for a in self.positive_axes(len(shape) + 1))
        shapes = {}
        if self.scale:
            shapes["gamma"] = parameter
        if self.center:
            shapes["beta"] = parameter
        return shapes

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        self.positive_axes(len(shape) + 1)
        return shape

    def default_initializers(self):
        return {"gamma": "ones", "beta": "zeros"}
