"""chainer builders for Add, Multiply, Concatenate."""

from __future__ import annotations

import functools
import operator

from harness.backends.base import BuiltLayer
from harness.backends.chainer._import import F
from harness.backends.chainer.registry import LAYER_BUILDERS as builders


@builders.register("Add")
def add(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: F.add(*xs), detail="F.add")


@builders.register("Multiply")
def multiply(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: functools.reduce(operator.mul, xs), detail="chainer Variable *")


@builders.register("Concatenate")
def concatenate(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: F.concat(xs, axis=spec.axis % xs[0].ndim),
                      detail=f"F.concat(axis={spec.axis})")
