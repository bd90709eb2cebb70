"""chainer builder for the LeakyReLU layer: F.leaky_relu (chainer has no LeakyReLU link)."""

from __future__ import annotations

from harness.adapters.base import BuiltLayer
from harness.adapters.chainer_backend._import import F
from harness.adapters.chainer_backend.registry import LAYER_BUILDERS as builders


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda x: F.leaky_relu(x, slope=spec.negative_slope),
                      detail=f"F.leaky_relu(slope={spec.negative_slope}): chainer has no LeakyReLU link")
