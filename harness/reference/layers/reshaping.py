"""Reshaping layers: Reshape, Permute, ZeroPadding1D/2D, Cropping1D/2D. No parameters.

Shapes and axes are those of the canonical layout (Keras': channels_last unless a layer's
`data_format` says otherwise); a reshape reads and writes elements in C order of that layout.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer, flat_features

DataFormat = Literal["channels_last", "channels_first"]


class ReshapeReference(ReferenceLayer):
    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(x.shape[0], *self.spec.target_shape)

    def backward(self, dy):
        return (dy.reshape(self.input_shape),)


@LAYERS.register
class Reshape(LayerSpec):
    """y = x reshaped to (batch, *target_shape), elements in C order; one entry may be -1
    (whatever is left), as in Keras."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): "view/reshape calls have no import translation",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Reshape"]
    target_shape: list[int] = Field(description="the new shape without the batch axis; one entry may be -1")

    reference = ReshapeReference

    @field_validator("target_shape")
    @classmethod
    def _sizes(cls, target_shape):
        if any(size < -1 or size == 0 for size in target_shape) or target_shape.count(-1) > 1:
            raise ValueError("sizes must be positive, with at most one -1")
        return target_shape

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        total, known = flat_features(shape), flat_features(tuple(s for s in self.target_shape if s != -1))
        if -1 in self.target_shape:
            if total % known:
                raise ValueError(f"{total} elements do not fill a shape {self.target_shape}")
            return tuple(total // known if s == -1 else s for s in self.target_shape)
        if known != total:
            raise ValueError(f"{total} elements cannot take shape {self.target_shape} ({known} elements)")
        return tuple(self.target_shape)


class PermuteReference(ReferenceLayer):
    def forward(self, x):
        self.axes = (0, *self.spec.dims)
        return np.transpose(x, self.axes)

    def backward(self, dy):
        return (np.transpose(dy, np.argsort(self.axes)),)


@LAYERS.register
class Permute(LayerSpec):
    """y = x with its non-batch axes reordered: output axis i is input axis dims[i - 1].
    Axes count from 1 (the batch axis is 0 and stays), as in Keras."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): "permute/transpose calls have no import translation",
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Permute"]
    dims: list[int] = Field(min_length=1, description="a permutation of 1..rank, e.g. [2, 1]")

    reference = PermuteReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if sorted(self.dims) != list(range(1, len(shape) + 1)):
            raise ValueError(f"dims {self.dims} is not a permutation of 1..{len(shape)}")
        return tuple(shape[d - 1] for d in self.dims)


def pair(value: int | list[int], what: str) -> tuple[int, int]:
    """An int (both sides) or [before, after], as Keras' padding arguments."""
    if isinstance(value, int):
        value = [value, value]
    if len(value) != 2 or any(v < 0 for v in value):
        raise ValueError(f"{what} must be a non-negative int or [before, after], got {value}")
    return value[0], value[1]


class ZeroPaddingReference(ReferenceLayer):
    """Zeros added before and after the spatial axes; backward cuts them off again."""

    def forward(self, x):
        self.widths = self.spec.pad_widths()
        return np.pad(x, self.widths, constant_values=self.spec.value)

    def backward(self, dy):
        cut = tuple(slice(before, dy.shape[axis] - after)
                    for axis, (before, after) in enumerate(self.widths))
        return (dy[cut],)


class _ZeroPadding(LayerSpec):
    data_format: DataFormat = Field(
        default="channels_last", description="where the channels are; Keras' default is channels_last")
    value: float = Field(default=0.0, description="what the padding holds (torch's ConstantPad value); Keras' "
                                                  "ZeroPadding: 0")

    reference = ZeroPaddingReference

    @model_validator(mode="after")
    def _valid_padding(self):
        self.spatial_padding()  # raises ValueError, reported at this layer's `padding`
        return self

    def spatial_padding(self) -> list[tuple[int, int]]:
        raise NotImplementedError

    def pad_widths(self) -> tuple[tuple[int, int], ...]:
        """(before, after) for every axis of the input, batch first."""
        spatial = self.spatial_padding()
        if self.data_format == "channels_last":
            return ((0, 0), *spatial, (0, 0))
        return ((0, 0), (0, 0), *spatial)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        widths = self.pad_widths()
        if len(shape) + 1 != len(widths):
            raise ValueError(f"{self.type} takes inputs of rank {len(widths) - 1} without the batch "
                             f"axis, got shape {list(shape)}")
        return tuple(size + before + after for size, (before, after) in zip(shape, widths[1:]))


@LAYERS.register
class ZeroPadding1D(_ZeroPadding):
    """y = x with `padding` zeros before and after the steps axis.

    Input (steps, features) for channels_last, (features, steps) for channels_first."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["ZeroPadding1D"]
    padding: int | list[int] = Field(default=1, description="an int, or [before, after]")

    def spatial_padding(self):
        return [pair(self.padding, "padding")]


@LAYERS.register
class ZeroPadding2D(_ZeroPadding):
    """y = x with zeros around the rows and columns.

    `padding` as Keras: an int (every side), [rows, columns] (symmetric), or
    [[top, bottom], [left, right]]. Input (rows, cols, channels) for channels_last,
    (channels, rows, cols) for channels_first."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["ZeroPadding2D"]
    padding: int | list[int] | list[list[int]] = Field(
        default=1, description="an int, [rows, columns], or [[top, bottom], [left, right]]")

    def spatial_padding(self):
        if isinstance(self.padding, int):
            return [pair(self.padding, "padding")] * 2
        if len(self.padding) != 2:
            raise ValueError(f"padding needs two entries (rows, columns), got {self.padding}")
        return [pair(entry, "each padding entry") for entry in self.padding]


# --- cropping --------------------------------------------------------------------------------

class CroppingReference(ReferenceLayer):
    """Cells cut off before and after the spatial axes; backward puts zeros back in their place."""

    def forward(self, x):
        self.widths = self.spec.crop_widths()
        return x[tuple(slice(before, x.shape[axis] - after) for axis, (before, after) in enumerate(self.widths))]

    def backward(self, dy):
        return (np.pad(dy, self.widths),)


class _Cropping(LayerSpec):
    reference = CroppingReference

    @model_validator(mode="after")
    def _valid_cropping(self):
        self.spatial_cropping()  # raises ValueError, reported at this layer's `cropping`
        return self

    def spatial_cropping(self) -> list[tuple[int, int]]:
        raise NotImplementedError

    def crop_widths(self) -> tuple[tuple[int, int], ...]:
        """(before, after) for every axis of the input, batch first."""
        spatial = self.spatial_cropping()
        if getattr(self, "data_format", "channels_last") == "channels_last":
            return ((0, 0), *spatial, (0, 0))
        return ((0, 0), (0, 0), *spatial)

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        widths = self.crop_widths()
        if len(shape) + 1 != len(widths):
            raise ValueError(f"{self.type} takes inputs of rank {len(widths) - 1} without the batch "
                             f"axis, got shape {list(shape)}")
        out = tuple(size - before - after for size, (before, after) in zip(shape, widths[1:]))
        if min(out) < 1:
            raise ValueError(f"cropping {self.cropping} leaves nothing of the input {list(shape)}")
        return out


@LAYERS.register
class Cropping1D(_Cropping):
    """y = x without `cropping` steps at the start and the end of the steps axis.

    Input (steps, features), as Keras' Cropping1D (which has no data_format)."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): "torch has no cropping module, and the importer refuses a negative ZeroPad1d",
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Cropping1D"]
    cropping: int | list[int] = Field(default=1, description="an int, or [before, after]")

    def spatial_cropping(self):
        return [pair(self.cropping, "cropping")]


@LAYERS.register
class Cropping2D(_Cropping):
    """y = x without rows at the top and bottom and columns at the left and right.

    `cropping` as Keras: an int (every side), [rows, columns] (symmetric), or
    [[top, bottom], [left, right]]. Input (rows, cols, channels) for channels_last,
    (channels, rows, cols) for channels_first."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): "torch has no cropping module, and the importer refuses a negative ZeroPad2d",
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Cropping2D"]
    cropping: int | list[int] | list[list[int]] = Field(
        default=0, description="an int, [rows, columns], or [[top, bottom], [left, right]]")
    data_format: DataFormat = Field(
        default="channels_last", description="where the channels are; Keras' default is channels_last")

    def spatial_cropping(self):
        if isinstance(self.cropping, int):
            return [pair(self.cropping, "cropping")] * 2
        if len(self.cropping) != 2:
            raise ValueError(f"cropping needs two entries (rows, columns), got {self.cropping}")
        return [pair(entry, "each cropping entry") for entry in self.cropping]
