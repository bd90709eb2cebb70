"""Adaptive pooling: AdaptiveAveragePooling1D/2D, AdaptiveMaxPooling1D/2D (torch's
nn.AdaptiveAvgPool2d, torchvision's classifiers' last pooling; Keras 3's layers of that name).

The output has `output_size` cells per spatial axis whatever the input's size; output cell i of
an axis of n input cells pools cells [floor(i n / out), ceil((i + 1) n / out)): windows of
unequal size that may overlap (aten/src/ATen/native/AdaptivePooling.h `start_index`,
`end_index`; keras/src/backend/tensorflow/nn.py `_compute_static_gather_indices`, the same rule).
An output of 1 is global pooling. The reference loops over the output cells, each a whole-batch,
every-channel operation; the maximum's gradient goes to the window's first maximum in row-major
order, as torch's adaptive_max_pool2d returns and differentiates its indices.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from harness.reference.layers import windows as win
from harness.reference.layers.base import LAYERS, ReferenceLayer
from harness.reference.layers.conv import Sizes, WindowedSpec, as_tuple


def adaptive_bounds(size: int, out: int) -> list[tuple[int, int]]:
    """[start, end) of each output cell's window along one axis."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


class AdaptivePoolingSpec(WindowedSpec):
    """y[..., i, j, ...] = the mean (or maximum) of x over the window of cell (i, j) (module
    docstring). `output_size`: one size for every axis or one per axis. `data_format`: as Conv2D."""

    output_size: Sizes = Field(description="output cells per spatial axis (1: global pooling)")

    @model_validator(mode="after")
    def _consistent(self):
        self._check_sizes(output_size=self.output_size)
        return self

    @property
    def out(self) -> tuple[int, ...]:
        return as_tuple(self.output_size, self.rank)

    def output_shape(self, input_shapes):
        spatial, channels = self.split_input(input_shapes)
        return win.join_channels(self.out, channels, self.data_format)

    def windows_of(self, spatial: tuple[int, ...]):
        """(output index, window slices) for every output cell, in C order."""
        bounds = [adaptive_bounds(n, o) for n, o in zip(spatial, self.out)]
        for index in itertools.product(*(range(o) for o in self.out)):
            yield index, tuple(slice(*bounds[axis][i]) for axis, i in enumerate(index))


class AdaptiveAverageReference(ReferenceLayer):
    def forward(self, x):
        x = win.to_channels_last(x, self.spec.data_format)
        self.input_shape = x.shape
        y = np.empty((x.shape[0], *self.spec.out, x.shape[-1]), dtype=x.dtype)
        every = slice(None)
        for index, cut in self.spec.windows_of(x.shape[1:-1]):
            y[(every, *index)] = x[(every, *cut)].mean(axis=tuple(range(1, 1 + self.spec.rank)))
        return win.from_channels_last(y, self.spec.data_format)

    def backward(self, dy):
        dy = win.to_channels_last(dy, self.spec.data_format)
        dx = np.zeros(self.input_shape, dtype=dy.dtype)
        every = slice(None)
        for index, cut in self.spec.windows_of(self.input_shape[1:-1]):
            cells = int(np.prod([s.stop - s.start for s in cut]))
            dx[(every, *cut)] += np.expand_dims(dy[(every, *index)] / cells, tuple(range(1, 1 + self.spec.rank)))
        return (win.from_channels_last(dx, self.spec.data_format),)


class AdaptiveMaxReference(ReferenceLayer):
    def forward(self, x):
        x = win.to_channels_last(x, self.spec.data_format)
        self.input_shape = x.shape
        batch, channels = x.shape[0], x.shape[-1]
        y = np.empty((batch, *self.spec.out, channels), dtype=x.dtype)
        self.winners = {}
        every = slice(None)
        for index, cut in self.spec.windows_of(x.shape[1:-1]):
            window = x[(every, *cut)].reshape(batch, -1, channels)
            first = window.argmax(axis=1)  # the first maximum in row-major order on a tie
            self.winners[index] = first
            y[(every, *index)] = np.take_along_axis(window, first[:, None, :], axis=1)[:, 0]
        return win.from_channels_last(y, self.spec.data_format)

    def backward(self, dy):
        dy = win.to_channels_last(dy, self.spec.data_format)
        dx = np.zeros(self.input_shape, dtype=dy.dtype)
        batch, channels = dx.shape[0], dx.shape[-1]
        every = slice(None)
        for index, cut in self.spec.windows_of(self.input_shape[1:-1]):
            shape = tuple(s.stop - s.start for s in cut)
            share = np.zeros((batch, int(np.prod(shape)), channels), dtype=dy.dtype)
            np.put_along_axis(share, self.winners[index][:, None, :], dy[(every, *index)][:, None, :], axis=1)
            dx[(every, *cut)] += share.reshape(batch, *shape, channels)
        return (win.from_channels_last(dx, self.spec.data_format),)


@LAYERS.register
class AdaptiveAveragePooling1D(AdaptivePoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = AdaptivePoolingSpec.__doc__
    type: Literal["AdaptiveAveragePooling1D"]
    rank = 1
    reference = AdaptiveAverageReference


@LAYERS.register
class AdaptiveAveragePooling2D(AdaptivePoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = AdaptivePoolingSpec.__doc__
    type: Literal["AdaptiveAveragePooling2D"]
    rank = 2
    reference = AdaptiveAverageReference


@LAYERS.register
class AdaptiveMaxPooling1D(AdaptivePoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = AdaptivePoolingSpec.__doc__
    type: Literal["AdaptiveMaxPooling1D"]
    rank = 1
    reference = AdaptiveMaxReference


@LAYERS.register
class AdaptiveMaxPooling2D(AdaptivePoolingSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = AdaptivePoolingSpec.__doc__
    type: Literal["AdaptiveMaxPooling2D"]
    rank = 2
    reference = AdaptiveMaxReference
