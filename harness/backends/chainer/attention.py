"""chainer builder for MultiHeadAttention: composite (chainer 7.8 has no attention link or
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

PROJECTIONS = ("query", "key", "value")


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
    allowed = np.tril(np.ones((length, length), dtype=bool))

    def call(x):
        batch = x.shape[0]
        q, k, v = (F.reshape(getattr(chain, name)(x, n_batch_axes=2), (batch, length, heads, -1))
                   for name in PROJECTIONS)
        scores = F.einsum("bsnh,blnh->bnls", k, q) * (1.0 / math.sqrt(head_dim))
        if spec.causal:
            blocked = np.full(scores.shape, -np.inf, dtype=scores.dtype)
            scores = F.where(np.broadcast_to(allowed, scores.shape), scores, blocked)
        o = F.einsum("bnls,bsnh->blnh", F.softmax(scores, axis=-1), v)
        return chain.output(F.reshape(o, (batch, length, heads * value_dim)), n_batch_axes=2)

    return BuiltLayer(call=call, bindings=bindings, module=chain, implementation="composite",
                      detail="L.Linear projections (n_batch_axes=2), F.einsum, F.softmax"
                             + (", F.where causal mask" if spec.causal else "")
                             + ": chainer has no multi-head attention link")
