"""torch builder for the LeakyReLU layer (torch.nn.LeakyReLU, default slope 0.01)."""

from __future__ import annotations

import torch

from harness.adapters.base import BuiltLayer
from harness.adapters.torch_backend.registry import LAYER_BUILDERS as builders


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    module = torch.nn.LeakyReLU(negative_slope=spec.negative_slope)
    return BuiltLayer(call=module, detail=f"torch.nn.LeakyReLU(negative_slope={spec.negative_slope})",
                      module=module)
