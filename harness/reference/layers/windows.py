"""Sliding windows over spatial axes: what convolution and pooling share.

The reference computes every windowed layer in channels_last order, x (batch, *spatial,
channels), the canonical (Keras') layout; a channels_first layer moves the channel axis there
and back (`to_channels_last`, `from_channels_last`).

* `padding_amounts`: the (before, after) zeros (or -inf) each spatial axis gets: TF's rule for
  'same', or the case's explicit amounts (torch's int/tuple padding, chainer's pad, asymmetric
  [[before, after], ...] as a ZeroPadding in front of a 'valid' Keras layer).
* `windows`: a read-only strided view (batch, *out, *kernel, channels) of the padded input
  (numpy's as_strided); reshaped to a matrix (one copy) it is im2col, and one matrix product
  then does a convolution.
* `to_channels_last` makes the moved array contiguous once, so that windows and offset slices
  read whole rows of channels rather than single elements a plane apart.
* `offset_cells`: per kernel offset, the strided slice of input cells it meets, one per output
  position. Pooling, and the gradients that go back to the input (col2im), loop over these:
  a handful of offsets, each a whole-tensor operation.
* `add_at_offsets`: col2im itself, what every windowed layer's input gradient (and a
  transposed convolution's forward) does: per offset, values added at the cells it meets.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Iterator, Literal, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided

Padding = Literal["valid", "same"]
ExplicitPadding = Union[int, list[Union[int, list[int]]]]
"""Explicit amounts: one int for every side, or per spatial axis an int (both sides) or
[before, after]."""
DataFormat = Literal["channels_last", "channels_first"]


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF's 'same' padding of one axis: out = ceil(n / s), total = max((out - 1) s + k_eff - n, 0)
    with k_eff = (k - 1) d + 1; before = total // 2, and the odd cell goes AFTER (bottom/right).

    Source: keras/src/backend/tensorflow/nn.py `_pad_same_spatial_channels_last` (the same
    rule written out for Keras' own decomposition), tf.nn.convolution's SAME.
    """
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def explicit_amounts(padding: ExplicitPadding, rank: int) -> tuple[tuple[int, int], ...]:
    """(before, after) per axis from an explicit padding; ValueError where it does not fit."""
    if isinstance(padding, int):
        padding = [padding] * rank
    if len(padding) != rank:
        raise ValueError(f"padding has {len(padding)} entries; it needs one integer or one entry per spatial "
                         f"axis ({rank}), each an integer or [before, after]")
    amounts = []
    for entry in padding:
        pair = (entry, entry) if isinstance(entry, int) else tuple(entry)
        if len(pair) != 2 or min(pair) < 0:
            raise ValueError(f"each padding entry must be a non-negative integer or [before, after], got {entry}")
        amounts.append(pair)
    return tuple(amounts)


def padding_amounts(spatial: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
                    dilation: tuple[int, ...], padding: Padding | ExplicitPadding) -> tuple[tuple[int, int], ...]:
    if padding == "valid":
        return tuple((0, 0) for _ in spatial)
    if padding == "same":
        return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation))
    return explicit_amounts(padding, len(spatial))


def output_sizes(spatial, kernel, strides, dilation, pads) -> tuple[int, ...]:
    """floor((n + before + after - k_eff) / s) + 1 with k_eff = (k - 1) d + 1 (can be < 1: the
    caller rejects it). With TF's 'same' amounts this is ceil(n / s)."""
    return tuple((n + before + after - ((k - 1) * d + 1)) // s + 1
                 for n, k, s, d, (before, after) in zip(spatial, kernel, strides, dilation, pads))


def ceil_mode_extra(size: int, kernel: int, stride: int, pads: tuple[int, int]) -> int:
    """Cells added after the padding so that the output size rounds up (torch's ceil_mode):
    out = ceil((n + before + after - k) / s) + 1, less one where the last window would start
    beyond the input and its leading padding ((out - 1) s >= n + before:
    aten/src/ATen/native/Pool.h `pooling_output_shape_pad_lr`, in the wheel's
    torch/include)."""
    before, after = pads
    total = size + before + after
    out = -(-(total - kernel) // stride) + 1
    if (out - 1) * stride >= size + before:
        out -= 1
    return max((out - 1) * stride + kernel - total, 0)


def windows(padded: np.ndarray, kernel, strides, dilation, out) -> np.ndarray:
    """(batch, *out, *kernel, channels) view: element [b, o..., k..., c] is
    padded[b, o*s + k*d ..., c]."""
    step = padded.strides
    spatial = step[1:-1]
    shape = (padded.shape[0], *out, *kernel, padded.shape[-1])
    strides_in_bytes = (step[0], *(t * s for t, s in zip(spatial, strides)),
                        *(t * d for t, d in zip(spatial, dilation)), step[-1])
    return as_strided(padded, shape, strides_in_bytes, writeable=False)


def offset_cells(kernel, strides, dilation, out) -> Iterator[tuple[slice, ...]]:
    """For each kernel offset k (in C order): the index of the padded-input cells it meets, one
    per output position; padded[index] has shape (batch, *out, channels): cell o*s + k*d."""
    every = slice(None)
    for offset in itertools.product(*(range(k) for k in kernel)):
        yield (every, *(slice(k * d, k * d + (n - 1) * s + 1, s)
                        for k, d, n, s in zip(offset, dilation, out, strides)), every)


def add_at_offsets(shape, dtype, kernel, strides, dilation, out,
                   values_at: Callable[[int], np.ndarray]) -> np.ndarray:
    """An array of `shape` (batch, *padded, channels) holding, summed over the kernel offsets k,
    values_at(k) (batch, *out, channels) added at the cells offset k meets (col2im).

    Added through `np.add(..., out=view)`: `array[cells] += values` would also assign the
    view back onto itself, one more pass over it per offset."""
    total = np.zeros(shape, dtype=dtype)
    for k, cells in enumerate(offset_cells(kernel, strides, dilation, out)):
        view = total[cells]
        np.add(view, values_at(k), out=view)
    return total


def pad(x: np.ndarray, amounts, value: float = 0.0) -> np.ndarray:
    if not any(before or after for before, after in amounts):
        return x
    return np.pad(x, ((0, 0), *amounts, (0, 0)), constant_values=value)


def crop(padded: np.ndarray, amounts) -> np.ndarray:
    cut = tuple(slice(before, size - after) for (before, after), size in zip(amounts, padded.shape[1:-1]))
    return padded[(slice(None), *cut, slice(None))]


def to_channels_last(x: np.ndarray, data_format: DataFormat) -> np.ndarray:
    """x with its channels last and contiguous in memory: every window and offset slice then
    reads whole rows of channels. A channels_first layer's output (from_channels_last, a view)
    is already laid out so and passes through without a copy."""
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if data_format == "channels_first" else x


def from_channels_last(x: np.ndarray, data_format: DataFormat) -> np.ndarray:
    """The channels_first view of a channels_last array (no copy: elementwise operations on it
    keep the channels_last memory order)."""
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x


def split_channels(shape: tuple[int, ...], data_format: DataFormat) -> tuple[tuple[int, ...], int]:
    """(spatial sizes, channels) of a shape without the batch axis."""
    if data_format == "channels_first":
        return tuple(shape[1:]), shape[0]
    return tuple(shape[:-1]), shape[-1]


def join_channels(spatial: tuple[int, ...], channels: int, data_format: DataFormat) -> tuple[int, ...]:
    return (channels, *spatial) if data_format == "channels_first" else (*spatial, channels)


def window_count(kernel) -> int:
    return math.prod(kernel)
