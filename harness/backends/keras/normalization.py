"""Keras builders for BatchNormalization and LayerNormalization.

keras/src/layers/normalization/batch_normalization.py (`call`): in training mode the batch mean
and variance come from ops.moments (the biased variance), and
moving = moving * momentum + batch * (1 - momentum), with that same biased variance: Keras'
convention is the canonical one. Keras layers run in inference mode unless called with
training=True, so every call passes the case's mode.
"""

from __future__ import annotations

import math

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.core import built
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS
from harness.reference.layers.normalization import positive_axis

ops = keras.ops


def affine_bindings(layer, scale: bool, center: bool, kind: str) -> list[WeightBinding]:
    bindings = []
    if scale:
        bindings.append(WeightBinding("gamma", layer.gamma, f"{kind}.gamma", AS_IS))
    if center:
        bindings.append(WeightBinding("beta", layer.beta, f"{kind}.beta", AS_IS))
    return bindings


@builders.register("BatchNormalization")
def batch_normalization(spec, ctx) -> BuiltLayer:
    axis = positive_axis(spec.axis, len(ctx.input_shapes[0]) + 1, "BatchNormalization")
    layer = built(keras.layers.BatchNormalization(
        axis=axis, momentum=spec.momentum, epsilon=spec.epsilon, center=spec.center, scale=spec.scale,
        dtype=ctx.dtype, name=ctx.layer_name), ctx)
    bindings = [*affine_bindings(layer, spec.scale, spec.center, "BatchNormalization"),
                WeightBinding("moving_mean", layer.moving_mean, "BatchNormalization.moving_mean", AS_IS),
                WeightBinding("moving_variance", layer.moving_variance,
                              "BatchNormalization.moving_variance", AS_IS)]
    settings = f"axis={axis}, momentum={spec.momentum}, epsilon={spec.epsilon}, training={ctx.training}"
    if ctx.training and spec.moving_variance == "unbiased":
        return BuiltLayer(call=unbiased_update(layer, axis, spec.momentum), bindings=bindings,
                          implementation="composite", module=layer,
                          detail="keras.ops.moments and ops.batch_normalization, then the moving "
                                 "statistics updated from keras.ops with the unbiased variance, n/(n-1) "
                                 "times the batch variance: keras.layers.BatchNormalization accumulates "
                                 "the biased one")
    return BuiltLayer(call=lambda x: layer(x, training=ctx.training), bindings=bindings, module=layer,
                      detail=f"keras.layers.BatchNormalization({settings})")


def unbiased_update(layer, axis: int, momentum: float):
    """What BatchNormalization.call does in training mode, with n/(n-1) on the moving variance."""
    def call(x):
        reduce = [a for a in range(len(x.shape)) if a != axis]
        count = math.prod(x.shape[a] for a in reduce)
        mean, variance = ops.moments(x, axes=reduce)
        y = ops.batch_normalization(x, mean, variance, axis=axis, offset=layer.beta, scale=layer.gamma,
                                    epsilon=layer.epsilon)
        layer.moving_mean.assign(layer.moving_mean * momentum + mean * (1 - momentum))
        layer.moving_variance.assign(layer.moving_variance * momentum
                                     + variance * (count / (count - 1)) * (1 - momentum))
        return y
    return call


@builders.register("LayerNormalization")
def layer_normalization(spec, ctx) -> BuiltLayer:
    """keras.layers.LayerNormalization sorts its axes and gives gamma/beta the input's sizes
    along them (keras/src/layers/normalization/layer_normalization.py, `build`): the canonical
    layout. Axes are passed non-negative so that sorting keeps the axis order."""
    axes = list(spec.positive_axes(len(ctx.input_shapes[0]) + 1))
    layer = built(keras.layers.LayerNormalization(axis=axes, epsilon=spec.epsilon, center=spec.center,
                                                  scale=spec.scale, dtype=ctx.dtype, name=ctx.layer_name), ctx)
    return BuiltLayer(call=layer, bindings=affine_bindings(layer, spec.scale, spec.center, "LayerNormalization"),
                      module=layer, detail=f"keras.layers.LayerNormalization(axis={axes}, epsilon={spec.epsilon})")
