"""chainer builders for the LeakyReLU and ReLU layers: F.leaky_relu (chainer has no LeakyReLU
link), and the reader of LeakyReLU's default slope."""

from __future__ import annotations

from harness.backends.base import BuiltLayer
from harness.backends.chainer._import import F
from harness.backends.chainer.activations import read_leaky_relu
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.backends.chainer.registry import LAYER_BUILDERS as builders


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda x: F.leaky_relu(x, slope=spec.negative_slope),
                      detail=f"F.leaky_relu(slope={spec.negative_slope}): chainer has no LeakyReLU link")


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
