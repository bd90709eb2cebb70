"""Keras' Embedding (the canonical layout): builder and import translation (its config)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.core import built
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.keras.translation import register_by_config
from harness.backends.layout import AS_IS


@builders.register("Embedding")
def embedding(spec, ctx) -> BuiltLayer:
    """keras.layers.Embedding: embeddings (input_dim, output_dim), looked up with ops.take;
    mask_zero stays off. Its gradient comes back from the tape as tf.IndexedSlices, which
    KerasBackend.to_numpy densifies."""
    layer = built(keras.layers.Embedding(spec.input_dim, spec.output_dim, dtype=ctx.dtype,
                                         name=ctx.layer_name), ctx)
    return BuiltLayer(call=layer, bindings=[WeightBinding("embeddings", layer.embeddings,
                                                          "Embedding.embeddings", AS_IS)],
                      detail="keras.layers.Embedding", module=layer)


register_by_config("Embedding")
