"""Embedding: integer indices to rows of a matrix."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer


class EmbeddingReference(ReferenceLayer):
    def forward(self, indices):
        if indices.dtype.kind not in "iu":
            raise ValueError(f"Embedding takes integer indices, got {indices.dtype}: give the "
                             "input `dtype: int64` or `data: {integers: ...}`")
        if indices.size and (indices.min() < 0 or indices.max() >= self.spec.input_dim):
            raise ValueError(f"Embedding indices must lie in [0, {self.spec.input_dim}), got "
                             f"[{indices.min()}, {indices.max()}]")
        self.indices = indices
        return self.params["embeddings"][indices]

    def backward(self, dy):
        # Rows used several times collect every use's gradient (np.add.at does not buffer).
        grad = np.zeros_like(self.params["embeddings"])
        np.add.at(grad, self.indices.reshape(-1), dy.reshape(-1, dy.shape[-1]))
        self.grads["embeddings"] = grad
        return (np.zeros(self.indices.shape),)  # indices have no gradient


@LAYERS.register
class Embedding(LayerSpec):
    """y[..., :] = embeddings[x[...], :] for integer indices x in [0, input_dim).

    Canonical layout (Keras'): `embeddings` (input_dim, output_dim); torch's nn.Embedding.weight
    and chainer's EmbedID.W have the same layout. d loss / d embeddings adds up the output
    gradients of every position that picked a row; the indices have no gradient.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Embedding"]
    input_dim: int = Field(gt=0, description="number of rows (the vocabulary size)")
    output_dim: int = Field(gt=0, description="length of each row")

    reference = EmbeddingReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        return (*shape, self.output_dim)

    def parameter_shapes(self, input_shapes):
        return {"embeddings": (self.input_dim, self.output_dim)}

    def input_data(self):
        return {"integers": {"low": 0, "high": self.input_dim}}

    def default_initializers(self):
        return {"embeddings": "random_uniform"}  # Keras' "uniform": U(-0.05, 0.05)


class PositionEmbeddingReference(ReferenceLayer):
    def forward(self, x):
        self.steps = x.shape[1]
        return x + self.params["embeddings"][: self.steps]

    def backward(self, dy):
        # Each position's row collects that position's gradient over the batch; rows past the
        # input's length get none.
        grad = np.zeros_like(self.params["embeddings"])
        grad[: self.steps] = dy.sum(axis=0)
        self.grads["embeddings"] = grad
        return (dy,)


@LAYERS.register
class PositionEmbedding(LayerSpec):
    """y[:, t, :] = x[:, t, :] + embeddings[t, :] for an input (steps, dim), steps <= sequence_length.

    A learned position table added to its input, as the keras.io "Text classification with
    Transformer" example's TokenAndPositionEmbedding does after its token Embedding
    (`positions = self.pos_emb(ops.arange(0, maxlen)); return x + positions`).
    keras_hub.layers.PositionEmbedding holds the same table (sequence_length, dim) but returns
    it broadcast to the input without adding it; the addition is part of this kind.
    Canonical layout: `embeddings` (sequence_length, dim); torch's nn.Embedding.weight and
    chainer's EmbedID.W over arange(steps) have the same layout. d loss / d embeddings[t] is the
    batch sum of the output gradient at position t (zero past the input's length); d loss / d x
    is the output gradient.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
        ("*", "importable"): "no framework has a layer class that adds a position table; the in-memory Keras "
                             "importer (import_keras_object) recognises one inside a subclassed layer",
    }

    type: Literal["PositionEmbedding"]
    sequence_length: int = Field(gt=0, description="number of rows: the longest input it takes")

    reference = PositionEmbeddingReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if len(shape) != 2:
            raise ValueError(f"PositionEmbedding takes an input (steps, dim), got shape {tuple(shape)}")
        if shape[0] > self.sequence_length:
            raise ValueError(f"PositionEmbedding(sequence_length={self.sequence_length}) takes at most "
                             f"{self.sequence_length} steps, got {shape[0]}")
        return shape

    def parameter_shapes(self, input_shapes):
        (shape,) = input_shapes
        return {"embeddings": (self.sequence_length, shape[-1])}

    def default_initializers(self):
        return {"embeddings": "random_uniform"}  # keras.layers.Embedding's "uniform", as the keras.io layer
