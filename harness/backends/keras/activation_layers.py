"""Keras builder for the LeakyReLU layer (keras.layers.LeakyReLU, default slope 0.3)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer
from harness.backends.keras._import import keras
from harness.backends.keras.registry import LAYER_BUILDERS as builders


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    # The slope is passed: the layer's default (0.3) is not keras.activations.leaky_relu's (0.2).
    layer = keras.layers.LeakyReLU(negative_slope=spec.negative_slope, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.LeakyReLU(negative_slope={spec.negative_slope})",
                      module=layer)


@builders.register("ReLU")
def relu(spec, ctx) -> BuiltLayer:
    # keras.layers.ReLU is the layer the case describes (its formula is the reference's); every
    # argument is passed, so no Keras default stands in for the case's value.
    layer = keras.layers.ReLU(max_value=spec.max_value, negative_slope=spec.negative_slope,
                              threshold=spec.threshold, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, module=layer,
                      detail=f"keras.layers.ReLU(max_value={spec.max_value}, "
                             f"negative_slope={spec.negative_slope}, threshold={spec.threshold})")
