"""torch builder for the LeakyReLU layer (torch.nn.LeakyReLU, default slope 0.01)."""

from __future__ import annotations

import torch

from harness.backends.base import BuiltLayer
from harness.backends.torch.registry import LAYER_BUILDERS as builders


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    module = torch.nn.LeakyReLU(negative_slope=spec.negative_slope)
    return BuiltLayer(call=module, detail=f"torch.nn.LeakyReLU(negative_slope={spec.negative_slope})",
                      module=module)


def _native_relu(spec) -> tuple[torch.nn.Module, str] | None:
    """torch's own module for this ReLU setting, where one exists (torch/nn/modules/activation.py)."""
    slope, threshold, top = spec.negative_slope, spec.threshold, spec.max_value
    if slope == 0 and threshold == 0 and top is None:
        return torch.nn.ReLU(), "torch.nn.ReLU()"
    if slope == 0 and threshold == 0 and top == 6:
        return torch.nn.ReLU6(), "torch.nn.ReLU6()"
    if slope == 0 and threshold == 0:
        return torch.nn.Hardtanh(0.0, top), f"torch.nn.Hardtanh(0, {top})"
    if threshold == 0 and top is None:
        return torch.nn.LeakyReLU(slope), f"torch.nn.LeakyReLU({slope})"
    if slope == 0 and top is None:
        # Threshold(t, 0): x if x > t else 0, the same side of the kink as Keras' ReLU.
        return torch.nn.Threshold(threshold, 0.0), f"torch.nn.Threshold({threshold}, 0)"
    return None


@builders.register("ReLU")
def relu(spec, ctx) -> BuiltLayer:
    native = _native_relu(spec)
    if native is not None:
        module, detail = native
        return BuiltLayer(call=module, detail=detail, module=module)
    slope, threshold, top = spec.negative_slope, spec.threshold, spec.max_value

    def call(x):
        kept = x if top is None else torch.clamp(x, max=top)
        return torch.where(x > threshold, kept, slope * (x - threshold))

    return BuiltLayer(call=call, implementation="composite",
                      detail=f"composite: torch.where(x > {threshold}, "
                             f"{'x' if top is None else f'clamp(x, max={top})'}, {slope} * (x - {threshold}))"
                             "; no torch module has these settings together")
