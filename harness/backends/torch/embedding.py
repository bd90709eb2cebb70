"""torch's Embedding: builder and the import translation of nn.Embedding."""

from __future__ import annotations

import torch

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.layout import AS_IS
from harness.backends.torch.registry import REGISTRY

builders = REGISTRY.layers


@builders.register("Embedding")
def embedding(spec, ctx) -> BuiltLayer:
    """nn.Embedding.weight is (num_embeddings, embedding_dim), Keras' layout
    (torch/nn/modules/sparse.py); padding_idx and max_norm stay off, as in Keras. Indices
    arrive as int64 (TorchBackend.tensor)."""
    module = torch.nn.Embedding(spec.input_dim, spec.output_dim, dtype=getattr(torch, ctx.dtype))
    binding = WeightBinding("embeddings", module.weight, "Embedding.weight", AS_IS)
    return BuiltLayer(call=module, bindings=[binding], detail="torch.nn.Embedding", module=module)


@REGISTRY.imports.register(torch.nn.Embedding, produces=("Embedding",))
def embedding_module(m: torch.nn.Embedding, reasons) -> dict:  # torch/nn/modules/sparse.py
    for option in ("padding_idx", "max_norm"):
        if getattr(m, option) is not None:
            reasons.append(f"{option}={getattr(m, option)!r}")
    return {"type": "Embedding", "input_dim": m.num_embeddings, "output_dim": m.embedding_dim}


@builders.register("PositionEmbedding")
def position_embedding(spec, ctx) -> BuiltLayer:
    """An nn.Embedding(sequence_length, dim) looked up at arange(steps) and added, as the keras.io
    layer writes it; nn.Embedding.weight has the canonical layout (torch/nn/modules/sparse.py)."""
    (shape,) = ctx.input_shapes
    module = torch.nn.Embedding(spec.sequence_length, shape[-1], dtype=getattr(torch, ctx.dtype))

    def call(x):
        return x + module(torch.arange(x.shape[1], device=x.device))

    return BuiltLayer(call=call, module=module, implementation="composite",
                      bindings=[WeightBinding("embeddings", module.weight, "Embedding.weight", AS_IS)],
                      detail="composite: x + nn.Embedding(sequence_length, dim)(arange(steps)); torch has no "
                             "layer that adds a position table")
