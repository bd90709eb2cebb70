"""Pooling layers: MaxPooling1D/2D, AveragePooling1D/2D and the global poolings.

Windowed pooling uses the same windows as convolution (windows.py), in channels_last order:
max pooling pads with -inf (a padded cell is never the maximum), average pooling pads with zeros
and divides each window by the number of real cells in it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from harness.reference.layers import windows as win
from harness.reference.layers.base import LAYERS, ReferenceLayer
from harness.reference.layers.conv import PADDING_DESCRIPTION, Sizes, WindowedSpec, as_tuple


class PoolingSpec(WindowedSpec):
    """Fields of the windowed poolings. No parameters.

    `pool_size` has no default (Keras' MaxPooling2D has 2, its AveragePooling2D none, torch and
    chainer none); `strides` defaults to `pool_size` in all three. `padding` has no default:
    chainer's max_pooling defaults to cover_all=True, which rounds the output size up (3x3 from
    2x2 windows on 5x5, where Keras 'valid' and torch give 2x2), and 'same' average pooling
    divides differently per framework (see AveragePooling2D). `data_format`: as Conv2D.

    Explicit padding (torch's MaxPool2d(padding=1), chainer's pad) must be smaller than the
    window on each side, so that every window holds a real cell (torch allows at most half the
    window). `ceil_mode` rounds the output size up by torch's rule (windows.ceil_mode_extra): the
    cells it adds after the padding are padding too (-inf for max), never counted by an average.
    chainer's cover_all rounds up without torch's last-window correction; Keras has no such option.
    """

    pool_size: Sizes
    strides: Sizes | None = Field(default=None, description="default: pool_size (in every framework)")
    padding: win.Padding | win.ExplicitPadding = Field(description=PADDING_DESCRIPTION)
    ceil_mode: bool = Field(default=False, description="round the output size up (torch's ceil_mode); "
                                                       "not with padding 'same'")

    @model_validator(mode="after")
    def _consistent(self):
        self._check_sizes(pool_size=self.pool_size,
                          **({"strides": self.strides} if self.strides is not None else {}))
        if self.ceil_mode and self.padding == "same":
            raise ValueError("ceil_mode needs padding 'valid' or explicit amounts: 'same' already covers every cell")
        if not isinstance(self.padding, str):
            amounts = win.explicit_amounts(self.padding, self.rank)
            if any(max(pair) >= k for pair, k in zip(amounts, self.extent)):
                raise ValueError(f"padding {self.padding} is not smaller than the window's extent {list(self.extent)} "
                                 "(pool_size, dilated) on every side: a window of padding alone has no value")
        return self

    @property
    def window(self) -> tuple[int, ...]:
        return as_tuple(self.pool_size, self.rank)

    @property
    def stride(self) -> tuple[int, ...]:
        return self.window if self.strides is None else as_tuple(self.strides, self.rank)

    @property
    def dilation(self) -> tuple[int, ...]:
        return (1,) * self.rank

    @property
    def extent(self) -> tuple[int, ...]:
        """Cells a window spans per axis: (k - 1) d + 1 (the window itself without dilation)."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.window, self.dilation))

    def explicit_paddings(self, spatial: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """(before, after) per axis by the `padding` field alone, without ceil_mode's cells."""
        return win.padding_amounts(spatial, self.window, self.stride, self.dilation, self.padding)

    def ceil_cells(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """Per axis, the cells ceil_mode adds after the padding (0 without ceil_mode)."""
        if not self.ceil_mode:
            return (0,) * self.rank
        return tuple(win.ceil_mode_extra(n, k, s, pads) for n, k, s, pads
                     in zip(spatial, self.extent, self.stride, self.explicit_paddings(spatial)))

    def paddings(self, spatial: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """Everything the input is padded with: the explicit amounts and ceil_mode's cells."""
        return tuple((before, after + extra) for (before, after), extra
                     in zip(self.explicit_paddings(spatial), self.ceil_cells(spatial)))

    def output_shape(self, input_shapes):
        spatial, channels = self.split_input(input_shapes)
        out = win.output_sizes(spatial, self.window, self.stride, self.dilation, self.paddings(spatial))
        if min(out) < 1:
            raise ValueError(f"pool_size {list(self.window)} is larger than the input {list(spatial)} "
                             f"with padding {self.padding!r}")
        return win.join_channels(out, channels, self.data_format)


class PoolingReference(ReferenceLayer):
    """Works offset by offset: for each of the pool's kh * kw offsets, the input cells it meets
    form one strided slice of the padded input, shaped like the output (windows.offset_cells)."""

    pad_value: ClassVar[float]

    def padded_offsets(self, x):
        """The padded channels_last input, and the cells every offset of the pool meets."""
        spec = self.spec
        x = win.to_channels_last(x, spec.data_format)
        self.spatial = x.shape[1:-1]
        self.pads = spec.paddings(self.spatial)
        padded = win.pad(x, self.pads, self.pad_value)
        self.padded_shape, self.dtype = padded.shape, padded.dtype
        self.out = win.output_sizes(self.spatial, spec.window, spec.stride, spec.dilation, self.pads)
        return padded, list(win.offset_cells(spec.window, spec.stride, spec.dilation, self.out))

    def input_gradient(self, gradient_at_offset):
        """d input, given a function offset index -> the gradient of the cells that offset meets."""
        spec = self.spec
        d_padded = win.add_at_offsets(self.padded_shape, self.dtype, spec.window, spec.stride, spec.dilation,
                                      self.out, gradient_at_offset)
        return (win.from_channels_last(win.crop(d_padded, self.pads), spec.data_format),)


class MaxPoolingReference(PoolingReference):
    pad_value = -np.inf

    def forward(self, x):
        padded, offsets = self.padded_offsets(x)
        y = padded[offsets[0]].copy()
        self.winner = np.zeros(y.shape, dtype=np.intp)  # which offset holds the maximum
        larger = np.empty(y.shape, dtype=bool)
        for index, cells in enumerate(offsets[1:], start=1):
            np.greater(padded[cells], y, out=larger)  # strictly: on a tie the first offset keeps it, as argmax
            np.copyto(self.winner, index, where=larger)
            np.maximum(y, padded[cells], out=y)
        return win.from_channels_last(y, self.spec.data_format)

    def backward(self, dy):
        """The gradient goes to the window's maximum (the first one on a tie)."""
        dy = win.to_channels_last(dy, self.spec.data_format)
        return self.input_gradient(lambda index: np.where(self.winner == index, dy, 0.0))


class AveragePoolingReference(PoolingReference):
    pad_value = 0.0

    def forward(self, x):
        padded, offsets = self.padded_offsets(x)
        total = sum(padded[cells] for cells in offsets)
        self.counts = self.spec.divisors(self.spatial, padded.dtype)
        return win.from_channels_last(total / self.counts, self.spec.data_format)

    def backward(self, dy):
        share = win.to_channels_last(dy, self.spec.data_format) / self.counts
        return self.input_gradient(lambda index: share)


class MaxPoolingSpec(PoolingSpec):
    """y = the maximum of each window; 'same' pads with -inf (never chosen).

    `dilation_rate` d spaces a window's cells d apart (torch's MaxPool1d/2d/3d `dilation`): a
    window of k cells spans (k - 1) d + 1, which 'same', explicit padding and ceil_mode count
    as torch does (aten/src/ATen/native/Pool.h `pooling_output_shape_pad_lr`, with
    `dilation * (kernelSize - 1) + 1`). Keras' MaxPooling and chainer's max_pooling_nd have no
    dilation (their adapters compose it)."""

    dilation_rate: Sizes = Field(default=1, description="spacing of a window's cells (torch's dilation)")

    reference = MaxPoolingReference

    @model_validator(mode="after")
    def _dilation_per_axis(self):
        self._check_sizes(dilation_rate=self.dilation_rate)
        return self

    @property
    def dilation(self) -> tuple[int, ...]:
        return as_tuple(self.dilation_rate, self.rank)


class AveragePoolingSpec(PoolingSpec):
    """y = the sum of each window divided by its count. By default the count is the cells
    inside the input, never the padding (TF's tf.nn.avg_pool, which Keras calls: a corner 3x3
    window of a 4x4 input under 'same' is the mean of its 4 real cells). With
    `count_include_pad` the explicit or 'same' padding counts too, but not ceil_mode's cells
    (torch's AvgPool2d, whose default it is: the window clipped to the padded input,
    aten/src/ATen/native/cpu/AvgPoolKernel.cpp `divide_factor`). chainer's average_pooling_2d
    always counts the padding (divides by kh * kw); average_pooling_nd(pad_value=None) does not.
    """

    count_include_pad: bool = Field(default=False, description="the padding counts in each window's divisor "
                                                               "(torch's default; TF's and this field's: not)")

    reference = AveragePoolingReference

    def divisors(self, spatial: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        """(1, *out, 1): each window's count, the cells of a mask it meets: 1 inside the input
        (and in the explicit padding with count_include_pad), 0 in the rest of the padding."""
        ones = np.ones((1, *spatial, 1), dtype=dtype)
        if self.count_include_pad:
            inside, rest = win.pad(ones, self.explicit_paddings(spatial), 1.0), [(0, c) for c in self.ceil_cells(spatial)]
        else:
            inside, rest = ones, self.paddings(spatial)
        mask = win.pad(inside, rest, 0.0)
        out = win.output_sizes(spatial, self.window, self.stride, self.dilation, self.paddings(spatial))
        return sum(mask[cells] for cells in win.offset_cells(self.window, self.stride, self.dilation, out))


@LAYERS.register
class MaxPooling1D(MaxPoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = MaxPoolingSpec.__doc__ + "\n" + PoolingSpec.__doc__
    type: Literal["MaxPooling1D"]
    rank = 1


@LAYERS.register
class MaxPooling2D(MaxPoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = MaxPoolingSpec.__doc__ + "\n" + PoolingSpec.__doc__
    type: Literal["MaxPooling2D"]
    rank = 2


@LAYERS.register
class MaxPooling3D(MaxPoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = MaxPoolingSpec.__doc__ + "\n" + PoolingSpec.__doc__
    type: Literal["MaxPooling3D"]
    rank = 3


@LAYERS.register
class AveragePooling1D(AveragePoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = AveragePoolingSpec.__doc__ + "\n" + PoolingSpec.__doc__
    type: Literal["AveragePooling1D"]
    rank = 1


@LAYERS.register
class AveragePooling2D(AveragePoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = AveragePoolingSpec.__doc__ + "\n" + PoolingSpec.__doc__
    type: Literal["AveragePooling2D"]
    rank = 2


@LAYERS.register
class AveragePooling3D(AveragePoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = AveragePoolingSpec.__doc__ + "\n" + PoolingSpec.__doc__
    type: Literal["AveragePooling3D"]
    rank = 3


# --- global pooling -------------------------------------------------------------------------

class GlobalPoolingSpec(WindowedSpec):
    """y = the mean (or maximum) over every spatial axis, per channel and sample: (batch,
    channels), or with keepdims (batch, 1, ..., channels) / (batch, channels, 1, ...).
    `data_format`: as Conv2D (Keras' GlobalAveragePooling2D reads image_data_format() too).
    The maximum's gradient is split evenly between equal maxima (TF and torch); windowed max
    pooling gives it to the first maximum of the window, in all three frameworks."""

    keepdims: bool = Field(default=False, description="keep the spatial axes, with size 1 (Keras' keepdims)")

    def spatial_axes(self) -> tuple[int, ...]:
        first = 2 if self.data_format == "channels_first" else 1
        return tuple(range(first, first + self.rank))

    def output_shape(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        if self.keepdims:
            return win.join_channels((1,) * self.rank, channels, self.data_format)
        return (channels,)


class GlobalAveragePoolingReference(ReferenceLayer):
    def forward(self, x):
        self.input_shape = x.shape
        return x.mean(axis=self.spec.spatial_axes(), keepdims=self.spec.keepdims)

    def backward(self, dy):
        axes = self.spec.spatial_axes()
        cells = int(np.prod([self.input_shape[a] for a in axes]))
        if not self.spec.keepdims:
            dy = np.expand_dims(dy, axes)
        return (np.broadcast_to(dy / cells, self.input_shape).copy(),)


class GlobalMaxPoolingReference(ReferenceLayer):
    def forward(self, x):
        axes = self.spec.spatial_axes()
        self.x = x
        self.y = x.max(axis=axes, keepdims=True)
        return self.y if self.spec.keepdims else self.y.reshape(self.y.shape[0], -1)

    def backward(self, dy):
        """The gradient is split evenly between equal maxima: TF's gradient of reduce_max
        (tensorflow/python/ops/math_grad.py `_MinOrMaxGrad`, which Keras' GlobalMaxPooling
        differentiates) and torch.amax's. Ties are not rare: a channel that relu zeroed, or two
        'same'-padded windows that cover the same cells."""
        winners = (self.x == self.y).astype(dy.dtype)
        share = winners / winners.sum(axis=self.spec.spatial_axes(), keepdims=True)
        return (share * dy.reshape(self.y.shape),)


@LAYERS.register
class GlobalAveragePooling1D(GlobalPoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): (
            "torch has no global pooling module; AdaptiveAvgPool1d(1) imports as "
            "AdaptiveAveragePooling1D (keeps the axis)"),
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = GlobalPoolingSpec.__doc__
    type: Literal["GlobalAveragePooling1D"]
    rank = 1
    reference = GlobalAveragePoolingReference


@LAYERS.register
class GlobalAveragePooling2D(GlobalPoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): (
            "torch has no global pooling module; AdaptiveAvgPool2d(1) imports as "
            "AdaptiveAveragePooling2D (keeps the axes)"),
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = GlobalPoolingSpec.__doc__
    type: Literal["GlobalAveragePooling2D"]
    rank = 2
    reference = GlobalAveragePoolingReference


@LAYERS.register
class GlobalMaxPooling1D(GlobalPoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): (
            "torch has no global pooling module; AdaptiveMaxPool1d(1) imports as AdaptiveMaxPooling1D "
            "(keeps the axis)"),
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = GlobalPoolingSpec.__doc__
    type: Literal["GlobalMaxPooling1D"]
    rank = 1
    reference = GlobalMaxPoolingReference


@LAYERS.register
class GlobalMaxPooling2D(GlobalPoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): (
            "torch has no global pooling module; AdaptiveMaxPool2d(1) imports as AdaptiveMaxPooling2D "
            "(keeps the axes)"),
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = GlobalPoolingSpec.__doc__
    type: Literal["GlobalMaxPooling2D"]
    rank = 2
    reference = GlobalMaxPoolingReference
