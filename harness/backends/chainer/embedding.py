"""chainer's Embedding: the builder and the import translation of L.EmbedID."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.chainer._import import L
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
