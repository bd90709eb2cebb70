"""Convolution layers: Conv1D, Conv2D and Conv3D (cross-correlation, as in all three frameworks).

One reference serves both ranks: the input is moved to channels_last, padded by TF's rule
(windows.py), cut into windows through a strided view (im2col with a single copy), and all
groups of channels are one batched matrix product. Backward is the transposed products, the
input gradient added back one kernel offset at a time (col2im).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

import numpy as np
from pydantic import Field, model_validator

from harness.reference.activations import ActivationField, Linear
from harness.reference.layers import windows as win
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer

PositiveInt = Annotated[int, Field(gt=0)]
Sizes = Union[PositiveInt, list[PositiveInt]]
"""One size for every spatial axis, or a list with one per axis (Keras' int or tuple)."""

DATA_FORMAT_DESCRIPTION = (
    "channels_last: (batch, *spatial, channels), Keras' default; channels_first: (batch, channels, "
    "*spatial), torch's and chainer's only layout. Required: the frameworks disagree on the default")


PADDING_DESCRIPTION = (
    "valid (no padding), same (TF's rule: the odd cell at the end), or explicit amounts: one integer for "
    "every side (torch's padding=p, chainer's pad=p), or per spatial axis an integer or [before, after] "
    "(asymmetric, as Keras models write ZeroPadding2D before a 'valid' layer)")


def as_tuple(value: int | list[int], rank: int) -> tuple[int, ...]:
    return (value,) * rank if isinstance(value, int) else tuple(value)


class WindowedSpec(LayerSpec):
    """Fields and shape logic shared by convolution and pooling over `rank` spatial axes."""

    rank: ClassVar[int]
    data_format: win.DataFormat = Field(description=DATA_FORMAT_DESCRIPTION)

    def _check_sizes(self, **sizes: int | list[int]) -> None:
        for name, value in sizes.items():
            if isinstance(value, list) and len(value) != self.rank:
                raise ValueError(f"{name} has {len(value)} entries; {self.type} needs one integer or "
                                 f"a list of {self.rank}")

    def split_input(self, input_shapes) -> tuple[tuple[int, ...], int]:
        (shape,) = input_shapes
        if len(shape) != self.rank + 1:
            layout = "(*spatial, channels)" if self.data_format == "channels_last" else "(channels, *spatial)"
            raise ValueError(f"{self.type} needs inputs of rank {self.rank + 1} without the batch axis, "
                             f"{layout} for {self.data_format}")
        return win.split_channels(tuple(shape), self.data_format)


class KernelGeometry:
    """`kernel`, `stride` and `dilation` as tuples per spatial axis, from the fields
    `kernel_size`, `strides` and `dilation_rate` (an int or one per axis) that every convolution
    spec (plain, depthwise, transposed) declares."""

    def _per_axis(self, value: int | list[int]) -> tuple[int, ...]:
        return as_tuple(value, self.rank)  # type: ignore[attr-defined]

    @property
    def kernel(self) -> tuple[int, ...]:
        return self._per_axis(self.kernel_size)  # type: ignore[attr-defined]

    @property
    def stride(self) -> tuple[int, ...]:
        return self._per_axis(self.strides)  # type: ignore[attr-defined]

    @property
    def dilation(self) -> tuple[int, ...]:
        return self._per_axis(self.dilation_rate)  # type: ignore[attr-defined]


class ConvSpec(KernelGeometry, WindowedSpec):
    """y = activation(cross_correlate(pad(x), kernel) + bias), per group of channels.

    Canonical layout (Keras'): `kernel` (*kernel_size, in_channels / groups, filters), `bias`
    (filters,). Output channel o belongs to group o // (filters / groups) and sees input channels
    [g * in/groups, (g + 1) * in/groups) of that group, as in TF, torch and chainer.

    Explicit `padding` pads (before, after) zeros per spatial axis, then slides as 'valid'.
    `padding: same` follows TF: out = ceil(n / s) and the odd padding cell goes at the END, also
    for even kernels and strides > 1 (torch's padding='same' refuses strides > 1, and symmetric
    padding k // 2 shifts the windows by one cell). The activation is applied in the layer's own
    data_format (a softmax acts on the last axis of the output as laid out).

    `data_format` has no default: Keras reads it from keras.config.image_data_format()
    (channels_last unless configured), torch and chainer only know channels_first, so a case that
    left it out would mean different tensors to different readers. The canonical kernel layout
    does not depend on it.
    """

    filters: int = Field(gt=0)
    kernel_size: Sizes
    strides: Sizes = 1
    padding: win.Padding | win.ExplicitPadding = Field(default="valid", description=PADDING_DESCRIPTION)
    dilation_rate: Sizes = 1
    groups: int = Field(default=1, gt=0, description="input channels and filters are split into this many groups")
    activation: ActivationField = Field(default_factory=lambda: Linear(name="linear"))
    use_bias: bool = True

    reference: ClassVar[type[ReferenceLayer]]

    @model_validator(mode="after")
    def _consistent(self):
        self._check_sizes(kernel_size=self.kernel_size, strides=self.strides, dilation_rate=self.dilation_rate)
        if not isinstance(self.padding, str):
            win.explicit_amounts(self.padding, self.rank)  # raises ValueError, reported at `padding`
        if self.filters % self.groups:
            raise ValueError(f"filters ({self.filters}) must be divisible by groups ({self.groups})")
        return self

    def paddings(self, spatial: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """(before, after) per spatial axis for an input of these spatial sizes."""
        return win.padding_amounts(spatial, self.kernel, self.stride, self.dilation, self.padding)

    def output_shape(self, input_shapes):
        spatial, channels = self.split_input(input_shapes)
        if channels % self.groups:
            raise ValueError(f"{channels} input channels are not divisible by groups={self.groups}")
        out = win.output_sizes(spatial, self.kernel, self.stride, self.dilation, self.paddings(spatial))
        if min(out) < 1:
            raise ValueError(f"kernel {list(self.kernel)} with dilation {list(self.dilation)} is larger "
                             f"than the input {list(spatial)} with padding {self.padding!r}")
        return win.join_channels(out, self.filters, self.data_format)

    def parameter_shapes(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        shapes = {"kernel": (*self.kernel, channels // self.groups, self.filters)}
        if self.use_bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def default_initializers(self):
        return {"kernel": "glorot_uniform", "bias": "zeros"}


class ConvReference(ReferenceLayer):
    """Forward: im2col, one copy of the windows as a matrix per group of channels, (positions,
    kernel cells * in/groups), times the group's kernel (kernel cells * in/groups,
    filters/groups): one batched matrix product over the groups. Backward: the transposed
    products give the kernel's gradient and the windows' (dz @ kernel.T), and the latter is
    added back into the input one kernel offset at a time (col2im: the cells offset k meets,
    one per output position)."""

    def forward(self, x):
        spec = self.spec
        x = win.to_channels_last(x, spec.data_format)
        spatial, channels = x.shape[1:-1], x.shape[-1]
        self.pads = spec.paddings(spatial)
        padded = win.pad(x, self.pads)
        self.padded_shape = padded.shape
        self.out = win.output_sizes(spatial, spec.kernel, spec.stride, spec.dilation, self.pads)
        cells = win.windows(padded, spec.kernel, spec.stride, spec.dilation, self.out)
        # (batch, *out, *kernel, groups, in/groups) -> (groups, positions, kernel cells * in/groups)
        grouped = np.moveaxis(cells.reshape(*cells.shape[:-1], spec.groups, channels // spec.groups), -2, 0)
        self.columns = grouped.reshape(spec.groups, -1, win.window_count(spec.kernel) * grouped.shape[-1])
        z = np.matmul(self.columns, self.group_kernels())  # (groups, positions, filters/groups)
        z = np.moveaxis(z, 0, -2).reshape(x.shape[0], *self.out, spec.filters)
        if spec.use_bias:
            z += self.params["bias"]
        self.z = win.from_channels_last(z, spec.data_format)
        self.y = spec.activation.forward(self.z)
        return self.y

    def group_kernels(self) -> np.ndarray:
        """The canonical kernel (*kernel, in/groups, filters) as one matrix per group:
        (groups, kernel cells * in/groups, filters/groups); filter o is in group o // (filters/groups)."""
        kernel = self.params["kernel"]
        return np.moveaxis(kernel.reshape(-1, self.spec.groups, kernel.shape[-1] // self.spec.groups), 1, 0)

    def backward(self, dy):
        spec = self.spec
        dz = win.to_channels_last(spec.activation.backward(self.z, self.y, dy), spec.data_format)
        dz_groups = np.moveaxis(dz.reshape(-1, spec.groups, spec.filters // spec.groups), 1, 0)
        d_kernel = np.matmul(self.columns.transpose(0, 2, 1), dz_groups)  # (groups, cells * in/g, filters/g)
        self.grads["kernel"] = np.moveaxis(d_kernel, 0, 1).reshape(self.params["kernel"].shape)
        if spec.use_bias:
            self.grads["bias"] = dz.reshape(-1, spec.filters).sum(axis=0)
        # The windows' gradient in one product, d columns = dz @ kernel.T per group, (groups,
        # positions, kernel cells * in/groups), then col2im: each kernel offset's slice of it
        # added back at the input cells that offset met. One product rather than one per offset:
        # conv1's 7x7 kernel over 3 channels made 49 products of width 3, which BLAS runs far
        # below its speed (resnet18's conv1 backward: 545 ms, 130 ms so).
        d_columns = np.matmul(dz_groups, self.group_kernels().transpose(0, 2, 1))
        d_columns = d_columns.reshape(spec.groups, *dz.shape[:-1], win.window_count(spec.kernel), -1)

        def at_offset(k: int) -> np.ndarray:
            # (groups, batch, *out, in/groups) -> (batch, *out, in channels), group by group
            met = np.moveaxis(d_columns[..., k, :], 0, -2)
            return met.reshape(*met.shape[:-2], -1)
        d_padded = win.add_at_offsets(self.padded_shape, dz.dtype, spec.kernel, spec.stride, spec.dilation,
                                      self.out, at_offset)
        return (win.from_channels_last(win.crop(d_padded, self.pads), spec.data_format),)


@LAYERS.register
class Conv1D(ConvSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
    }
    __doc__ = ConvSpec.__doc__.replace("(*kernel_size,", "(kernel_size,")
    type: Literal["Conv1D"]
    rank = 1
    reference = ConvReference


@LAYERS.register
class Conv2D(ConvSpec):
    __doc__ = ConvSpec.__doc__.replace("(*kernel_size,", "(kh, kw,")
    type: Literal["Conv2D"]
    rank = 2
    reference = ConvReference


@LAYERS.register
class Conv3D(ConvSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = ConvSpec.__doc__.replace("(*kernel_size,", "(kd, kh, kw,")
    type: Literal["Conv3D"]
    rank = 3
    reference = ConvReference
