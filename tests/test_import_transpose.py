"""Transposed convolutions imported from torch: a DCGAN/U-Net-style decoder (ConvTranspose2d with
kernel 4, stride 2, padding 1; output_padding; padding 0 with kernel below the stride) and a
ConvTranspose1d become the case's Conv2DTranspose/Conv1DTranspose. torch's own model checks the
generated case's reference, then every backend runs the case."""

from __future__ import annotations

import textwrap

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

TORCH_DECODER = textwrap.dedent("""
    import torch.nn as nn

    class Decoder(nn.Sequential):
        def __init__(self):
            super().__init__(nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), nn.ReLU(),
                             nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), nn.Tanh(),
                             nn.ConvTranspose2d(3, 2, (1, 2), stride=(3, 2)),
                             nn.Flatten(), nn.Linear(2 * 34 * 40, 3))

    class Signal(nn.Sequential):
        def __init__(self):
            super().__init__(nn.ConvTranspose1d(2, 3, 3, stride=3, padding=1, output_padding=2), nn.Tanh(),
                             nn.Flatten(), nn.Linear(3 * 12, 2))
""")


def import_and_check(tmp_path, name: str, shape: str, expected_types: dict):
    import torch

    namespace: dict = {}
    exec(compile(TORCH_DECODER, str(tmp_path / "decoder.py"), "exec"), namespace)
    torch.manual_seed(21)
    net = namespace[name]()
    for module in net.modules():  # non-zero biases, so a misplaced cell shows
        if getattr(module, "bias", None) is not None:
            torch.nn.init.normal_(module.bias, std=0.3)
    torch.save(net.state_dict(), tmp_path / f"{name}.pt")
    out = tmp_path / f"{name}.yaml"
    assert main(["import", f"{tmp_path / 'decoder.py'}:{name}", "--weights", str(tmp_path / f"{name}.pt"),
                 "--input-shape", shape, "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    found = {layer: (type(spec).type_name(), spec.padding, spec.output_padding)
             for layer, spec in case.graph.layers.items() if "Transpose" in type(spec).type_name()}
    assert found == expected_types
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_import_torch_conv_transpose_2d(tmp_path):
    backend_or_skip("torch")
    (tmp_path / "decoder.py").write_text(TORCH_DECODER)
    import_and_check(tmp_path, "Decoder", "3,3,5", {
        "0": ("Conv2DTranspose", 1, None), "2": ("Conv2DTranspose", 1, 1), "4": ("Conv2DTranspose", "valid", 0)})


def test_import_torch_conv_transpose_1d(tmp_path):
    backend_or_skip("torch")
    (tmp_path / "decoder.py").write_text(TORCH_DECODER)
    import_and_check(tmp_path, "Signal", "2,4", {"0": ("Conv1DTranspose", 1, 2)})
