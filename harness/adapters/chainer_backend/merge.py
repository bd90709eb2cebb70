"""chainer builders for Add, Multiply, Concatenate."""

from __future__ import annotations

import functools
import operator

from harness.adapters.base import BuiltLayer
from harness.adapters.chainer_backend._import import F
from harness.adapters.chainer_backend.registry import LAYER_BUILDERS as builders


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
