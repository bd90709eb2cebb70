"""Adaptive pooling imported: a torchvision-style classifier (a `features` Sequential, an
nn.AdaptiveAvgPool2d((1, 1)) child, torch.flatten in forward, a `classifier` Sequential) traced
with torch.fx, F.adaptive_max_pool2d called in forward, and a Keras 3 AdaptiveAveragePooling2D.
The framework's own model checks the case's reference, then every backend runs the case."""

from __future__ import annotations

import textwrap

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere
from tests.torch_import import import_torch_source

TORCH_NET = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU())
            self.avgpool = nn.AdaptiveAvgPool2d((2, 1))
            self.classifier = nn.Sequential(nn.Linear(4 * 2, 3))

        def forward(self, x):
            x = F.adaptive_max_pool2d(self.features(x), 3)
            x = torch.flatten(self.avgpool(x), 1)
            return self.classifier(x)
""")


def test_import_torch_adaptive_pooling_classifier(tmp_path):
    backend_or_skip("torch")
    import torch

    case, net = import_torch_source(tmp_path, TORCH_NET, "Classifier", "2,7,8", seed=12)
    kinds = [type(spec).type_name() for spec in case.graph.layers.values()]
    assert "AdaptiveMaxPooling2D" in kinds and "AdaptiveAveragePooling2D" in kinds
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_import_keras_adaptive_average(tmp_path):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(14)
    x = keras.Input((7, 6, 2), name="x")
    pooled = keras.layers.AdaptiveAveragePooling2D((3, 2), name="adaptive")(x)
    model = keras.Model(x, keras.layers.Dense(2, name="out")(keras.layers.Flatten(name="flat")(pooled)))
    model.save(tmp_path / "a.keras")
    out = tmp_path / "a.yaml"
    assert main(["import", str(tmp_path / "a.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.graph.layers["adaptive"].out == (3, 2)
    expected = model.predict(case.dataset.inputs["x"], verbose=0)
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
