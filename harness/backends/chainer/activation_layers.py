"""chainer builders for the LeakyReLU, ReLU and PReLU layers: F.leaky_relu (chainer has no
LeakyReLU link), L.PReLU and its import translation, and the reader of LeakyReLU's default slope."""

from __future__ import annotations

import numpy as np

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.activations import read_leaky_relu
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda x: F.leaky_relu(x, slope=spec.negative_slope),
                      detail=f"F.leaky_relu(slope={spec.negative_slope}): chainer has no LeakyReLU link")


@builders.register("PReLU")
def prelu(spec, ctx) -> BuiltLayer:
    """L.PReLU's W has the shape x.shape[1:1+W.ndim] (chainer/functions/activation/prelu.py), the
    canonical alpha where no axis is shared; with shared axes, a composite holding alpha in the
    canonical shape (sizes 1), which F.prelu refuses."""
    (shape,) = ctx.input_shapes
    alpha_shape = spec.parameter_shapes([shape])["alpha"]
    if not spec.shared_axes:
        link = L.PReLU(shape=alpha_shape)
        return BuiltLayer(call=link, bindings=[WeightBinding("alpha", link.W, "PReLU.W", AS_IS)],
                          detail="chainer.links.PReLU", module=link)
    link = chainer.Link()
    with link.init_scope():
        link.alpha = chainer.Parameter(np.zeros(alpha_shape, dtype=ctx.dtype))
    return BuiltLayer(call=lambda x: F.where(x.array > 0, x, F.broadcast_to(link.alpha, x.shape) * x),
                      bindings=[WeightBinding("alpha", link.alpha, "alpha", AS_IS)], module=link,
                      implementation="composite",
                      detail="composite: F.where(x > 0, x, alpha * x); F.prelu takes no alpha shared along an axis")


@imports.register(L.PReLU, produces=("PReLU",))
def import_prelu(link, shape, reasons) -> list[dict]:  # chainer/links/activation/prelu.py
    if tuple(link.W.shape) != tuple(shape):
        reasons.append(f"W of shape {tuple(link.W.shape)} on an input of shape {tuple(shape)}: the case's PReLU "
                       "holds one alpha per input entry unless it shares axes, which F.prelu cannot")
    return [{"type": "PReLU"}]


@builders.register("ReLU")
def relu(spec, ctx) -> BuiltLayer:
    slope, threshold, top = spec.negative_slope, spec.threshold, spec.max_value
    if slope == 0 and threshold == 0 and top is None:
        return BuiltLayer(call=F.relu, detail="F.relu")
    if slope == 0 and threshold == 0:
        # chainer/functions/activation/clipped_relu.py: min(max(0, x), z).
        return BuiltLayer(call=lambda x: F.clipped_relu(x, z=top), detail=f"F.clipped_relu(z={top})")
    if threshold == 0 and top is None:
        return BuiltLayer(call=lambda x: F.leaky_relu(x, slope=slope), detail=f"F.leaky_relu(slope={slope})")

    def call(x):
        kept = x if top is None else F.minimum(x, x.xp.full(x.shape, top, dtype=x.dtype))
        below = slope * (x - threshold)
        return F.where(x.array > threshold, kept, below)

    return BuiltLayer(call=call, implementation="composite",
                      detail=f"composite: F.where(x > {threshold}, {kept_text(top)}, {slope} * (x - {threshold}))"
                             "; no chainer function has these settings together")


def kept_text(top) -> str:
    return "x" if top is None else f"F.minimum(x, {top})"


@readers.register("LeakyReLU.negative_slope")
def read_leaky_relu_layer(context):
    # chainer has no LeakyReLU link (chainer/links has none): the builder uses the function.
    (reading,) = read_leaky_relu(context)
    reading.api += " (no LeakyReLU link)"
    return [reading]
