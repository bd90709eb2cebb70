"""chainer builders for Reshape, Permute, ZeroPadding1D/2D and Cropping1D/2D, on tensors in the
canonical layout (the same axes as Keras)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer
from harness.backends.chainer._import import F
from harness.backends.chainer.registry import LAYER_BUILDERS as builders


@builders.register("Reshape")
def reshape(spec, ctx) -> BuiltLayer:
    target = tuple(spec.target_shape)
    return BuiltLayer(call=lambda x: F.reshape(x, (x.shape[0], *target)),
                      detail=f"F.reshape(x, (batch, {', '.join(map(str, target))}))")


@builders.register("Permute")
def permute(spec, ctx) -> BuiltLayer:
    axes = (0, *spec.dims)
    return BuiltLayer(call=lambda x: F.transpose(x, axes), detail=f"F.transpose(x, {axes})")


@builders.register("ZeroPadding1D", "ZeroPadding2D")
def zero_padding(spec, ctx) -> BuiltLayer:
    """F.pad takes numpy.pad's pad_width: (before, after) per axis, first axis first."""
    widths = spec.pad_widths()
    return BuiltLayer(call=lambda x: F.pad(x, widths, "constant", constant_values=spec.value),
                      detail=f"F.pad(x, {widths}, 'constant', constant_values={spec.value})")


@builders.register("Cropping1D", "Cropping2D")
def cropping(spec, ctx) -> BuiltLayer:
    """Variable indexing (F.get_item; chainer has no cropping link); its backward scatters into zeros."""
    cut = tuple(slice(before, -after if after else None) for before, after in spec.crop_widths())
    return BuiltLayer(call=lambda x: x[cut], detail=f"F.get_item(x, {cut})")
