"""Keras builders for Dense, Activation, Flatten and Rescaling."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS


def built(layer, ctx):
    """Create the layer's weights now, for the case's input shapes (Keras builds lazily)."""
    shapes = [(None, *shape) for shape in ctx.input_shapes]
    layer.build(shapes[0] if len(shapes) == 1 else shapes)
    return layer


@builders.register("Dense")
def dense(spec, ctx) -> BuiltLayer:
    """Keras' Dense is the canonical layout: kernel (in, units), bias (units,)."""
    activation, kind, detail = ctx.activation(spec.activation)
    layer = built(keras.layers.Dense(spec.units, activation=activation, use_bias=spec.use_bias,
                                     dtype=ctx.dtype, name=ctx.layer_name), ctx)
    bindings = [WeightBinding("kernel", layer.kernel, "Dense.kernel", AS_IS)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", layer.bias, "Dense.bias", AS_IS))
    return BuiltLayer(call=layer, bindings=bindings, implementation=kind,
                      detail=f"keras.layers.Dense(activation={detail})", module=layer)


@builders.register("Activation")
def activation(spec, ctx) -> BuiltLayer:
    function, kind, detail = ctx.activation(spec.activation)
    layer = keras.layers.Activation(function, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, implementation=kind, detail=f"keras.layers.Activation({detail})")


@builders.register("Flatten")
def flatten(spec, ctx) -> BuiltLayer:
    # data_format is passed even for the default: left out, Keras reads image_data_format().
    layer = keras.layers.Flatten(data_format=spec.data_format, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Flatten(data_format='{spec.data_format}')")


@builders.register("Rescaling")
def rescaling(spec, ctx) -> BuiltLayer:
    layer = keras.layers.Rescaling(spec.scale, offset=spec.offset, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Rescaling({spec.scale}, offset={spec.offset})")
