"""Keras' Dropout: builder and import translation (its config)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, Unsupported
from harness.backends.keras._import import keras
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.keras.translation import register_by_config
from harness.reference.layers.regularization import TRAINING_UNSUPPORTED


@builders.register("Dropout")
def dropout(spec, ctx) -> BuiltLayer:
    """keras.layers.Dropout returns its input unless called with training=True and rate > 0
    (keras/src/layers/regularization/dropout.py)."""
    if ctx.training and spec.rate > 0:
        raise Unsupported(TRAINING_UNSUPPORTED)
    layer = keras.layers.Dropout(spec.rate, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=lambda x: layer(x, training=ctx.training),
                      detail=f"keras.layers.Dropout({spec.rate}), training={ctx.training}")


register_by_config("Dropout")
