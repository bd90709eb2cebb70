"""chainer's Embedding: the builder and the import translation of L.EmbedID."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
import numpy as np

from harness.backends.chainer._import import F, L
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS


@builders.register("Embedding")
def embedding(spec, ctx) -> BuiltLayer:
    """L.EmbedID.W is (in_size, out_size), Keras' layout (chainer/links/connection/embed_id.py);
    ignore_label stays None, as Keras has none. Indices arrive as int32 (ChainerBackend.tensor)."""
    link = L.EmbedID(spec.input_dim, spec.output_dim)
    return BuiltLayer(call=link, bindings=[WeightBinding("embeddings", link.W, "EmbedID.W", AS_IS)],
                      detail="chainer.links.EmbedID", module=link)


@imports.register(L.EmbedID, produces=("Embedding",))
def import_embed_id(link, shape, reasons) -> list[dict]:  # chainer/links/connection/embed_id.py
    if link.ignore_label is not None:
        reasons.append(f"ignore_label={link.ignore_label!r}")
    return [{"type": "Embedding", "input_dim": link.W.shape[0], "output_dim": link.W.shape[1]}]


@builders.register("PositionEmbedding")
def position_embedding(spec, ctx) -> BuiltLayer:
    """An L.EmbedID(sequence_length, dim) looked up at arange(steps), broadcast over the batch and
    added; EmbedID.W has the canonical layout (chainer/links/connection/embed_id.py)."""
    (shape,) = ctx.input_shapes
    link = L.EmbedID(spec.sequence_length, shape[-1])

    def call(x):
        table = link(np.arange(x.shape[1], dtype=np.int32))
        return x + F.broadcast_to(table, x.shape)

    return BuiltLayer(call=call, module=link, implementation="composite",
                      bindings=[WeightBinding("embeddings", link.W, "EmbedID.W", AS_IS)],
                      detail="composite: x + L.EmbedID(sequence_length, dim)(arange(steps)); chainer has no "
                             "link that adds a position table")
