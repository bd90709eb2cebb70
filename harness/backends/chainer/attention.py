"""chainer builders for MultiHeadAttention and ScaledDotProductAttention: composite (chainer 7.8 has no attention link or
function; chainer/links has none under connection/ or elsewhere). Four L.Linear links, as torch
stores the projections ((out, in) = (heads * head_dim, d_model)), then F.einsum and F.softmax."""

from __future__ import annotations

import math

import numpy as np

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.layout import (AS_IS, attention_bias_flat, attention_output_to_out_in,
                                     attention_projection_to_out_in)
from harness.reference.layers.attention import allowed_positions

PROJECTIONS = ("query", "key", "value")


def masked(scores, allowed: np.ndarray | None):
    """Scores of the positions `allowed` (T, S) forbids set to -inf (F.where), so that the
    softmax gives them exactly 0, as the reference does."""
    if allowed is None:
        return scores
    blocked = np.full(scores.shape, -np.inf, dtype=scores.dtype)
    return F.where(np.broadcast_to(allowed, scores.shape), scores, blocked)


@builders.register("MultiHeadAttention")
def multi_head_attention(spec, ctx) -> BuiltLayer:
    length, d_model = ctx.input_shapes[0]
    heads, head_dim, value_dim = spec.num_heads, spec.key_dim, spec.head_value_dim
    chain = chainer.Chain()
    with chain.init_scope():
        for name in PROJECTIONS:
            size = heads * (value_dim if name == "value" else head_dim)
            setattr(chain, name, L.Linear(d_model, size, nobias=not spec.use_bias))
        chain.output = L.Linear(heads * value_dim, d_model, nobias=not spec.use_bias)
    bindings = []
    for name in PROJECTIONS:
        link = getattr(chain, name)
        bindings.append(WeightBinding(f"{name}_kernel", link.W, f"{name}/W", attention_projection_to_out_in(heads)))
        if spec.use_bias:
            bindings.append(WeightBinding(f"{name}_bias", link.b, f"{name}/b", attention_bias_flat(heads)))
    bindings.append(WeightBinding("output_kernel", chain.output.W, "output/W", attention_output_to_out_in(heads)))
    if spec.use_bias:
        bindings.append(WeightBinding("output_bias", chain.output.b, "output/b", AS_IS))
    allowed = allowed_positions(spec, length, length)

    def call(x):
        batch = x.shape[0]
        q, k, v = (F.reshape(getattr(chain, name)(x, n_batch_axes=2), (batch, length, heads, -1))
                   for name in PROJECTIONS)
        scores = F.einsum("bsnh,blnh->bnls", k, q) * (1.0 / math.sqrt(head_dim))
        scores = masked(scores, allowed)
        o = F.einsum("bnls,bsnh->blnh", F.softmax(scores, axis=-1), v)
        return chain.output(F.reshape(o, (batch, length, heads * value_dim)), n_batch_axes=2)

    return BuiltLayer(call=call, bindings=bindings, module=chain, implementation="composite",
                      detail="L.Linear projections (n_batch_axes=2), F.einsum, F.softmax"
                             + (", F.where mask (causal and/or fixed)" if allowed is not None else "")
                             + ": chainer has no multi-head attention link")


@builders.register("ScaledDotProductAttention")
def scaled_dot_product_attention(spec, ctx) -> BuiltLayer:
    """Composite: chainer 7.8 has no attention function. The heads axis is moved before the
    length ((b, T, n, h) -> (b, n, T, h)) so that F.matmul multiplies the (T, h) x (h, S)
    matrices of each batch element and head."""
    query, key, _ = ctx.input_shapes
    scale = spec.effective_scale(query[-1])
    allowed = allowed_positions(spec, query[0], key[0])

    def call(q, k, v):
        q, k, v = (F.transpose(t, (0, 2, 1, 3)) for t in (q, k, v))
        scores = masked(F.matmul(q, k, transb=True) * scale, allowed)
        out = F.matmul(F.softmax(scores, axis=-1), v)
        return F.transpose(out, (0, 2, 1, 3))

    return BuiltLayer(call=call, implementation="composite",
                      detail="F.matmul, F.softmax" + (", F.where mask" if allowed is not None else "")
                             + ": chainer has no attention function")
