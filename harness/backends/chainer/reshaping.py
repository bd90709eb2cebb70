"""chainer builders for Reshape, Permute, ZeroPadding1D/2D and Cropping1D/2D, on tensors in the
canonical layout (the same axes as Keras), and the import translation of the F.reshape node a
traced forward records (harness/backends/chainer/trace.py)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer
import math

from harness.backends.chainer._import import F, chainer
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
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


@imports.register(chainer.functions.array.reshape.Reshape, produces=("Flatten", "Reshape"))
def import_reshape(node, shapes, reasons) -> list[dict]:
    """chainer/functions/array/reshape.py: `node.shape` is the whole target, batch axis
    included, with at most one -1. `x.reshape(len(x), -1)` (how F.linear and most chains
    flatten) is the case's Flatten, the array as it is (channels_last: no permutation)."""
    batch, size = node.inputs[0].shape[0], math.prod(shapes[0])
    target = list(node.shape)
    if -1 in target:
        known = math.prod(part for part in target if part != -1)
        target[target.index(-1)] = batch * size // known if known else 0
    if target[0] != batch:
        reasons.append(f"reshapes ({batch}, ...) to {tuple(node.shape)}: it moves elements across the batch "
                       "axis (the trace runs a batch of 2)")
    rest = target[1:]
    if len(rest) == 1 and len(shapes[0]) > 1:
        return [{"type": "Flatten", "data_format": "channels_last"}]
    return [{"type": "Reshape", "target_shape": rest}]
