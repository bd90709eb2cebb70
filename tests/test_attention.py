"""MultiHeadAttention beyond the adapters' own checks: the packed layout of the default
torch.nn.MultiheadAttention that docs/layouts-and-semantics.md (Attention) tells users to build,
checked against the NumPy reference, and the Keras float64 scale rounding
(cases/discovered_keras_attention_scale_float64.yaml), confirmed on the installed Keras, through
the Keras adapter (which builds the native layer with Keras' own scale) and through the case's
one-file reproducer."""

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


def test_keras_float64_scale_is_rounded_to_float32():
    """keras/src/backend/tensorflow/nn.py applies a Python-float scale with tf.cast, which goes
    through float32: the installed Keras' float64 layer matches the reference computed with a
    float32-rounded 1/sqrt(key_dim), and misses the exact one. If a Keras release fixes this,
    this test fails, and the expected difference of
    cases/discovered_keras_attention_scale_float64.yaml goes with it."""
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
    with_rounded_scale = spec.reference(spec, _rounded_scale_parameters(p, 2)).forward(x)
    np.testing.assert_allclose(got, with_rounded_scale, rtol=1e-12, atol=1e-14)


def _rounded_scale_parameters(params: dict, key_dim: int) -> dict:
    """The parameters with which the exact reference computes what a float32-rounded
    1/sqrt(key_dim) computes: the query projection (kernel and bias) times rounded / exact."""
    exact_scale = 1.0 / math.sqrt(key_dim)
    factor = float(np.float32(exact_scale)) / exact_scale
    return dict(params, query_kernel=params["query_kernel"] * factor, query_bias=params["query_bias"] * factor)


@pytest.mark.parametrize("key_dim,causal", [(2, False), (3, True), (4, False), (4, True)])
def test_the_keras_adapter_runs_keras_own_scale_in_float64(key_dim, causal):
    """The adapter builds keras.layers.MultiHeadAttention as it is (no scale of its own): its
    float64 output is the reference's with the float32-rounded scale to 1e-13, and differs from
    the exact reference by more than float64's rounding wherever 1/sqrt(key_dim) is not a
    float32 number (key_dim 2, 3); key_dim 4 (scale 0.5) is the control, equal to both. With
    the causal mask too (Keras' is_causal path)."""
    from harness.backends import get_backend
    from harness.backends.numpy_reference import run_reference
    from harness.case.examples import LayerExample, single_layer_case
    from tests.conftest import backend_or_skip

    backend_or_skip("keras")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the rounding is the TensorFlow backend's")
    example = LayerExample("MultiHeadAttention", {"num_heads": 2, "key_dim": key_dim, "causal": causal}, [(4, 6)],
                           batch=2)
    case = single_layer_case(example, dtype="float64")
    got = get_backend("keras").run(case).outputs["layer"]
    exact = run_reference(case).outputs["layer"]
    (node,) = [node for node in case.graph.nodes if node.layer == "layer"]
    params = {name.split("/", 1)[1]: value for name, value in case.weights.items()}
    x = case.dataset.inputs[node.inputs[0]]
    with_rounded_scale = node.spec.reference(node.spec, _rounded_scale_parameters(params, key_dim)).forward(x)
    # float64 summation-order differences between TF's einsums and NumPy's: ~1e-16 on outputs of
    # order 1; 1e-13 leaves room and is far below the scale's 1e-8 relative effect.
    np.testing.assert_allclose(got, with_rounded_scale, rtol=0, atol=1e-13)
    off = np.abs(got - exact).max()
    rounded = float(np.float32(1.0 / math.sqrt(key_dim))) != 1.0 / math.sqrt(key_dim)
    assert (off > 1e-10) if rounded else (off < 1e-13), off


def test_the_attention_scale_reproducer_shows_it_on_this_keras(capsys):
    """cases/reproducers/keras_attention_scale_float64.py, the one-file report for upstream: on
    the installed Keras it exits 1 (the layer matches the rounded scale to float64 precision and
    misses the exact one by about 3e-8). When Keras keeps the scale in float64 this fails: then
    the case's expected difference and this test go."""
    import runpy
    from pathlib import Path

    from tests.conftest import backend_or_skip

    backend_or_skip("keras")
    path = Path(__file__).resolve().parents[1] / "cases" / "reproducers" / "keras_attention_scale_float64.py"
    reproducer = runpy.run_path(str(path))  # not as __main__: its functions only
    assert reproducer["main"]() == 1
    lines = {line.split("=")[0].strip(): float(line.split("=")[1]) for line in capsys.readouterr().out.splitlines()
             if line.startswith("max |keras")}
    assert lines["max |keras - numpy with the exact scale|"] > 1e-9
    assert lines["max |keras - numpy with the rounded scale|"] < 1e-13


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
