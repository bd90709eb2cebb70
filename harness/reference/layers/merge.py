"""Merge layers: Add, Multiply, Concatenate. Two or more inputs of compatible shapes."""

from __future__ import annotations

from typing import Literal

import numpy as np

from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer
from harness.reference.spec import axis_range


def _same_shapes(layer: str, input_shapes):
    first = input_shapes[0]
    if any(shape != first for shape in input_shapes[1:]):
        raise ValueError(f"{layer} needs inputs of one shape, got {list(input_shapes)}")
    return first


class AddReference(ReferenceLayer):
    def forward(self, *xs):
        self.count = len(xs)
        return sum(xs[1:], xs[0].copy())

    def backward(self, dy):
        return tuple(dy for _ in range(self.count))


@LAYERS.register
class Add(LayerSpec):
    """y = x1 + x2 + ... (same shapes)."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Add"]
    arity = None
    reference = AddReference

    def output_shape(self, input_shapes):
        return _same_shapes("Add", input_shapes)


class MultiplyReference(ReferenceLayer):
    def forward(self, *xs):
        self.xs = xs
        out = xs[0].copy()
        for x in xs[1:]:
            out = out * x
        return out

    def backward(self, dy):
        grads = []
        for i in range(len(self.xs)):
            g = dy
            for j, x in enumerate(self.xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return tuple(grads)


@LAYERS.register
class Multiply(LayerSpec):
    """y = x1 * x2 * ... elementwise (same shapes)."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Multiply"]
    arity = None
    reference = MultiplyReference

    def output_shape(self, input_shapes):
        return _same_shapes("Multiply", input_shapes)


class ConcatenateReference(ReferenceLayer):
    def forward(self, *xs):
        self.sizes = [x.shape[self.spec.axis] for x in xs]
        return np.concatenate(xs, axis=self.spec.axis)

    def backward(self, dy):
        cuts = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(dy, cuts, axis=self.spec.axis))


@LAYERS.register
class Concatenate(LayerSpec):
    """y = the inputs joined along `axis` (counted with the batch axis, as Keras; -1 = last)."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Concatenate"]
    axis: int = -1
    arity = None
    reference = ConcatenateReference

    def output_shape(self, input_shapes):
        rank = len(input_shapes[0]) + 1
        if not -rank <= self.axis < rank:
            raise ValueError(f"axis {self.axis} is out of range for inputs of rank {rank} (with the "
                             f"batch axis): use {axis_range(rank)}, or -1 for the last")
        axis = self.axis % rank
        if axis == 0:
            raise ValueError("Concatenate cannot join along the batch axis")
        rest = [s[: axis - 1] + s[axis:] for s in input_shapes]
        if any(r != rest[0] for r in rest[1:]):
            raise ValueError(f"Concatenate axis {self.axis}: other axes differ in {list(input_shapes)}")
        joined = sum(s[axis - 1] for s in input_shapes)
        first = input_shapes[0]
        return (*first[: axis - 1], joined, *first[axis:])
