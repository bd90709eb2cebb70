"""Keras builder for the LeakyReLU layer (keras.layers.LeakyReLU, default slope 0.3)."""

from __future__ import annotations

from harness.adapters.base import BuiltLayer
from harness.adapters.keras_backend._import import keras
from harness.adapters.keras_backend.registry import LAYER_BUILDERS as builders


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    # The slope is passed: the layer's default (0.3) is not keras.activations.leaky_relu's (0.2).
    layer = keras.layers.LeakyReLU(negative_slope=spec.negative_slope, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.LeakyReLU(negative_slope={spec.negative_slope})",
                      module=layer)
