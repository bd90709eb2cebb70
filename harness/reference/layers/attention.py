"""MultiHeadAttention: scaled dot-product attention over several heads, with its projections.

Canonical layout (Keras 3's keras.layers.MultiHeadAttention, keras/src/layers/attention/
multi_head_attention.py: `build` makes four EinsumDense sublayers through
`_build_proj_equation`, query/key/value kernels "abc,cde->abde" and the output kernel
"abcd,cde->abe"; the query is multiplied by `1 / sqrt(key_dim)` (`_inverse_sqrt_key_dim`)
before the dot product with the key):

* `query_kernel`, `key_kernel`: (d_model, num_heads, key_dim); `value_kernel`: (d_model,
  num_heads, value_dim) (value_dim = key_dim unless set)
* `query_bias`, `key_bias`: (num_heads, key_dim); `value_bias`: (num_heads, value_dim)
* `output_kernel`: (num_heads, value_dim, d_model), `output_bias`: (d_model,)

torch's nn.MultiheadAttention packs the three input kernels as the rows of one
in_proj_weight (3 * d_model, d_model), each (out, in); chainer has no attention link. The
adapters say in their bindings how each tensor is moved (docs/layouts-and-semantics.md, Attention).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer

PROJECTIONS = ("query", "key", "value")


def causal_mask(length: int) -> np.ndarray:
    """True where query position l may attend to key position s (s <= l)."""
    return np.tril(np.ones((length, length), dtype=bool))


class MultiHeadAttentionReference(ReferenceLayer):
    """Self-attention: query, key and value all come from the one input x (batch, length, d_model)."""

    def forward(self, x):
        p, spec = self.params, self.spec
        self.x = x
        projected = {}
        for name in PROJECTIONS:
            z = np.einsum("bld,dnh->blnh", x, p[f"{name}_kernel"])
            if spec.use_bias:
                z = z + p[f"{name}_bias"]
            projected[name] = z
        self.q, self.k, self.v = projected["query"], projected["key"], projected["value"]
        self.scale = 1.0 / math.sqrt(spec.key_dim)
        scores = np.einsum("bsnh,blnh->bnls", self.k, self.q) * self.scale
        if spec.causal:
            allowed = causal_mask(x.shape[1])
            scores = np.where(allowed, scores, -np.inf)
        scores = scores - scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores)
        self.a = weights / weights.sum(axis=-1, keepdims=True)
        self.o = np.einsum("bnls,bsnh->blnh", self.a, self.v)
        y = np.einsum("blnh,nhd->bld", self.o, p["output_kernel"])
        if spec.use_bias:
            y = y + p["output_bias"]
        return y

    def backward(self, dy):
        p, spec = self.params, self.spec
        self.grads["output_kernel"] = np.einsum("blnh,bld->nhd", self.o, dy)
        if spec.use_bias:
            self.grads["output_bias"] = dy.sum(axis=(0, 1))
        do = np.einsum("bld,nhd->blnh", dy, p["output_kernel"])
        da = np.einsum("blnh,bsnh->bnls", do, self.v)
        dv = np.einsum("bnls,blnh->bsnh", self.a, do)
        # Softmax backward; masked entries have a = 0, so their score gradient is 0.
        ds = self.a * (da - (da * self.a).sum(axis=-1, keepdims=True))
        dq = self.scale * np.einsum("bnls,bsnh->blnh", ds, self.k)
        dk = self.scale * np.einsum("bnls,blnh->bsnh", ds, self.q)
        dx = np.zeros_like(self.x)
        for name, dz in zip(PROJECTIONS, (dq, dk, dv)):
            self.grads[f"{name}_kernel"] = np.einsum("bld,blnh->dnh", self.x, dz)
            if spec.use_bias:
                self.grads[f"{name}_bias"] = dz.sum(axis=(0, 1))
            dx += np.einsum("blnh,dnh->bld", dz, p[f"{name}_kernel"])
        return (dx,)


@LAYERS.register
class MultiHeadAttention(LayerSpec):
    """Self-attention (query = key = value = the one input, shaped (length, d_model)):

        Q = x Wq + bq, K = x Wk + bk, V = x Wv + bv        per head n: (length, key_dim)
        A = softmax(Q K^T / sqrt(key_dim))                  over key positions, causal: s <= l only
        y = sum_n (A V)_n Wo_n + bo                         (length, d_model)

    V and the output kernel have value_dim per head (Keras' value_dim; key_dim when left out).
    Dropout is 0 (a random mask cannot be compared). The output has the input's d_model, as in
    Keras' default `output_shape`. num_heads * key_dim need not equal d_model (Keras allows
    it; torch's nn.MultiheadAttention does not, so the torch adapter is composite there).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["MultiHeadAttention"]
    num_heads: int = Field(gt=0, description="number of attention heads")
    key_dim: int = Field(gt=0, description="size of each head's query, key and value projections")
    value_dim: int | None = Field(default=None, gt=0, description="size of each head's value projection; "
                                                                  "default key_dim (Keras' value_dim)")
    use_bias: bool = Field(default=True, description="biases on the four projections (Keras' use_bias, "
                                                     "torch's bias)")
    causal: bool = Field(default=False, description="causal masking: position l attends to positions <= l "
                                                    "(Keras' use_causal_mask, torch's is_causal/attn_mask)")

    reference = MultiHeadAttentionReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if len(shape) != 2:
            raise ValueError(f"MultiHeadAttention needs (length, d_model) inputs, got {list(shape)}")
        return shape

    def parameter_shapes(self, input_shapes):
        (shape,) = input_shapes
        d_model = shape[-1]
        shapes = {}
        for name in PROJECTIONS:
            size = self.head_value_dim if name == "value" else self.key_dim
            shapes[f"{name}_kernel"] = (d_model, self.num_heads, size)
            if self.use_bias:
                shapes[f"{name}_bias"] = (self.num_heads, size)
        shapes["output_kernel"] = (self.num_heads, self.head_value_dim, d_model)
        if self.use_bias:
            shapes["output_bias"] = (d_model,)
        return shapes

    @property
    def head_value_dim(self) -> int:
        return self.key_dim if self.value_dim is None else self.value_dim

    def default_initializers(self):
        initializers = {f"{name}_kernel": "glorot_uniform" for name in (*PROJECTIONS, "output")}
        initializers.update({f"{name}_bias": "zeros" for name in (*PROJECTIONS, "output")})
        return initializers
