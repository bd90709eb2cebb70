"""Keras 3.15 (TensorFlow backend): a float64 MultiHeadAttention scales its logits by
1/sqrt(key_dim) rounded to float32. Needs only NumPy and Keras.

    python cases/reproducers/keras_attention_scale_float64.py

keras/src/layers/attention/multi_head_attention.py keeps the scale as a Python float
(`self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))`, `__init__`) and passes it
to ops.dot_product_attention; keras/src/backend/tensorflow/nn.py `_dot_product_attention_xla`
multiplies the logits by `tf.cast(scale, logits.dtype)`, and tf.cast converts a Python float to
a float32 tensor before widening it (tensorflow/python/ops/math_ops.py `cast`; its docstring
warns of it). The layer's output is compared with a float64 NumPy attention computed with the
exact scale and with the float32-rounded one. Prints each difference and exits 1 while Keras
matches the rounded scale rather than the exact one, 0 once it keeps float64.
"""

import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402

HEADS, KEY_DIM, D_MODEL, LENGTH = 4, 2, 8, 5


def numpy_attention(x, w, scale):
    """Self-attention with Keras' layouts: kernels (d_model, heads, key_dim), output kernel
    (heads, key_dim, d_model), softmax over the key steps."""
    q = np.einsum("btd,dnh->btnh", x, w["query_kernel"]) + w["query_bias"]
    k = np.einsum("btd,dnh->btnh", x, w["key_kernel"]) + w["key_bias"]
    v = np.einsum("btd,dnh->btnh", x, w["value_kernel"]) + w["value_bias"]
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    heads = np.einsum("bnts,bsnh->btnh", p, v)
    return np.einsum("btnh,nhd->btd", heads, w["output_kernel"]) + w["output_bias"]


def main() -> int:
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    rng = np.random.default_rng(0)
    layer = keras.layers.MultiHeadAttention(HEADS, KEY_DIM, dtype="float64")
    layer.build((None, LENGTH, D_MODEL), (None, LENGTH, D_MODEL))
    w = {}
    for name in ("query", "key", "value", "output"):
        dense = getattr(layer, f"_{name}_dense")
        w[f"{name}_kernel"] = rng.normal(size=dense.kernel.shape) * 0.5
        w[f"{name}_bias"] = rng.normal(size=dense.bias.shape) * 0.1
        dense.kernel.assign(w[f"{name}_kernel"])
        dense.bias.assign(w[f"{name}_bias"])
    x = rng.normal(size=(2, LENGTH, D_MODEL))
    got = keras.ops.convert_to_numpy(layer(x, x))
    exact = 1.0 / math.sqrt(KEY_DIM)
    rounded = float(np.float32(exact))
    print(f"scale: exact {exact!r}, float32-rounded {rounded!r}")
    off_exact = float(np.abs(got - numpy_attention(x, w, exact)).max())
    off_rounded = float(np.abs(got - numpy_attention(x, w, rounded)).max())
    print(f"max |keras - numpy with the exact scale|   = {off_exact:.3g}")
    print(f"max |keras - numpy with the rounded scale| = {off_rounded:.3g}")
    return 1 if off_rounded < off_exact else 0


if __name__ == "__main__":
    raise SystemExit(main())
