"""Keras' MultiHeadAttention: builder (keras.layers.MultiHeadAttention, the canonical layout) and
import translation (its config and its call).

keras/src/layers/attention/multi_head_attention.py (`build`): four EinsumDense sublayers,
`_query_dense`, `_key_dense`, `_value_dense` with kernels (d_model, num_heads, key_dim) and
biases (num_heads, key_dim), `_output_dense` with kernel (num_heads, key_dim, d_model) and bias
(d_model,); the query is scaled by 1 / sqrt(key_dim) before the dot product.

Float64: the native layer is built as it is, with Keras' own scale. It keeps 1/sqrt(key_dim) as
a Python float (`_inverse_sqrt_key_dim`, `__init__`), and the TensorFlow backend applies it as
`tf.cast(scale, logits.dtype)` (keras/src/backend/tensorflow/nn.py, `_dot_product_attention_xla`;
the explicit-scores path of `_compute_attention` likewise, through keras.ops.cast = tf.cast);
tf.cast makes a float32 tensor of a Python float first (tensorflow/python/ops/math_ops.py `cast`,
its docstring says so), so a float64 model computes with the scale rounded to float32 (for
key_dim 2, 1.2e-8 off; exact where 1/sqrt(key_dim) is a power of two, key_dim 1, 4, 16, 64).
That is what a user's float64 Keras model computes, so the harness shows it, as the expected
difference of cases/discovered_keras_attention_scale_float64.yaml (reproducer:
cases/reproducers/keras_attention_scale_float64.py), not a patched scale. Keras on torch
(keras-torch) demotes float64 to float32 anyway (tests/test_keras_torch_backend.py), hence the
note only on TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import BACKEND, keras
from harness.backends.keras.registry import IMPORT_TRANSLATIONS as imports, LAYER_BUILDERS as builders
from harness.backends.keras.translation import by_config
from harness.case.imported_model import ImportProblem
from harness.backends.layout import AS_IS


def exact_in_float32(key_dim: int) -> bool:
    """Whether 1/sqrt(key_dim) survives the float32 round trip unchanged."""
    scale = 1.0 / math.sqrt(key_dim)
    return float(np.float32(scale)) == scale


SUBLAYERS = {"query": "_query_dense", "key": "_key_dense", "value": "_value_dense", "output": "_output_dense"}


@builders.register("MultiHeadAttention")
def multi_head_attention(spec, ctx) -> BuiltLayer:
    layer = keras.layers.MultiHeadAttention(num_heads=spec.num_heads, key_dim=spec.key_dim, value_dim=spec.value_dim,
                                            dropout=0.0,
                                            use_bias=spec.use_bias, dtype=ctx.dtype, name=ctx.layer_name)
    shape = (None, *ctx.input_shapes[0])
    layer.build(shape, shape)
    note = ""
    if ctx.dtype == "float64" and BACKEND == "tensorflow" and not exact_in_float32(spec.key_dim):
        note = ("; Keras' own scale 1/sqrt(key_dim), which TensorFlow applies rounded to float32 "
                "(tf.cast of a Python float)")
    bindings = []
    for name, attribute in SUBLAYERS.items():
        dense = getattr(layer, attribute)
        bindings.append(WeightBinding(f"{name}_kernel", dense.kernel, f"MultiHeadAttention.{attribute}.kernel", AS_IS))
        if spec.use_bias:
            bindings.append(WeightBinding(f"{name}_bias", dense.bias, f"MultiHeadAttention.{attribute}.bias", AS_IS))
    # attention_mask (B, T, S), True = attend (multi_head_attention.py, `call`'s docstring): the
    # case's mask with a batch axis of 1, which the masked softmax broadcasts; use_causal_mask is
    # combined with it by a logical and (`_compute_attention_mask`), as the case's fields are.
    mask = None if spec.mask is None else np.asarray(spec.mask, dtype=bool)[None]

    def call(x):
        constant = None if mask is None else keras.ops.convert_to_tensor(mask)
        return layer(x, x, attention_mask=constant, use_causal_mask=spec.causal)

    return BuiltLayer(call=call, bindings=bindings, module=layer,
                      detail=f"keras.layers.MultiHeadAttention(num_heads={spec.num_heads}, key_dim={spec.key_dim}, "
                             f"value_dim={spec.value_dim}), "
                             f"called (x, x, use_causal_mask={spec.causal}"
                             + (", attention_mask=(1, T, S) bool, True = attend" if mask is not None else "")
                             + f"){note}")


def implied_config(config: dict) -> dict:
    """keras.layers.MultiHeadAttention records what it filled in itself (keras/src/layers/attention/
    multi_head_attention.py, `__init__` and `_build_attention`): `value_dim` = key_dim when not
    given, `attention_axes` = (1,) for a (batch, length, features) input. At those values they
    are the harness's self-attention; other values stay options the case cannot express."""
    config = dict(config)
    if config.get("value_dim") == config.get("key_dim"):
        config.pop("value_dim")
    if list(config.get("attention_axes") or []) == [1]:
        config.pop("attention_axes")
    return config


def import_call(name: str, histories: list, kwargs: dict, problems: list[ImportProblem]) -> tuple[list, dict]:
    """MultiHeadAttention is called (query, value[, key]): the harness's layer is self-attention,
    so all must be one tensor; `use_causal_mask=True` is its `causal` field."""
    fields = {}
    if kwargs.pop("use_causal_mask", False):
        fields["causal"] = True
    for flag in ("return_attention_scores",):
        if kwargs.get(flag) is False:
            kwargs.pop(flag)
    if len(set(histories)) > 1:
        problems.append(ImportProblem(name, "MultiHeadAttention", "called with separate query, value or key "
                                      "tensors; the harness's MultiHeadAttention is self-attention only"))
    return histories[:1], fields


imports.register("MultiHeadAttention", produces=("MultiHeadAttention",), call=import_call)(
    by_config("MultiHeadAttention", implied=implied_config))


# --- ScaledDotProductAttention ---------------------------------------------------------------

@builders.register("ScaledDotProductAttention")
def scaled_dot_product_attention(spec, ctx) -> BuiltLayer:
    """keras.ops.dot_product_attention (keras/src/ops/nn.py) expresses the kind as it is: query
    (B, T, N, H), key and value (B, S, N, H), `mask` boolean with True = take part ("a boolean
    mask where `True` indicates the element should take part in attention", broadcast to
    (B, N, T, S): the case's (T, S) as it is), `scale` (None = 1 / sqrt(H)) and `is_causal`
    (combined with the mask by a logical and, keras/src/backend/tensorflow/nn.py `_apply_masks`).
    Float64 on TensorFlow: the scale goes through tf.cast of a float32 (the default
    `1.0 / tf.sqrt(tf.cast(H, "float32"))`, a given Python float through tf.cast as well), so it
    is rounded to float32 where it is not exact there, as in MultiHeadAttention."""
    query = ctx.input_shapes[0]
    mask = None
    if spec.mask is not None:
        mask = np.asarray(spec.mask, dtype=bool)
    scale = spec.effective_scale(query[-1])
    note = ""
    if ctx.dtype == "float64" and BACKEND == "tensorflow" and float(np.float32(scale)) != scale:
        note = "; TensorFlow applies the scale rounded to float32 (tf.cast)"

    def call(q, k, v):
        return keras.ops.dot_product_attention(q, k, v, mask=mask, scale=spec.scale, is_causal=spec.causal)

    return BuiltLayer(call=call, detail=f"keras.ops.dot_product_attention(scale={spec.scale}, "
                                        f"is_causal={spec.causal}, mask={'(T, S) bool' if mask is not None else None})"
                                        + note)
