"""torch's MultiHeadAttention: the builder, the import translations of nn.MultiheadAttention and
nn.TransformerEncoderLayer (the graph of case layers it computes), and the packed checkpoint form.

Where num_heads * key_dim == d_model, torch's own attention computes it:
torch.nn.functional.multi_head_attention_forward, the function nn.MultiheadAttention.forward
calls, with nn.MultiheadAttention's unpacked weights (use_separate_proj_weight, the form torch
uses when kdim/vdim differ from embed_dim): q_proj_weight, k_proj_weight, v_proj_weight, each
(out, in) = (heads * head_dim, d_model). The harness binds one canonical parameter to one
native tensor, so it does not use the packed in_proj_weight (3 * d_model, d_model) of the
default nn.MultiheadAttention, whose rows 0:E, E:2E, 2E:3E are the same three matrices; the
query/key/value biases are three tensors concatenated into in_proj_bias at each call.
docs/layouts-and-semantics.md (Attention) gives the packed layout for porting by hand. A
checkpoint is read and written in nn.MultiheadAttention's own packed form where that module can
hold the layer (`UnpackedAttention.unpack_checkpoint` / `pack_checkpoint`, called by native.py),
so a user's state_dict loads into the case and the case's export loads into the user's module.

Otherwise (Keras allows any key_dim and value_dim) torch's function refuses (it splits
embed_dim into heads, values included), and the layer is composite: the same projections, torch.einsum and torch.softmax.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.layout import (AS_IS, attention_bias_flat, attention_output_to_out_in,
                                     attention_projection_to_out_in)
from harness.backends.torch.core import linear
from harness.backends.torch.import_options import BLOCK_INPUT as INPUT
from harness.backends.torch.normalization import layer_norm_module
from harness.backends.torch.regularization import dropout_module
from harness.backends.torch.registry import REGISTRY
from harness.reference.layers.attention import FULLY_MASKED, allowed_positions

builders = REGISTRY.layers
nn = torch.nn

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
        # load_state_dict(strict=True) of the packed form too (what `pack_checkpoint` writes).
        self._register_load_state_dict_pre_hook(self._unpack_on_load)

    def packable(self) -> bool:
        """nn.MultiheadAttention (kdim = vdim = embed_dim) can hold this layer: q, k and v
        projections all (d_model, d_model), the form with a packed in_proj_weight."""
        d_model = self.out_proj.weight.shape[0]
        return all(tuple(getattr(self, f"{short}_weight").shape) == (d_model, d_model)
                   for short in NATIVE_NAMES.values())

    def unpack_checkpoint(self, prefix: str, tensors: dict, names: dict) -> None:
        """A checkpoint's `<prefix>in_proj_weight` (3E, E) and `in_proj_bias` (3E,), as
        nn.MultiheadAttention saves them, split into this module's q/k/v tensors: rows 0:E the
        query's, E:2E the key's, 2E:3E the value's (torch/nn/functional.py `_in_projection_packed`
        chunks them in that order). `names`: each key -> the file's name for the messages."""
        for packed, suffix in (("in_proj_weight", "weight"), ("in_proj_bias", "bias")):
            key = f"{prefix}{packed}"
            wanted = [f"{short}_{suffix}" for short in NATIVE_NAMES.values()]
            if key not in tensors or not all(hasattr(self, name) and getattr(self, name) is not None
                                             for name in wanted):
                continue
            rows = [getattr(self, name).shape[0] for name in wanted]
            if tensors[key].shape[0] != sum(rows):
                continue  # left as it is: the mismatch lists it beside the tensors it lacks
            value = tensors.pop(key)
            start = 0
            for name, count in zip(wanted, rows):
                tensors[f"{prefix}{name}"] = value[start:start + count]
                names[f"{prefix}{name}"] = f"{key}[{start}:{start + count}]"
                start += count

    def pack_checkpoint(self, prefix: str, tensors: dict) -> dict:
        """The inverse, where nn.MultiheadAttention can hold the layer: the q/k/v tensors
        concatenated into `in_proj_weight` / `in_proj_bias` (in the query's place, so the order
        is nn.MultiheadAttention's state_dict's); else `tensors` as they are."""
        if not self.packable():
            return tensors
        parts = {f"{prefix}{short}_{suffix}": (f"{prefix}in_proj_{suffix}", short == "q_proj")
                 for short in NATIVE_NAMES.values() for suffix in ("weight", "bias")}
        result = {}
        for key, value in tensors.items():
            if key not in parts:
                result[key] = value
            elif parts[key][1]:  # the query's: the three, in order
                packed, suffix = parts[key][0], key.rsplit("_", 1)[1]
                result[packed] = np.concatenate([tensors[f"{prefix}{short}_{suffix}"]
                                                 for short in NATIVE_NAMES.values()])
        return result

    def _unpack_on_load(self, state_dict, prefix, *args) -> None:
        tensors = {key: value for key, value in state_dict.items() if key.startswith(prefix)}
        before = set(tensors)
        self.unpack_checkpoint(prefix, tensors, {})
        for key in before - set(tensors):
            del state_dict[key]
        state_dict.update({key: tensors[key] for key in set(tensors) - before})


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

    length = ctx.input_shapes[0][0]
    allowed = allowed_positions(spec, length, length)
    # nn.MultiheadAttention's boolean attn_mask: True = "not allowed to attend"
    # (torch/nn/modules/activation.py, MultiheadAttention.forward's docstring): the case's negation.
    blocked = None if allowed is None else torch.from_numpy(~allowed)
    # is_causal is only a hint beside attn_mask, and multi_head_attention_forward drops the mask
    # for it (need_weights=False, no key_padding_mask: "attn_mask = None", torch/nn/functional.py),
    # so it is set only where the mask is the causal triangle alone.
    hint_causal = spec.causal and spec.mask is None

    if heads * head_dim == d_model and value_dim == head_dim:
        def call(x):
            seq_first = x.transpose(0, 1)  # batch_first=True is a transpose around this function
            mask = None if blocked is None else blocked.to(x.device)
            out, _ = F.multi_head_attention_forward(
                seq_first, seq_first, seq_first, d_model, heads, None,
                torch.cat(biases()) if spec.use_bias else None, None, None, False, 0.0,
                module.out_proj.weight, module.out_proj.bias, training=False, need_weights=False,
                attn_mask=mask, is_causal=hint_causal, use_separate_proj_weight=True,
                q_proj_weight=module.q_proj_weight, k_proj_weight=module.k_proj_weight,
                v_proj_weight=module.v_proj_weight)
            return out.transpose(0, 1)
        return BuiltLayer(call=call, bindings=bindings, module=module,
                          detail="torch.nn.functional.multi_head_attention_forward (nn.MultiheadAttention's "
                                 "computation) with unpacked q/k/v_proj_weight, batch_first by transposing"
                                 + (f", boolean attn_mask (True = blocked), is_causal={hint_causal}"
                                    if blocked is not None else ""))

    def composite(x):
        projected = []
        for short, bias in zip(NATIVE_NAMES.values(), biases()):
            z = F.linear(x, getattr(module, f"{short}_weight"), bias)
            projected.append(z.reshape(*x.shape[:2], heads, -1))
        q, k, v = projected
        scores = torch.einsum("bsnh,blnh->bnls", k, q) / math.sqrt(head_dim)
        if blocked is not None:
            scores = scores.masked_fill(blocked.to(x.device), float("-inf"))
        o = torch.einsum("bnls,bsnh->blnh", torch.softmax(scores, dim=-1), v)
        return module.out_proj(o.reshape(*x.shape[:2], heads * value_dim))
    return BuiltLayer(call=composite, bindings=bindings, module=module, implementation="composite",
                      detail=f"F.linear projections, torch.einsum, torch.softmax: nn.MultiheadAttention needs "
                             f"num_heads * key_dim = d_model and value_dim = key_dim (here {heads} * {head_dim}, "
                             f"d_model {d_model}, value_dim {value_dim})")


