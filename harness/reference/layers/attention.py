"""MultiHeadAttention (scaled dot-product attention over several heads, with its projections) and
ScaledDotProductAttention (the attention alone, on given queries, keys and values), with their
masks (True = may attend).

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


def causal_mask(length: int, key_length: int | None = None) -> np.ndarray:
    """True where query position l may attend to key position s (s <= l). Aligned at the top
    left where the key is longer or shorter, as both frameworks do: Keras'
    `tf.linalg.band_part(ones((T, S)), -1, 0)` (keras/src/backend/tensorflow/nn.py
    `_apply_masks`) and torch's `ones(L, S).tril(diagonal=0)` (the documented reference of
    torch.nn.functional.scaled_dot_product_attention)."""
    return np.tril(np.ones((length, length if key_length is None else key_length), dtype=bool))


def allowed_positions(spec, length: int, key_length: int) -> np.ndarray | None:
    """The (length, key_length) matrix of what each query position may attend to, True = may
    attend (Keras' convention; torch's boolean attn_mask is its negation): the causal triangle
    and the case's fixed `mask` together (both must allow). None where nothing is masked."""
    allowed = None
    if spec.causal:
        allowed = causal_mask(length, key_length)
    if spec.mask is not None:
        fixed = np.asarray(spec.mask, dtype=bool)
        allowed = fixed if allowed is None else allowed & fixed
    return allowed


FULLY_MASKED = ("the frameworks disagree on a query position that may attend to nothing: Keras fills "
                "masked scores with a large negative number (keras/src/backend/tensorflow/nn.py "
                "`_apply_masks`, `_get_large_negative`; MultiHeadAttention's Softmax layer adds "
                "-1e9 likewise), so the softmax averages every value, while torch (2.13, measured) returns zeros "
                "there (torch.nn.functional.scaled_dot_product_attention and "
                "multi_head_attention_forward); give every row of the mask at least one True")


def check_mask(spec, length: int, key_length: int, kind: str) -> None:
    """A fixed mask of the right shape and no fully masked row (FULLY_MASKED): raise
    ValueError, which the case loader reports with the layer's name."""
    if spec.mask is None:
        return
    shape = np.shape(np.asarray(spec.mask, dtype=bool))
    if shape != (length, key_length):
        raise ValueError(f"{kind} mask is {list(shape)}: it needs one row per query position and one "
                         f"column per key position, [{length}, {key_length}] here")
    allowed = allowed_positions(spec, length, key_length)
    empty = [int(row) for row in np.flatnonzero(~allowed.any(axis=-1))]
    if empty:
        raise ValueError(f"{kind} mask leaves query positions {empty} nothing to attend to"
                         f"{' (with the causal triangle)' if spec.causal else ''}: {FULLY_MASKED}")


