"""torch builder for MultiHeadAttention.

Where num_heads * key_dim == d_model, torch's own attention computes it:
torch.nn.functional.multi_head_attention_forward, the function nn.MultiheadAttention.forward
calls, with nn.MultiheadAttention's unpacked weights (use_separate_proj_weight, the form torch
uses when kdim/vdim differ from embed_dim): q_proj_weight, k_proj_weight, v_proj_weight, each
(out, in) = (heads * head_dim, d_model). The harness binds one canonical parameter to one
native tensor, so it does not use the packed in_proj_weight (3 * d_model, d_model) of the
default nn.MultiheadAttention, whose rows 0:E, E:2E, 2E:3E are the same three matrices; the
query/key/value biases are three tensors concatenated into in_proj_bias at each call.
docs/layouts-and-semantics.md (Attention) gives the packed layout for porting by hand.

Otherwise (Keras allows any key_dim and value_dim) torch's function refuses (it splits
embed_dim into heads, values included), and the layer is composite: the same projections, torch.einsum and torch.softmax.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.layout import (AS_IS, attention_bias_flat, attention_output_to_out_in,
                                     attention_projection_to_out_in)
from harness.backends.torch.registry import LAYER_BUILDERS as builders

NATIVE_NAMES = {"query": "q_proj", "key": "k_proj", "value": "v_proj"}


class UnpackedAttention(torch.nn.Module):
    """nn.MultiheadAttention's parameters in its unpacked form, the biases split per projection."""

    def __init__(self, d_model: int, heads: int, head_dim: int, value_dim: int, bias: bool, dtype) -> None:
        super().__init__()
        for short in NATIVE_NAMES.values():
            inner = heads * (value_dim if short == "v_proj" else head_dim)
            self.register_parameter(f"{short}_weight", torch.nn.Parameter(torch.zeros(inner, d_model, dtype=dtype)))
            if bias:
                self.register_parameter(f"{short}_bias", torch.nn.Parameter(torch.zeros(inner, dtype=dtype)))
        self.out_proj = torch.nn.Linear(heads * value_dim, d_model, bias=bias, dtype=dtype)


def causal_bool_mask(length: int, device) -> torch.Tensor:
    """torch's boolean attn_mask: True where attention is NOT allowed (key after query)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


@builders.register("MultiHeadAttention")
def multi_head_attention(spec, ctx) -> BuiltLayer:
    _, d_model = ctx.input_shapes[0]
    heads, head_dim, value_dim = spec.num_heads, spec.key_dim, spec.head_value_dim
    module = UnpackedAttention(d_model, heads, head_dim, value_dim, spec.use_bias, getattr(torch, ctx.dtype))
    bindings = []
    for name, short in NATIVE_NAMES.items():
        bindings.append(WeightBinding(f"{name}_kernel", getattr(module, f"{short}_weight"),
                                      f"MultiheadAttention.{short}_weight", attention_projection_to_out_in(heads)))
        if spec.use_bias:
            bindings.append(WeightBinding(f"{name}_bias", getattr(module, f"{short}_bias"),
                                          f"MultiheadAttention.in_proj_bias[{name}]", attention_bias_flat(heads)))
    bindings.append(WeightBinding("output_kernel", module.out_proj.weight, "MultiheadAttention.out_proj.weight",
                                  attention_output_to_out_in(heads)))
    if spec.use_bias:
        bindings.append(WeightBinding("output_bias", module.out_proj.bias, "MultiheadAttention.out_proj.bias", AS_IS))

    def biases():
        if not spec.use_bias:
            return [None] * 3
        return [getattr(module, f"{short}_bias") for short in NATIVE_NAMES.values()]

    if heads * head_dim == d_model and value_dim == head_dim:
        def call(x):
            seq_first = x.transpose(0, 1)  # batch_first=True is a transpose around this function
            mask = causal_bool_mask(x.shape[1], x.device) if spec.causal else None
            out, _ = F.multi_head_attention_forward(
                seq_first, seq_first, seq_first, d_model, heads, None,
                torch.cat(biases()) if spec.use_bias else None, None, None, False, 0.0,
                module.out_proj.weight, module.out_proj.bias, training=False, need_weights=False,
                attn_mask=mask, is_causal=spec.causal, use_separate_proj_weight=True,
                q_proj_weight=module.q_proj_weight, k_proj_weight=module.k_proj_weight,
                v_proj_weight=module.v_proj_weight)
            return out.transpose(0, 1)
        return BuiltLayer(call=call, bindings=bindings, module=module,
                          detail="torch.nn.functional.multi_head_attention_forward (nn.MultiheadAttention's "
                                 "computation) with unpacked q/k/v_proj_weight, batch_first by transposing"
                                 + (", causal attn_mask" if spec.causal else ""))

    def composite(x):
        projected = []
        for short, bias in zip(NATIVE_NAMES.values(), biases()):
            z = F.linear(x, getattr(module, f"{short}_weight"), bias)
            projected.append(z.reshape(*x.shape[:2], heads, -1))
        q, k, v = projected
        scores = torch.einsum("bsnh,blnh->bnls", k, q) / math.sqrt(head_dim)
        if spec.causal:
            scores = scores.masked_fill(causal_bool_mask(x.shape[1], x.device), float("-inf"))
        o = torch.einsum("bnls,bsnh->blnh", torch.softmax(scores, dim=-1), v)
        return module.out_proj(o.reshape(*x.shape[:2], heads * value_dim))
    return BuiltLayer(call=composite, bindings=bindings, module=module, implementation="composite",
                      detail=f"F.linear projections, torch.einsum, torch.softmax: nn.MultiheadAttention needs "
                             f"num_heads * key_dim = d_model and value_dim = key_dim (here {heads} * {head_dim}, "
                             f"d_model {d_model}, value_dim {value_dim})")
