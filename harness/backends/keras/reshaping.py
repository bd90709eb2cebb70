"""Keras builders for Reshape, Permute, ZeroPadding1D/2D and Cropping1D/2D (the canonical
meanings: Keras' own layers with the case's settings), and their import translations (each
class by its config)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer
from harness.backends.keras._import import keras
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.keras.translation import register_by_config


@builders.register("Reshape")
def reshape(spec, ctx) -> BuiltLayer:
    target = tuple(spec.target_shape)
    layer = keras.layers.Reshape(target, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Reshape({target})")


@builders.register("Permute")
def permute(spec, ctx) -> BuiltLayer:
    dims = tuple(spec.dims)
    layer = keras.layers.Permute(dims, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Permute({dims})")


def constant_padding(spec, ctx) -> BuiltLayer:
    """A non-zero value: keras' ZeroPadding layers pad with zeros only, so ops.pad."""
    widths = [list(pair) for pair in spec.pad_widths()]
    return BuiltLayer(call=lambda x: keras.ops.pad(x, widths, constant_values=spec.value), implementation="composite",
                      detail=f"ops.pad(x, {widths}, constant_values={spec.value}): keras.layers.{spec.type} "
                             "pads with zeros only")


@builders.register("ZeroPadding1D")
def zero_padding_1d(spec, ctx) -> BuiltLayer:
    if spec.value != 0:
        return constant_padding(spec, ctx)
    (padding,) = spec.spatial_padding()
    layer = keras.layers.ZeroPadding1D(padding, data_format=spec.data_format, dtype=ctx.dtype,
                                       name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.ZeroPadding1D({padding}, {spec.data_format})")


@builders.register("ZeroPadding2D")
def zero_padding_2d(spec, ctx) -> BuiltLayer:
    if spec.value != 0:
        return constant_padding(spec, ctx)
    padding = tuple(spec.spatial_padding())
    layer = keras.layers.ZeroPadding2D(padding, data_format=spec.data_format, dtype=ctx.dtype,
                                       name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.ZeroPadding2D({padding}, {spec.data_format})")


@builders.register("Cropping1D")
def cropping_1d(spec, ctx) -> BuiltLayer:
    (cropping,) = spec.spatial_cropping()
    layer = keras.layers.Cropping1D(cropping, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Cropping1D({cropping})")


@builders.register("Cropping2D")
def cropping_2d(spec, ctx) -> BuiltLayer:
    cropping = tuple(spec.spatial_cropping())
    layer = keras.layers.Cropping2D(cropping, data_format=spec.data_format, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Cropping2D({cropping}, {spec.data_format})")


register_by_config("Reshape", "Permute", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D")