# --- import translations (torch/nn/modules/activation.py MultiheadAttention,
# torch/nn/modules/transformer.py TransformerEncoderLayer) ------------------------------------

def attention_spec(m: nn.MultiheadAttention, reasons: list[str]) -> dict:
    """nn.MultiheadAttention(embed_dim, num_heads): the case's self-attention with key_dim =
    embed_dim // num_heads (torch splits embed_dim into the heads, `head_dim`). Its packed
    in_proj_weight is read by `UnpackedAttention.unpack_checkpoint`; dropout acts in training
    only (the import runs the module in eval mode)."""
    if not m._qkv_same_embed_dim:
        reasons.append(f"kdim={m.kdim}, vdim={m.vdim}: keys and values of another size than the query; "
                       "the case's MultiHeadAttention is self-attention")
    if m.bias_k is not None:
        reasons.append("add_bias_kv=True: a learned key and value appended to the sequence")
    if m.add_zero_attn:
        reasons.append("add_zero_attn=True: a zero key and value appended to the sequence")
    return {"type": "MultiHeadAttention", "num_heads": m.num_heads, "key_dim": m.head_dim,
            "use_bias": m.in_proj_bias is not None}


PER_SAMPLE_MASKS = {"key_padding_mask": None, "src_key_padding_mask": None}
"""Masks per sample (which keys of each sequence are padding): the case has no input for them."""


