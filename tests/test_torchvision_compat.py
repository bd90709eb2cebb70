"""harness/backends/torch/torchvision_compat.py: torchvision's models import beside the CPU torch (skipped where
torchvision is not installed: `python tools/install.py --vision-models`)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import backend_or_skip


def test_torchvision_models_import_and_build():
    backend_or_skip("torch")
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed (python tools/install.py --vision-models)")
    import torch

    from harness.backends.torch.torchvision_compat import torchvision_models

    models = torchvision_models()
    assert torchvision_models() is models  # a second call imports nothing again
    net = models.squeezenet1_1(weights=None).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)
    assert hasattr(torch.ops.torchvision, "nms")  # registered by the extension or by the guard
