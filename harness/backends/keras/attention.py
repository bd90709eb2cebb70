"""Keras builder for MultiHeadAttention: keras.layers.MultiHeadAttention, the canonical layout.

keras/src/layers/attention/multi_head_attention.py (`build`): four EinsumDense sublayers,
`_query_dense`, `_key_dense`, `_value_dense` with kernels (d_model, num_heads, key_dim) and
biases (num_heads, key_dim), `_output_dense` with kernel (num_heads, key_dim, d_model) and bias
(d_model,); the query is scaled by 1 / sqrt(key_dim) before the dot product.

Float64: the layer keeps that scale as a Python float (`_inverse_sqrt_key_dim`), and the
TensorFlow backend's dot_product_attention applies it as `tf.cast(scale, logits.dtype)`
(keras/src/backend/tensorflow/nn.py, `_dot_product_attention_xla`): tf.cast makes a float32
tensor of a Python float first, so a float64 model computes with 1/sqrt(key_dim) rounded to
float32 (for key_dim 2, 1.2e-8 off; outputs 1e-9 off, beyond float64 tolerances). In float64
runs the builder stores the scale as np.float64, which tf.cast keeps exact, and says so in
the layer's detail; float32 runs are untouched.
"""

from __future__ import annotations

import math

import numpy as np

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS

SUBLAYERS = {"query": "_query_dense", "key": "_key_dense", "value": "_value_dense", "output": "_output_dense"}


@builders.register("MultiHeadAttention")
def multi_head_attention(spec, ctx) -> BuiltLayer:
    layer = keras.layers.MultiHeadAttention(num_heads=spec.num_heads, key_dim=spec.key_dim, value_dim=spec.value_dim,
                                            dropout=0.0,
                                            use_bias=spec.use_bias, dtype=ctx.dtype, name=ctx.layer_name)
    shape = (None, *ctx.input_shapes[0])
    layer.build(shape, shape)
    note = ""
    if ctx.dtype == "float64":
        layer._inverse_sqrt_key_dim = np.float64(1.0 / math.sqrt(spec.key_dim))
        note = "; scale 1/sqrt(key_dim) set as np.float64 (Keras' TF backend rounds a Python-float scale to float32)"
    bindings = []
    for name, attribute in SUBLAYERS.items():
        dense = getattr(layer, attribute)
        bindings.append(WeightBinding(f"{name}_kernel", dense.kernel, f"MultiHeadAttention.{attribute}.kernel", AS_IS))
        if spec.use_bias:
            bindings.append(WeightBinding(f"{name}_bias", dense.bias, f"MultiHeadAttention.{attribute}.bias", AS_IS))
    return BuiltLayer(call=lambda x: layer(x, x, use_causal_mask=spec.causal), bindings=bindings, module=layer,
                      detail=f"keras.layers.MultiHeadAttention(num_heads={spec.num_heads}, key_dim={spec.key_dim}, "
                             f"value_dim={spec.value_dim}), "
                             f"called (x, x, use_causal_mask={spec.causal}){note}")
