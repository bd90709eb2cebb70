"""Depthwise convolutions imported: torch's Conv2d(groups=in_channels, out=in * K) (MobileNetV2's
blocks, with stride 2 and padding=1) and keras.layers.DepthwiseConv2D (after a Rescaling, before
a SeparableConv2D) become the case's layers of those names; a grouped Conv2d with fewer groups
stays a grouped Conv2D. The framework's own model checks the generated case's reference, then
every backend runs the case."""

from __future__ import annotations

import textwrap

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere
from tests.torch_import import import_torch_source

TORCH_BLOCK = textwrap.dedent("""
    import torch.nn as nn

    class Block(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU6(),
                             nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), nn.ReLU6(),
                             nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4), nn.ReLU6(),
                             nn.Conv2d(8, 4, 1, groups=2), nn.Flatten(), nn.Linear(4 * 3 * 3, 3))
""")


def test_import_torch_depthwise_block(tmp_path):
    backend_or_skip("torch")
    import torch

    case, net = import_torch_source(tmp_path, TORCH_BLOCK, "Block", "3,10,9", seed=8)
    kinds = {name: (type(spec).type_name(), getattr(spec, "depth_multiplier", None))
             for name, spec in case.graph.layers.items() if "Conv" in type(spec).type_name()}
    assert kinds == {"0": ("Conv2D", None), "2": ("DepthwiseConv2D", 1), "4": ("DepthwiseConv2D", 2),
                     "6": ("Conv2D", None)}
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_import_keras_depthwise(tmp_path):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(9)
    layers = keras.layers
    x = keras.Input((9, 8, 3), name="x")
    scaled = layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(x)
    padded = layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad")(scaled)
    depthwise = layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, name="dw")(padded)
    relu = layers.ReLU(6.0, name="relu6")(depthwise)
    relu = layers.SeparableConv2D(3, 3, padding="same", depth_multiplier=2, name="separable")(relu)
    model = keras.Model(x, layers.Dense(2, name="out")(layers.GlobalAveragePooling2D(name="gap")(relu)))
    model.save(tmp_path / "dw.keras")
    out = tmp_path / "dw.yaml"
    assert main(["import", str(tmp_path / "dw.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.graph.layers["dw"].depth_multiplier == 2
    assert case.graph.layers["separable"].filters == 3
    assert case.graph.layers["preprocess"].offset == -1.0
    expected = model.predict(case.dataset.inputs["x"], verbose=0)
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