def allowed_from_mask(argument, constants, is_causal, reasons: list[str]) -> dict:
    """The case's fields for nn.MultiheadAttention's `attn_mask` / nn.TransformerEncoderLayer's
    `src_mask` held as a constant of the module (a buffer): (L, S), boolean with True = "not
    allowed to attend", or float added to the scores (torch/nn/modules/activation.py,
    MultiheadAttention.forward's docstring), read here where its values are 0 (attend) and -inf
    (blocked), as nn.Transformer.generate_square_subsequent_mask makes it. The case's mask is
    True = may attend; the causal triangle is written as `causal: true`.

    `is_causal=True` is a hint that the mask *is* the causal one: torch then uses the triangle
    or the mask depending on the path (multi_head_attention_forward drops the mask for the hint
    where need_weights is False), so it is accepted only with the triangle itself."""
    if argument is None:
        if is_causal:
            reasons.append("is_causal=True without attn_mask: torch needs the mask beside the hint "
                           "(multi_head_attention_forward raises); give the causal mask as a buffer")
        return {}
    mask = constants(argument)
    if not isinstance(mask, torch.Tensor):
        reasons.append("an attention mask computed in forward: the importer reads a mask held by the module "
                       "(a buffer, e.g. register_buffer('mask', nn.Transformer.generate_square_subsequent_mask(L)))")
        return {}
    if mask.dim() != 2:
        reasons.append(f"an attention mask of shape {list(mask.shape)}: the case's mask is one (L, S) matrix for "
                       "every sample and head")
        return {}
    values = mask.detach().cpu()
    if values.dtype == torch.bool:
        allowed = ~values.numpy()
    elif values.is_floating_point() and bool(((values == 0) | (values == float("-inf"))).all()):
        allowed = (values == 0).numpy()
    else:
        reasons.append("a float attention mask with values other than 0 and -inf: it adds a bias to the scores "
                       "that the case's mask (attend or not) cannot express")
        return {}
    triangle = np.tril(np.ones(allowed.shape, dtype=bool))
    if is_causal and not np.array_equal(allowed, triangle):
        reasons.append("is_causal=True with a mask that is not the causal triangle: torch uses one or the other "
                       "depending on need_weights and its fast path")
        return {}
    if not allowed.any(axis=-1).all():
        reasons.append(f"the attention mask blocks every key for query positions "
                       f"{np.flatnonzero(~allowed.any(axis=-1)).tolist()}: {FULLY_MASKED}")
        return {}
    if np.array_equal(allowed, triangle) and allowed.shape[0] == allowed.shape[1]:
        return {"causal": True}
    return {"mask": allowed.tolist()}


def per_sample_masks(node, reasons: list[str]) -> None:
    reasons.extend(f"{name}={node.kwargs[name]!r}: a mask per sample (padding), which the case has no input for"
                   for name in PER_SAMPLE_MASKS if node.kwargs.get(name) is not None)