def masked_softmax(scores: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """softmax over the last axis, masked entries exactly 0 (-inf before the exponential)."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


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
        self.a = masked_softmax(scores, allowed_positions(spec, x.shape[1], x.shape[1]))
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


MASK_DESCRIPTION = ("a fixed attention mask, one row per query position and one column per key position; "
                    "True = may attend (Keras' attention_mask / mask convention; torch's boolean "
                    "attn_mask means the opposite, and the torch adapter negates it); combined with "
                    "`causal` (both must allow); every row needs a True")


@LAYERS.register
class MultiHeadAttention(LayerSpec):
    """Self-attention (query = key = value = the one input, shaped (length, d_model)):

        Q = x Wq + bq, K = x Wk + bk, V = x Wv + bv        per head n: (length, key_dim)
        A = softmax(Q K^T / sqrt(key_dim))                  over key positions, causal: s <= l only,
                                                            mask: where mask[l, s] (True = may attend)
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
    mask: list[list[bool]] | None = Field(default=None, description=MASK_DESCRIPTION)

    reference = MultiHeadAttentionReference

    def output_shape(self, input_shapes):
        (shape,) = input_shapes
        if len(shape) != 2:
            raise ValueError(f"MultiHeadAttention needs (length, d_model) inputs, got {list(shape)}")
        check_mask(self, shape[0], shape[0], "MultiHeadAttention")
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


class ScaledDotProductAttentionReference(ReferenceLayer):
    """Three inputs q (b, T, n, h), k and v (b, S, n, h); the heads axis is carried through."""

    def forward(self, q, k, v):
        spec = self.spec
        self.q, self.k, self.v = q, k, v
        self.scale = spec.effective_scale(q.shape[-1])
        scores = np.einsum("btnh,bsnh->bnts", q, k) * self.scale
        self.a = masked_softmax(scores, allowed_positions(spec, q.shape[1], k.shape[1]))
        return np.einsum("bnts,bsnh->btnh", self.a, v)

    def backward(self, dy):
        da = np.einsum("btnh,bsnh->bnts", dy, self.v)
        dv = np.einsum("bnts,btnh->bsnh", self.a, dy)
        # Softmax backward; masked entries have a = 0, so their score gradient is 0.
        ds = self.a * (da - (da * self.a).sum(axis=-1, keepdims=True))
        dq = self.scale * np.einsum("bnts,bsnh->btnh", ds, self.k)
        dk = self.scale * np.einsum("bnts,btnh->bsnh", ds, self.q)
        return dq, dk, dv


@LAYERS.register
class ScaledDotProductAttention(LayerSpec):
    """Attention without projections, on three inputs (graph form: `inputs: [query, key, value]`),
    each shaped (length, heads, head_dim) as keras.ops.dot_product_attention takes them
    ((B, T, N, H) with the batch; torch's F.scaled_dot_product_attention takes (B, N, T, H), and
    its adapter moves the heads axis):

        A = softmax(Q K^T * scale)      per head, over key positions; masked positions get 0
        y = A V                         (length of the query, heads, head_dim)

    scale defaults to 1 / sqrt(head_dim) (both frameworks' default). The key and value have
    one length S (may differ from the query's T); `causal` lets query position t attend to key
    positions s <= t (top-left aligned where T != S); `mask` (T, S), True = may attend, is
    combined with it. No parameters.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "importable"): "no import translation written for it yet (keras.ops.dot_product_attention "
                             "is an op, not a layer; torch's F.scaled_dot_product_attention is a function)",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["ScaledDotProductAttention"]
    scale: float | None = Field(default=None, gt=0, description="multiplies the scores; default 1 / sqrt(head_dim)")
    causal: bool = Field(default=False, description="query position t attends to key positions s <= t "
                                                    "(Keras' is_causal, torch's is_causal)")
    mask: list[list[bool]] | None = Field(default=None, description=MASK_DESCRIPTION)

    arity = 3
    reference = ScaledDotProductAttentionReference

    def effective_scale(self, head_dim: int) -> float:
        return 1.0 / math.sqrt(head_dim) if self.scale is None else self.scale

    def output_shape(self, input_shapes):
        if len(input_shapes) != 3:
            raise ValueError(f"ScaledDotProductAttention reads three inputs (query, key, value), got "
                             f"{len(input_shapes)}")
        query, key, value = (tuple(shape) for shape in input_shapes)
        if any(len(shape) != 3 for shape in (query, key, value)):
            raise ValueError(f"ScaledDotProductAttention needs (length, heads, head_dim) inputs, got "
                             f"{[list(s) for s in input_shapes]}")
        if key != value or query[1:] != key[1:]:
            raise ValueError(f"ScaledDotProductAttention needs a key and value of one shape and a query with "
                             f"their heads and head_dim (keras.ops.dot_product_attention's rule), got query "
                             f"{list(query)}, key {list(key)}, value {list(value)}")
        check_mask(self, query[0], key[0], "ScaledDotProductAttention")
        return query
