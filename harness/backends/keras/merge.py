"""Keras' Add, Multiply, Concatenate (called on a list of tensors): builders and import
translations (each class by its config)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer
from harness.backends.keras._import import keras
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.keras.translation import register_by_config


def merge(layer, detail):
    return BuiltLayer(call=lambda *xs: layer(list(xs)), detail=detail)


@builders.register("Add")
def add(spec, ctx) -> BuiltLayer:
    return merge(keras.layers.Add(dtype=ctx.dtype, name=ctx.layer_name), "keras.layers.Add")


@builders.register("Multiply")
def multiply(spec, ctx) -> BuiltLayer:
    return merge(keras.layers.Multiply(dtype=ctx.dtype, name=ctx.layer_name), "keras.layers.Multiply")


@builders.register("Concatenate")
def concatenate(spec, ctx) -> BuiltLayer:
    return merge(keras.layers.Concatenate(axis=spec.axis, dtype=ctx.dtype, name=ctx.layer_name),
                 f"keras.layers.Concatenate(axis={spec.axis})")


register_by_config("Add", "Multiply", "Concatenate")