def self_attention_call(node, reasons: list[str], constants) -> tuple[list, dict]:
    """`self.attn(x, x, x)` (need_weights and average_attn_weights either way: the weights,
    `getitem 1`, are refused where used): the one input of the case's self-attention; an
    `attn_mask` held by the module (and `is_causal` with it) as the layer's mask fields."""
    arguments = list(node.args[:3]) + [node.kwargs.get(name) for name in ("query", "key", "value")
                                       if name in node.kwargs]
    if len(arguments) != 3 or len({id(argument) for argument in arguments}) != 1:
        reasons.append("not called (x, x, x): cross-attention (another key or value than the query) "
                       "has no case layer")
    per_sample_masks(node, reasons)
    if len(node.args) > 3:
        reasons.append("masks or options given by position: give them by name")
    fields = allowed_from_mask(node.kwargs.get("attn_mask"), constants, bool(node.kwargs.get("is_causal")), reasons)
    return arguments[:1], {"": fields}


def block_call(node, reasons: list[str], constants) -> tuple[list, dict]:
    """`self.encoder_layer(x)`, or with `src_mask=` (and `is_causal=`) held by the module: the
    mask of its self-attention (TransformerEncoderLayer._sa_block passes them to self_attn)."""
    per_sample_masks(node, reasons)
    options = {"src_mask", "src_key_padding_mask", "is_causal"}
    if len(node.args) != 1 or set(node.kwargs) - options:
        reasons.append("called with other arguments than one tensor and masks by name")
    fields = allowed_from_mask(node.kwargs.get("src_mask"), constants, bool(node.kwargs.get("is_causal")), reasons)
    return list(node.args[:1]), {"self_attn": fields}


REGISTRY.imports.register(
    nn.MultiheadAttention, produces=("MultiHeadAttention",), call=self_attention_call,
    time_major=lambda m: not m.batch_first,
    others_used="uses the attention weights; the case's MultiHeadAttention returns its output only",
)(attention_spec)


def feed_forward_activation(m: nn.TransformerEncoderLayer, reasons: list[str]) -> dict:
    """The feed-forward activation: F.relu / F.gelu (also what the strings "relu"/"gelu" become,
    `_get_activation_fn`) or an nn.ReLU / nn.GELU module."""
    activation = m.activation
    if activation is F.relu or isinstance(activation, nn.ReLU):
        return {"type": "Activation", "activation": "relu"}
    if activation is F.gelu:
        return {"type": "Activation", "activation": {"name": "gelu", "approximate": "none"}}
    if isinstance(activation, nn.GELU):
        return {"type": "Activation", "activation": {"name": "gelu", "approximate": activation.approximate}}
    reasons.append(f"activation={activation!r}: the importer reads relu or gelu")
    return {"type": "Activation", "activation": "relu"}


@REGISTRY.imports.register(nn.TransformerEncoderLayer, call=block_call,
                           time_major=lambda m: not m.self_attn.batch_first,
                           produces=("MultiHeadAttention", "Dropout", "Add", "LayerNormalization", "Dense",
                                     "Activation"))
