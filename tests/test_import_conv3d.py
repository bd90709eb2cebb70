"""3-D convolution and pooling imported from torch: a C3D-style block (Conv3d with padding 1, a
grouped strided Conv3d, MaxPool3d over (1, 2, 2), AvgPool3d with counted padding) becomes the
case's Conv3D/MaxPooling3D/AveragePooling3D. torch's own model checks the generated case's
reference, then every backend runs the case (widths kept away from the filters: Keras' bias
bug, cases/discovered_keras_channels_first_bias.yaml)."""

from __future__ import annotations

import textwrap

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

TORCH_C3D = textwrap.dedent("""
    import torch.nn as nn

    class Clip(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Conv3d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
                             nn.Conv3d(4, 6, (3, 2, 2), stride=(2, 1, 1), padding=(1, 0, 1), groups=2), nn.Tanh(),
                             nn.AvgPool3d(2, stride=1, padding=1), nn.Flatten(), nn.Linear(6 * 3 * 3 * 4, 3))
""")


def test_import_torch_conv3d_block(tmp_path):
    backend_or_skip("torch")
    import torch

    (tmp_path / "clip.py").write_text(TORCH_C3D)
    namespace: dict = {}
    exec(compile(TORCH_C3D, str(tmp_path / "clip.py"), "exec"), namespace)
    torch.manual_seed(5)
    net = namespace["Clip"]()
    for module in net.modules():  # non-zero biases, so a bias on the wrong axis shows
        if getattr(module, "bias", None) is not None:
            torch.nn.init.normal_(module.bias, std=0.3)
    torch.save(net.state_dict(), tmp_path / "clip.pt")
    out = tmp_path / "clip.yaml"
    assert main(["import", f"{tmp_path / 'clip.py'}:Clip", "--weights", str(tmp_path / "clip.pt"),
                 "--input-shape", "2,4,6,5", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    kinds = {name: type(spec).type_name() for name, spec in case.graph.layers.items() if "3D" in type(spec).type_name()}
    assert kinds == {"0": "Conv3D", "2": "MaxPooling3D", "3": "Conv3D", "5": "AveragePooling3D"}
    assert case.graph.layers["5"].count_include_pad is True
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
