"""Explicit padding imported: torchvision's stem (Conv2d(7, stride 2, padding=3),
MaxPool2d(3, 2, padding=1)), SqueezeNet's MaxPool2d(ceil_mode=True), torch's default average
divisor (count_include_pad), nn.ZeroPad2d and nn.ConstantPad2d, MaxPool2d(dilation) from torch; ZeroPadding2D + 'valid' and
Cropping2D as keras.applications writes them from Keras. The framework's own model is the
independent check of the generated case's reference, then every backend runs the case."""

from __future__ import annotations

import textwrap

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere
from tests.torch_import import import_torch_source

TORCH_CNN = textwrap.dedent("""
    import torch.nn as nn

    class Stem(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Conv2d(3, 4, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),
                             nn.Conv2d(4, 4, 3, stride=2, padding=(1, 0)), nn.ZeroPad2d((1, 0, 0, 1)),
                             nn.MaxPool2d(3, 2, ceil_mode=True), nn.ConstantPad2d(1, 0.25),
                             nn.AvgPool2d(3, 1, padding=1), nn.Flatten(), nn.Linear(4 * 4 * 3, 3))
""")


def test_import_torch_explicit_padding_and_ceil_mode(tmp_path):
    backend_or_skip("torch")
    import torch

    case, net = import_torch_source(tmp_path, TORCH_CNN, "Stem", "3,22,21", seed=4)
    layers = {name: spec for name, spec in case.graph.layers.items()}
    assert layers["0"].padding == 3 and layers["2"].padding == 1
    assert layers["3"].padding == [1, 0]
    assert layers["4"].padding == [[0, 1], [1, 0]]
    assert layers["5"].ceil_mode and layers["6"].value == 0.25 and layers["7"].count_include_pad
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


TORCH_DILATED = textwrap.dedent("""
    import torch.nn as nn

    class Dilated(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1, dilation=2),
                             nn.MaxPool2d(2, dilation=(2, 1), ceil_mode=True), nn.Flatten(), nn.Linear(4 * 3 * 3, 3))
""")


def test_import_torch_dilated_max_pooling(tmp_path):
    """MaxPool2d(dilation=...) imports as dilation_rate (with padding and ceil_mode, which count
    the dilated extent); torch's own module checks the reference, then every backend runs it
    (Keras and chainer compose it: their poolings have no dilation)."""
    backend_or_skip("torch")
    import torch

    case, net = import_torch_source(tmp_path, TORCH_DILATED, "Dilated", "3,13,12", seed=4)
    layers = case.graph.layers
    assert layers["2"].dilation_rate == 2 and layers["2"].padding == 1
    assert layers["3"].dilation_rate == [2, 1] and layers["3"].ceil_mode
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_import_keras_zero_padding_valid_and_cropping(tmp_path):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(6)
    layers = keras.layers
    x = keras.Input((9, 8, 2), name="x")
    padded = layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad")(x)  # keras.applications' stride-2 blocks
    conv = layers.Conv2D(3, 3, strides=2, padding="valid", activation="relu", name="conv")(padded)
    cropped = layers.Cropping2D(((1, 0), (0, 1)), name="crop")(conv)
    pooled = layers.MaxPooling2D(2, padding="same", name="pool")(cropped)
    model = keras.Model(x, layers.Dense(2, name="out")(layers.Flatten(name="flat")(pooled)))
    model.save(tmp_path / "pad.keras")
    out = tmp_path / "pad.yaml"
    assert main(["import", str(tmp_path / "pad.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.graph.layers["crop"].spatial_cropping() == [(1, 0), (0, 1)]
    expected = model.predict(case.dataset.inputs["x"], verbose=0)
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