def encoder_layer(m: nn.TransformerEncoderLayer, reasons: list[str]) -> list[dict]:
    """The layers nn.TransformerEncoderLayer.forward computes on its Python path
    (torch/nn/modules/transformer.py: `_sa_block`, `_ff_block`), named as its submodules so that
    its state_dict is the case's (`enc.self_attn.in_proj_weight`, `enc.linear1.weight`, ...):

        post-norm: x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(ff(x)))
        pre-norm:  x = x + dropout1(self_attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))
        ff(x) = linear2(dropout(activation(linear1(x))))

    A block of several layers, returned as a list: each layer's name relative to the module's,
    `inputs` naming its siblings or INPUT (the block's input); the last is its output. In eval
    mode the dropouts are the identity. (In eval and without grad torch runs the fused
    torch._transformer_encoder_layer_fwd instead where it can, e.g. batch_first with an even
    number of heads; that is the same function, which the import's check of the module's own
    predictions against the reference exercises.)"""
    def dropout(name: str, source: str) -> dict:
        return {"name": name, **dropout_module(getattr(m, name), reasons), "inputs": [source]}

    def norm(name: str, source: str) -> dict:
        return {"name": name, **layer_norm_module(getattr(m, name), reasons), "inputs": [source]}

    attention = {"name": "self_attn", **attention_spec(m.self_attn, reasons)}
    feed_forward = [
        {"name": "linear1", **linear(m.linear1, reasons)},
        {"name": "activation", **feed_forward_activation(m, reasons), "inputs": ["linear1"]},
        dropout("dropout", "activation"),
        {"name": "linear2", **linear(m.linear2, reasons), "inputs": ["dropout"]},
        dropout("dropout2", "linear2"),
    ]
    if m.norm_first:
        return [norm("norm1", INPUT), {**attention, "inputs": ["norm1"]}, dropout("dropout1", "self_attn"),
                {"name": "residual1", "type": "Add", "inputs": [INPUT, "dropout1"]},
                norm("norm2", "residual1"), {**feed_forward[0], "inputs": ["norm2"]}, *feed_forward[1:],
                {"name": "residual2", "type": "Add", "inputs": ["residual1", "dropout2"]}]
    return [{**attention, "inputs": [INPUT]}, dropout("dropout1", "self_attn"),
            {"name": "residual1", "type": "Add", "inputs": [INPUT, "dropout1"]}, norm("norm1", "residual1"),
            {**feed_forward[0], "inputs": ["norm1"]}, *feed_forward[1:],
            {"name": "residual2", "type": "Add", "inputs": ["norm1", "dropout2"]}, norm("norm2", "residual2")]


# --- ScaledDotProductAttention ---------------------------------------------------------------

class ScaledDotProductAttention(torch.nn.Module):
    """torch.nn.functional.scaled_dot_product_attention as a module, on the case's
    (batch, length, heads, head_dim) tensors: torch takes (batch, heads, length, head_dim)
    ("(N, ..., L, E)", the heads among the leading axes), so the heads axis is moved in and
    back out. Its boolean attn_mask has the case's meaning, True = may attend (the function's
    documented reference in torch/nn/functional.py: `attn_bias.masked_fill_(
    attn_mask.logical_not(), float("-inf"))`), the opposite of nn.MultiheadAttention's boolean
    attn_mask (True = "not allowed to attend", torch/nn/modules/activation.py), so it is passed
    as it is here. torch refuses attn_mask together with is_causal, so the causal triangle is
    folded into the mask where both are asked for. The mask is a buffer, so it follows the
    module to a device."""

    def __init__(self, scale: float | None, causal: bool, allowed: np.ndarray | None) -> None:
        super().__init__()
        self.scale = scale
        self.causal = causal and allowed is None
        # Not persistent: the mask is the case's, not a weight, so it stays out of state_dict (a
        # checkpoint written from this module holds parameters only, as nn.MultiheadAttention's does).
        self.register_buffer("allowed", None if allowed is None else torch.from_numpy(allowed),
                             persistent=False)

    def forward(self, query, key, value):
        heads_first = [t.transpose(1, 2) for t in (query, key, value)]
        out = F.scaled_dot_product_attention(*heads_first, attn_mask=self.allowed, dropout_p=0.0,
                                             is_causal=self.causal, scale=self.scale)
        return out.transpose(1, 2)


@builders.register("ScaledDotProductAttention")
def scaled_dot_product_attention(spec, ctx) -> BuiltLayer:
    query, key, _ = ctx.input_shapes
    allowed = None
    if spec.mask is not None:
        allowed = allowed_positions(spec, query[0], key[0])
    module = ScaledDotProductAttention(spec.scale, spec.causal, allowed)
    return BuiltLayer(call=module, module=module,
                      detail=f"torch.nn.functional.scaled_dot_product_attention(scale={spec.scale}, "
                             f"is_causal={module.causal}"
                             + (", attn_mask=bool (T, S), True = attend" if allowed is not None else "")
                             + ") with the heads axis moved to axis 1")
