"""The torch importer takes a function of no arguments in place of a class (how torchvision
builds its named models: `resnet18(weights=None)`), refuses one that returns no nn.Module, and
translates `out += identity` (operator.iadd under torch.fx, torchvision's residual blocks) as
the Add it computes."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.common.errors import CaseError
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip

MODULE = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.conv = nn.Conv2d(width, width, 3, padding=1, bias=False)
            self.relu = nn.ReLU()

        def forward(self, x):
            out = self.conv(x)
            out += x
            return self.relu(out)

    def block():
        return Block(3)

    def not_a_module():
        return 3
""")


def test_import_function_and_inplace_residual(tmp_path):
    backend_or_skip("torch")
    import torch

    (tmp_path / "net.py").write_text(MODULE)
    namespace: dict = {}
    exec(compile(MODULE, str(tmp_path / "net.py"), "exec"), namespace)
    torch.manual_seed(3)
    net = namespace["block"]().eval()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    out = tmp_path / "net.yaml"
    assert main(["import", f"{tmp_path / 'net.py'}:block", "--weights", str(tmp_path / "net.pt"),
                 "--input-shape", "3,5,5", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert [type(spec).type_name() for spec in case.graph.layers.values()] == ["Conv2D", "Add", "Activation"]
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=1e-4, atol=1e-5)  # float32's forward default


def test_import_function_must_return_a_module(tmp_path):
    backend_or_skip("torch")
    from harness.backends.torch.importer import instantiate

    (tmp_path / "net.py").write_text(MODULE)
    with pytest.raises(CaseError, match="returned int, not an nn.Module"):
        instantiate(tmp_path / "net.py", "not_a_module")
