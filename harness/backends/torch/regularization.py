"""torch's Dropout: builder and the import translation of nn.Dropout."""

from __future__ import annotations

import torch

from harness.backends.base import BuiltLayer, Unsupported
from harness.backends.torch.registry import REGISTRY

builders = REGISTRY.layers
from harness.reference.layers.regularization import TRAINING_UNSUPPORTED


@builders.register("Dropout")
def dropout(spec, ctx) -> BuiltLayer:
    """nn.Dropout is the identity in eval mode; modules start in train mode, so set it."""
    if ctx.training and spec.rate > 0:
        raise Unsupported(TRAINING_UNSUPPORTED)
    module = torch.nn.Dropout(p=spec.rate)
    module.train(ctx.training)
    return BuiltLayer(call=module, module=module,
                      detail=f"torch.nn.Dropout(p={spec.rate}), {'train' if ctx.training else 'eval'} mode")


@REGISTRY.imports.register(torch.nn.Dropout, produces=("Dropout",))
def dropout_module(m: torch.nn.Dropout, reasons) -> dict:  # torch/nn/modules/dropout.py
    return {"type": "Dropout", "rate": m.p}
