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


class PositionTable(keras.layers.Layer):
    """Holds the (sequence_length, dim) position table and adds its first `steps` rows to the
    input: what keras.io's TokenAndPositionEmbedding does with its `pos_emb` Embedding over
    `ops.arange(0, maxlen)`. Keras has no such layer (keras_hub.layers.PositionEmbedding returns
    the table without adding it, and keras_hub is not a dependency), hence this composite."""

    def __init__(self, sequence_length, dim, **kwargs):
        super().__init__(**kwargs)
        self.embeddings = self.add_weight(shape=(sequence_length, dim), initializer="uniform", name="embeddings")

    def call(self, x):
        steps = x.shape[1]
        return x + self.embeddings[:steps]


@builders.register("PositionEmbedding")
def position_embedding(spec, ctx) -> BuiltLayer:
    (shape,) = ctx.input_shapes
    layer = PositionTable(spec.sequence_length, shape[-1], dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, module=layer, implementation="composite",
                      bindings=[WeightBinding("embeddings", layer.embeddings, "PositionTable.embeddings", AS_IS)],
                      detail="composite: x + embeddings[:steps], a keras.layers.Layer holding the table; Keras has "
                             "no layer that adds a position table")
