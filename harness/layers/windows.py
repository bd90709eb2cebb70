"""Sliding windows over spatial axes: what convolution and pooling share.

The reference computes every windowed layer in channels_last order, x (batch, *spatial,
channels), the canonical (Keras') layout; a channels_first layer moves the channel axis there
and back (`to_channels_last`, `from_channels_last`).

* `padding_amounts`: the (before, after) zeros (or -inf) each spatial axis gets, TF's rule.
* `windows`: a read-only strided view (batch, *out, *kernel, channels) of the padded input
  (numpy's as_strided); reshaped to a matrix (one copy) it is im2col, and one matrix product
  then does a convolution.
* `to_channels_last` makes the moved array contiguous once, so that windows and offset slices
  read whole rows of channels rather than single elements a plane apart.
* `offset_cells`: per kernel offset, the strided slice of input cells it meets, one per output
  position. Pooling, and the gradients that go back to the input (col2im), loop over these:
  a handful of offsets, each a whole-tensor operation.
"""

from __future__ import annotations

import itertools
import math
from typing import Iterator, Literal

import numpy as np
from numpy.lib.stride_tricks import as_strided

Padding = Literal["valid", "same"]
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


def padding_amounts(spatial: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
                    dilation: tuple[int, ...], padding: Padding) -> tuple[tuple[int, int], ...]:
    if padding == "valid":
        return tuple((0, 0) for _ in spatial)
    return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation))


def output_sizes(spatial, kernel, strides, dilation, padding: Padding) -> tuple[int, ...]:
    """'valid': floor((n - k_eff) / s) + 1 (can be < 1: the caller rejects it); 'same': ceil(n / s)."""
    if padding == "same":
        return tuple(-(-n // s) for n, s in zip(spatial, strides))
    return tuple((n - ((k - 1) * d + 1)) // s + 1 for n, k, s, d in zip(spatial, kernel, strides, dilation))


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
