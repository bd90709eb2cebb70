"""torch builders for Add, Multiply, Concatenate."""

from __future__ import annotations

import functools
import operator

import torch

from harness.backends.base import BuiltLayer
from harness.backends.torch.registry import LAYER_BUILDERS as builders


@builders.register("Add")
def add(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: functools.reduce(operator.add, xs), detail="torch +")


@builders.register("Multiply")
def multiply(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: functools.reduce(operator.mul, xs), detail="torch *")


@builders.register("Concatenate")
def concatenate(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: torch.cat(xs, dim=spec.axis), detail=f"torch.cat(dim={spec.axis})")
