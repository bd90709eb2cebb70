"""MultiHeadAttention beyond the adapters' own checks: the packed layout of the default
torch.nn.MultiheadAttention that docs/layouts-and-semantics.md (Attention) tells users to build,
checked against the NumPy reference, and the Keras float64 scale rounding the Keras adapter
works around, confirmed on the installed Keras."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.backends.layout import attention_packed_in_proj, attention_unpack_in_proj
from harness.reference.layers.attention import MultiHeadAttention

# float64 end to end; the reference and torch differ only in summation order.
RTOL, ATOL = 1e-10, 1e-12


def _draw(heads: int, key_dim: int, d_model: int, causal: bool, seed: int = 0):
    spec = MultiHeadAttention(type="MultiHeadAttention", num_heads=heads, key_dim=key_dim, causal=causal)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 5, d_model))
    params = {name: 0.5 * rng.normal(size=shape) for name, shape in spec.parameter_shapes([(5, d_model)]).items()}
    return spec, x, params


def test_packing_round_trips():
    _, _, p = _draw(2, 3, 6, False)
    kernels = tuple(p[f"{n}_kernel"] for n in ("query", "key", "value"))
    biases = tuple(p[f"{n}_bias"] for n in ("query", "key", "value"))
    weight, bias = attention_packed_in_proj(kernels, biases)
    assert weight.shape == (18, 6) and bias.shape == (18,)
    back_kernels, back_biases = attention_unpack_in_proj(weight, bias, heads=2)
    for original, back in zip(kernels + biases, back_kernels + back_biases):
        np.testing.assert_array_equal(original, back)


@pytest.mark.parametrize("causal", [False, True])
def test_packed_nn_multihead_attention_agrees_with_the_reference(causal):
    torch = pytest.importorskip("torch")
    spec, x, p = _draw(2, 3, 6, causal)
    expected = spec.reference(spec, p).forward(x)
    weight, bias = attention_packed_in_proj(tuple(p[f"{n}_kernel"] for n in ("query", "key", "value")),
                                            tuple(p[f"{n}_bias"] for n in ("query", "key", "value")))
    module = torch.nn.MultiheadAttention(6, 2, batch_first=True, dtype=torch.float64).eval()
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.from_numpy(weight))
        module.in_proj_bias.copy_(torch.from_numpy(bias))
        module.out_proj.weight.copy_(torch.from_numpy(p["output_kernel"].reshape(6, 6).T.copy()))
        module.out_proj.bias.copy_(torch.from_numpy(p["output_bias"]))
        t = torch.from_numpy(x)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64) if causal else None
        out, _ = module(t, t, t, need_weights=False, attn_mask=mask, is_causal=causal)
    np.testing.assert_allclose(out.numpy(), expected, rtol=RTOL, atol=ATOL)


def test_keras_float64_scale_is_rounded_to_float32_without_the_adapters_fix():
    """keras/src/backend/tensorflow/nn.py applies a Python-float scale with tf.cast, which goes
    through float32: the installed Keras' float64 layer matches the reference computed with a
    float32-rounded 1/sqrt(key_dim), and misses the exact one. If a Keras release fixes this,
    this test fails and the workaround in harness/backends/keras/attention.py can go."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the rounding is the TensorFlow backend's")
    spec, x, p = _draw(2, 2, 4, False)
    layer = keras.layers.MultiHeadAttention(2, 2, dtype="float64")
    layer.build((None, 5, 4), (None, 5, 4))
    for name, sub in (("query", "_query_dense"), ("key", "_key_dense"), ("value", "_value_dense"),
                      ("output", "_output_dense")):
        getattr(layer, sub).kernel.assign(p[f"{name}_kernel"])
        getattr(layer, sub).bias.assign(p[f"{name}_bias"])
    got = np.asarray(layer(x, x))
    exact = spec.reference(spec, p).forward(x)
    assert np.abs(got - exact).max() > 1e-10

    # The same scores with the float32-rounded scale: the query projection scaled by rounded / exact.
    exact_scale = 1.0 / math.sqrt(2)
    factor = float(np.float32(exact_scale)) / exact_scale
    rounded = dict(p, query_kernel=p["query_kernel"] * factor, query_bias=p["query_bias"] * factor)
    with_rounded_scale = spec.reference(spec, rounded).forward(x)
    np.testing.assert_allclose(got, with_rounded_scale, rtol=1e-12, atol=1e-14)


def _keras_encoder(path, causal: bool):
    """keras.io's "text classification with Transformer" block without dropout: post-norm."""
    import keras

    rng = np.random.default_rng(3)
    x = keras.Input((5, 8), name="x")
    attention = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x, use_causal_mask=causal)
    norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")(keras.layers.Add(name="add1")([x, attention]))
    ff = keras.layers.Dense(8, name="ff2")(keras.layers.Dense(16, activation="relu", name="ff1")(norm1))
    out = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")(keras.layers.Add(name="add2")([norm1, ff]))
    model = keras.Model(x, out)
    model.set_weights([0.3 * rng.normal(size=w.shape) for w in model.get_weights()])  # non-zero biases too
    model.save(path)
    return model


@pytest.mark.parametrize("causal", [False, True])
def test_import_keras_transformer_block_with_multi_head_attention(tmp_path, causal):
    """A Functional model calling MultiHeadAttention(x, x[, use_causal_mask=True]) imports as the
    case's self-attention layer (value_dim and attention_axes that Keras filled in itself are
    not problems), its reference matches Keras' own predictions, and every backend passes."""
    from harness.weights import load_cases_from_file
    from harness.entry.cli import main
    from harness.backends.numpy_reference import run_reference
    from tests.conftest import backend_or_skip
    from tests.test_import_export import ATOL, RTOL, passes_everywhere

    backend_or_skip("keras")
    model = _keras_encoder(tmp_path / "model.keras", causal)
    out = tmp_path / "cases" / "encoder.yaml"
    assert main(["import", str(tmp_path / "model.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    mha = case.graph.layers["mha"]
    assert (mha.type, mha.num_heads, mha.key_dim, mha.causal) == ("MultiHeadAttention", 2, 4, causal)
    expected = np.asarray(model(case.dataset.inputs["x"], training=False))
    reference = run_reference(case, train=False).outputs
    (output,) = reference.values()
    np.testing.assert_allclose(output, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_import_keras_cross_attention_is_refused(tmp_path, capsys):
    from harness.entry.cli import main
    from tests.conftest import backend_or_skip

    backend_or_skip("keras")
    import keras

    q, v = keras.Input((3, 4), name="q"), keras.Input((5, 4), name="v")
    keras.Model([q, v], keras.layers.MultiHeadAttention(1, 2, name="cross")(q, v)).save(tmp_path / "cross.keras")
    assert main(["import", str(tmp_path / "cross.keras"), "--out", str(tmp_path / "cross.yaml")]) != 0
    assert "separate query, value or key" in capsys.readouterr().out
    assert not (tmp_path / "cross.yaml").exists()
