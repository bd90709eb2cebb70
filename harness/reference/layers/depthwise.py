"""DepthwiseConv2D and SeparableConv2D: one small convolution per input channel (MobileNet's block).

Every input channel c is convolved with its own `depth_multiplier` kernels; output channel
c * depth_multiplier + m is channel c's m-th (the order of TF, torch's groups=in_channels and
chainer's depthwise_convolution_2d alike). That is a grouped convolution with groups = input
channels and filters = channels * depth_multiplier, whose kernel (kh, kw, 1, filters) is the
depthwise kernel (kh, kw, in, multiplier) reshaped: C order puts (c, m) at c * multiplier + m
(`DepthwiseConv2D.grouped`, which gives the output shape).

The reference does not run it as conv.py's grouped matrix product, though: with one input
channel per group that is one tiny (positions, kh*kw) x (kh*kw, multiplier) product per channel,
which NumPy's matmul loops over channel by channel (MobileNetV2 at 224x224: 17 depthwise layers
took 4.4 s of the reference's 8.7 s). Instead, per kernel offset k, the input cells k meets
(windows.offset_cells, a strided view with whole rows of channels) times kernel[k] (one value
per channel and multiplier) is added to the output: kh*kw broadcast multiply-adds over the whole
tensor. Backward is the same loop: the kernel's gradient at k is the sum over batch and
positions of those cells times dz, the input's gradient gets dz times kernel[k] added back at
those cells.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pydantic import Field, model_validator

from harness.reference.activations import ActivationField, Linear
from harness.reference.layers import windows as win
from harness.reference.layers.base import LAYERS, ReferenceLayer
from harness.reference.layers.conv import PADDING_DESCRIPTION, Conv2D, ConvReference, KernelGeometry, Sizes, WindowedSpec


class DepthwiseReference(ReferenceLayer):
    """Forward and backward as kh*kw whole-tensor multiply-adds, one per kernel offset (module
    docstring): z[b, o, c * M + m] = sum_k padded[b, o*s + k*d, c] * kernel[k, c, m].

    Each multiplier m is computed as its own (batch, *out, channels) array, so that every
    elementwise operation runs along the contiguous channel rows (a trailing multiplier axis
    of 1 made NumPy's inner loop one element long: 3x slower); the output interleaves them in
    one copy at the end."""

    def forward(self, x):
        spec = self.spec
        x = win.to_channels_last(x, spec.data_format)
        spatial = x.shape[1:-1]
        self.pads = spec.paddings(spatial)
        self.padded = win.pad(x, self.pads)
        self.out = win.output_sizes(spatial, spec.kernel, spec.stride, spec.dilation, self.pads)
        kernel = self.offset_kernels()  # (offsets, multiplier, channels)
        z = np.zeros((kernel.shape[1], x.shape[0], *self.out, x.shape[-1]), dtype=np.result_type(x, kernel))
        product = np.empty_like(z[0])
        for k, cells in enumerate(self.offsets()):
            for m in range(kernel.shape[1]):
                np.add(z[m], np.multiply(self.padded[cells], kernel[k, m], out=product), out=z[m])
        z = np.moveaxis(z, 0, -1).reshape(*z.shape[1:-1], -1)  # output channel c * multiplier + m
        if spec.use_bias:
            z += self.params["bias"]
        self.z = win.from_channels_last(z, spec.data_format)
        self.y = spec.activation.forward(self.z)
        return self.y

    def offsets(self):
        spec = self.spec
        return win.offset_cells(spec.kernel, spec.stride, spec.dilation, self.out)

    def offset_kernels(self) -> np.ndarray:
        """The kernel (kh, kw, channels, multiplier) as (kh * kw offsets, multiplier, channels)."""
        kernel = self.params["kernel"]
        return np.moveaxis(kernel.reshape(-1, *kernel.shape[-2:]), -1, 1)

    def backward(self, dy):
        spec = self.spec
        dz = win.to_channels_last(spec.activation.backward(self.z, self.y, dy), spec.data_format)
        kernel = self.offset_kernels()
        if spec.use_bias:
            self.grads["bias"] = dz.reshape(-1, dz.shape[-1]).sum(axis=0)
        # (multiplier, batch, *out, channels), each multiplier's array contiguous (class docstring)
        dz = np.ascontiguousarray(np.moveaxis(dz.reshape(*dz.shape[:-1], -1, kernel.shape[1]), -1, 0))
        positions = "pqrs"[:dz.ndim - 2]  # batch and spatial axes, summed over for the kernel
        d_kernel = np.empty_like(kernel)
        for k, cells in enumerate(self.offsets()):
            for m in range(kernel.shape[1]):  # sum over batch and positions of cells * dz, per channel
                d_kernel[k, m] = np.einsum(f"{positions}c,{positions}c->c", self.padded[cells], dz[m])

        def at_offset(k: int) -> np.ndarray:  # sum over m of dz[m] * kernel[k, m]
            met = dz[0] * kernel[k, 0]
            for m in range(1, kernel.shape[1]):
                met += dz[m] * kernel[k, m]
            return met
        d_padded = win.add_at_offsets(self.padded.shape, dz.dtype, spec.kernel, spec.stride, spec.dilation,
                                      self.out, at_offset)
        self.grads["kernel"] = np.moveaxis(d_kernel, 1, -1).reshape(self.params["kernel"].shape)
        return (win.from_channels_last(win.crop(d_padded, self.pads), spec.data_format),)


@LAYERS.register
class DepthwiseConv2D(KernelGeometry, WindowedSpec):
    """y = activation(depthwise_conv(pad(x), kernel) + bias).

    Canonical layout (Keras'): `kernel` (kh, kw, in_channels, depth_multiplier) (Keras 3 names
    it kernel: keras/src/layers/convolutional/base_depthwise_conv.py, `depthwise_shape =
    kernel_size + (input_channel, depth_multiplier)`), `bias` (in_channels * depth_multiplier,).
    Padding, strides, dilation and data_format as Conv2D.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["DepthwiseConv2D"]
    rank = 2
    kernel_size: Sizes
    depth_multiplier: int = Field(default=1, gt=0, description="output channels per input channel")
    strides: Sizes = 1
    padding: win.Padding | win.ExplicitPadding = Field(default="valid", description=PADDING_DESCRIPTION)
    dilation_rate: Sizes = 1
    activation: ActivationField = Field(default_factory=lambda: Linear(name="linear"))
    use_bias: bool = True

    reference = DepthwiseReference

    @model_validator(mode="after")
    def _consistent(self):
        self._check_sizes(kernel_size=self.kernel_size, strides=self.strides, dilation_rate=self.dilation_rate)
        if not isinstance(self.padding, str):
            win.explicit_amounts(self.padding, self.rank)
        return self

    def grouped(self, channels: int) -> Conv2D:
        """The same layer as a Conv2D with groups = channels (module docstring)."""
        return Conv2D(type="Conv2D", name=self.name, filters=channels * self.depth_multiplier,
                      kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                      dilation_rate=self.dilation_rate, groups=channels, activation=self.activation,
                      use_bias=self.use_bias, data_format=self.data_format)

    def paddings(self, spatial: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        return win.padding_amounts(spatial, self.kernel, self.stride, self.dilation, self.padding)

    def output_shape(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        return self.grouped(channels).output_shape(input_shapes)

    def parameter_shapes(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        shapes = {"kernel": (*self.kernel, channels, self.depth_multiplier)}
        if self.use_bias:
            shapes["bias"] = (channels * self.depth_multiplier,)
        return shapes

    def default_initializers(self):
        return {"kernel": "glorot_uniform", "bias": "zeros"}


class SeparableReference(ReferenceLayer):
    """The depthwise convolution (no bias, linear), then the 1x1 pointwise one with the bias and
    the activation; backward runs the two in reverse."""

    def forward(self, x):
        spec = self.spec
        self.depthwise = DepthwiseReference(spec.depthwise_part(), {"kernel": self.params["depthwise_kernel"]},
                                            training=self.training)
        pointwise = {"kernel": self.params["pointwise_kernel"]}
        if spec.use_bias:
            pointwise["bias"] = self.params["bias"]
        self.pointwise = ConvReference(spec.pointwise_part(), pointwise, training=self.training)
        return self.pointwise.forward(self.depthwise.forward(x))

    def backward(self, dy):
        (dh,) = self.pointwise.backward(dy)
        dx = self.depthwise.backward(dh)
        self.grads = {"depthwise_kernel": self.depthwise.grads["kernel"],
                      "pointwise_kernel": self.pointwise.grads["kernel"]}
        if self.spec.use_bias:
            self.grads["bias"] = self.pointwise.grads["bias"]
        return dx


@LAYERS.register
class SeparableConv2D(DepthwiseConv2D):
    """y = activation(pointwise_conv(depthwise_conv(pad(x))) + bias): a DepthwiseConv2D (no bias)
    then a 1x1 Conv2D with `filters` outputs; strides, padding and dilation act in the depthwise
    step (keras/src/layers/convolutional/base_separable_conv.py).

    Canonical layout (Keras'): `depthwise_kernel` (kh, kw, in, depth_multiplier),
    `pointwise_kernel` (1, 1, in * depth_multiplier, filters), `bias` (filters,).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): "torch has no separable module; its two Conv2d import as DepthwiseConv2D and Conv2D",
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["SeparableConv2D"]  # type: ignore[assignment]
    filters: int = Field(gt=0)

    reference = SeparableReference

    def depthwise_part(self) -> DepthwiseConv2D:
        return DepthwiseConv2D(type="DepthwiseConv2D", kernel_size=self.kernel_size,
                               depth_multiplier=self.depth_multiplier, strides=self.strides, padding=self.padding,
                               dilation_rate=self.dilation_rate, use_bias=False, data_format=self.data_format)

    def pointwise_part(self) -> Conv2D:
        return Conv2D(type="Conv2D", filters=self.filters, kernel_size=1, activation=self.activation,
                      use_bias=self.use_bias, data_format=self.data_format)

    def output_shape(self, input_shapes):
        middle = self.depthwise_part().output_shape(input_shapes)
        return self.pointwise_part().output_shape([middle])

    def parameter_shapes(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        shapes = {"depthwise_kernel": (*self.kernel, channels, self.depth_multiplier),
                  "pointwise_kernel": (1, 1, channels * self.depth_multiplier, self.filters)}
        if self.use_bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def default_initializers(self):
        return {"depthwise_kernel": "glorot_uniform", "pointwise_kernel": "glorot_uniform", "bias": "zeros"}
