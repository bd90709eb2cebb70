"""keras.layers.Normalization imported as keras.applications writes it: with its mean and
variance given (ConvNeXt, EfficientNetV2), after a Rescaling, before a convolution; Keras' own
model checks the case's reference, then every backend runs it. A Normalization adapted to data
(its statistics are variables: EfficientNet) is refused with the reason."""

from __future__ import annotations

import numpy as np

from harness.backends.numpy_reference import run_reference
from harness.entry.cli import main
from harness.weights import load_cases_from_file
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

MEAN = [0.485, 0.456, 0.406]  # keras/src/applications/convnext.py writes these times 255
VARIANCE = [0.229 ** 2, 0.224 ** 2, 0.225 ** 2]


def test_import_keras_normalization_with_its_statistics(tmp_path):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(5)
    layers = keras.layers
    x = keras.Input((7, 6, 3), name="x")
    scaled = layers.Rescaling(0.00390625, name="scale")(x)
    normalized = layers.Normalization(mean=MEAN, variance=VARIANCE, name="normalize")(scaled)
    conv = layers.Conv2D(4, 3, strides=2, name="conv")(normalized)
    model = keras.Model(x, layers.Dense(2, name="out")(layers.GlobalAveragePooling2D(name="gap")(conv)))
    model.save(tmp_path / "norm.keras")
    out = tmp_path / "norm.yaml"
    assert main(["import", str(tmp_path / "norm.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    spec = case.graph.layers["normalize"]
    assert (spec.axis, spec.invert) == ([-1], False)
    np.testing.assert_allclose(spec.mean, MEAN)
    np.testing.assert_allclose(spec.variance, VARIANCE)
    expected = np.asarray(model(case.dataset.inputs["x"], training=False))
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_import_keras_adapted_normalization_is_refused_with_the_reason(tmp_path, capsys):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    x = keras.Input((4,), name="x")
    normalize = keras.layers.Normalization(name="normalize")
    normalize.adapt(np.random.default_rng(0).normal(3.0, 2.0, (16, 4)).astype("float32"))
    model = keras.Model(x, keras.layers.Dense(2, name="out")(normalize(x)))
    model.save(tmp_path / "adapted.keras")
    assert main(["import", str(tmp_path / "adapted.keras"), "--out", str(tmp_path / "adapted.yaml")]) != 0
    said = " ".join(capsys.readouterr().out.split())
    assert "normalize (Normalization): mean and variance are variables (adapt()" in said
    assert not (tmp_path / "adapted.yaml").exists()
