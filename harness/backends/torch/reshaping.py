"""torch's Reshape, Permute, ZeroPadding1D/2D and Cropping1D/2D: builders, and the import
translations of nn.ZeroPad1d/2d and nn.ConstantPad1d/2d.

Tensors arrive in the canonical layout (channels_last unless the layer's data_format says
otherwise), so these act on the same axes as Keras; only the padding order differs:
F.pad lists (before, after) pairs from the last axis backwards (torch/nn/functional.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer
from harness.backends.torch.registry import REGISTRY

builders = REGISTRY.layers
nn = torch.nn


@builders.register("Reshape")
def reshape(spec, ctx) -> BuiltLayer:
    target = tuple(spec.target_shape)
    return BuiltLayer(call=lambda x: x.reshape(x.shape[0], *target),
                      detail=f"torch.reshape(x, (batch, {', '.join(map(str, target))}))")


@builders.register("Permute")
def permute(spec, ctx) -> BuiltLayer:
    axes = (0, *spec.dims)
    return BuiltLayer(call=lambda x: x.permute(*axes), detail=f"Tensor.permute{axes}")


def torch_pad_order(widths: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """((before, after) per axis, first axis first) -> F.pad's flat list, last axis first."""
    return tuple(size for before_after in reversed(widths) for size in before_after)


@builders.register("ZeroPadding1D", "ZeroPadding2D")
def zero_padding(spec, ctx) -> BuiltLayer:
    pad = torch_pad_order(spec.pad_widths())
    return BuiltLayer(call=lambda x: F.pad(x, pad, value=spec.value), detail=f"F.pad(x, {pad}, value={spec.value})")


@builders.register("Cropping1D", "Cropping2D")
def cropping(spec, ctx) -> BuiltLayer:
    """Tensor slicing (torch has no cropping layer); its backward scatters into zeros."""
    cut = tuple(slice(before, -after if after else None) for before, after in spec.crop_widths())
    return BuiltLayer(call=lambda x: x[cut], detail=f"x[{', '.join(_slice_text(c) for c in cut)}]")


def _slice_text(cut: slice) -> str:
    return f"{cut.start or ''}:{cut.stop if cut.stop is not None else ''}"


@REGISTRY.imports.register(nn.ZeroPad1d, nn.ConstantPad1d, produces=("ZeroPadding1D",))
@REGISTRY.imports.register(nn.ZeroPad2d, nn.ConstantPad2d, produces=("ZeroPadding2D",))
def zero_pad_module(m, reasons) -> dict:  # torch/nn/modules/padding.py: (left, right[, top, bottom])
    """ZeroPad1d/2d and ConstantPad1d/2d (whose value the case's `value` keeps)."""
    pads = list(m.padding)
    if any(p < 0 for p in pads):
        reasons.append(f"padding={tuple(pads)}: negative padding crops; give it as a cropping")
    value = {"value": float(m.value)} if getattr(m, "value", 0) else {}
    if len(pads) == 4:
        left, right, top, bottom = pads
        return {"type": "ZeroPadding2D", "padding": [[top, bottom], [left, right]], "data_format": "channels_first",
                **value}
    return {"type": "ZeroPadding1D", "padding": pads, "data_format": "channels_first", **value}
