"""Keras' BatchNormalization and LayerNormalization: builders, import translations, the
LayerNormalization reproducer template and the readers of their defaults.

keras/src/layers/normalization/batch_normalization.py (`call`): in training mode the batch mean
and variance come from ops.moments (the biased variance), and
moving = moving * momentum + batch * (1 - momentum), with that same biased variance: Keras'
convention is the canonical one. Keras layers run in inference mode unless called with
training=True, so every call passes the case's mode.

Defaults: get_config() for the values, probes on fresh float64 layers for what they mean
(keras/src/layers/normalization/batch_normalization.py and layer_normalization.py).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.core import built
from harness.backends.keras.defaults import f64, numpy
from harness.backends.keras.registry import (DEFAULT_READERS as readers, IMPORT_TRANSLATIONS as imports,
    LAYER_BUILDERS as builders, REPRO_TEMPLATES as templates)
from harness.backends.keras.repro import shape_source
from harness.backends.keras.translation import by_config, register_by_config
from harness.backends.layout import AS_IS
from harness.defaults import probes
from harness.defaults.reading import Reading
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


@templates.register("LayerNormalization")
def layer_normalization_template(spec, input_shapes, dtype, training) -> str:
    axes = list(spec.positive_axes(len(input_shapes[0]) + 1))
    named = ['"LayerNormalization.gamma": layer.gamma'] if spec.scale else []
    named += ['"LayerNormalization.beta": layer.beta'] if spec.center else []
    return f'''
layer = keras.layers.LayerNormalization(axis={axes}, epsilon={spec.epsilon!r}, center={spec.center},
    scale={spec.scale}, dtype=dtype)
layer.build({shape_source(input_shapes)})
params = {{{", ".join(named)}}}
'''


# The harness's spec states what Keras leaves implicit: Keras' moving variance is the biased one
# (keras/src/layers/normalization/batch_normalization.py: ops.moments).
imports.register("BatchNormalization", produces=("BatchNormalization",))(
    by_config("BatchNormalization", settings={"moving_variance": "biased"}))
register_by_config("LayerNormalization")


@cache
def batch_norm() -> dict:
    layer = keras.layers.BatchNormalization(dtype="float64")
    layer.build((None, 1))
    config = layer.get_config()
    layer(f64(probes.RUNNING_STATS_BATCH), training=True)  # one update of the moving statistics
    mean_after, var_after = float(numpy(layer.moving_mean)[0]), float(numpy(layer.moving_variance)[0])
    fresh = keras.layers.BatchNormalization(dtype="float64")
    fresh.build((None, 1))
    fresh.moving_variance.assign(np.zeros(1))
    y = float(numpy(fresh(f64([[1.0]]), training=False))[0, 0])
    return {"epsilon": config["epsilon"], "momentum": config["momentum"], "mean_after": mean_after,
            "var_after": var_after, "y": y}


@readers.register("BatchNormalization.epsilon")
def batch_norm_epsilon(context):
    found = batch_norm()
    effective, meaning, probe = probes.batch_norm_epsilon(found["epsilon"], found["y"])
    return [Reading("keras.layers.BatchNormalization", "epsilon", found["epsilon"], "get_config()",
                    effective, meaning, probe, used=True)]


@readers.register("BatchNormalization.momentum")
def batch_norm_momentum(context):
    found = batch_norm()
    kept, meaning, probe = probes.running_mean_convention(found["momentum"], found["mean_after"])
    return [Reading("keras.layers.BatchNormalization", "momentum", found["momentum"], "get_config()",
                    kept, meaning, probe, used=True)]


@readers.register("BatchNormalization.moving_variance")
def batch_norm_moving_variance(context):
    found = batch_norm()
    kept, _, _ = probes.running_mean_convention(found["momentum"], found["mean_after"])
    estimator, meaning, probe = probes.running_variance_estimator(kept, found["var_after"])
    return [Reading.fixed("keras.layers.BatchNormalization", estimator, meaning, probe, used=True)]


@readers.register("LayerNormalization.epsilon")
def layer_norm_epsilon(context):
    layer = keras.layers.LayerNormalization(dtype="float64")
    layer.build((None, 2))
    epsilon = layer.get_config()["epsilon"]
    y = float(numpy(layer(f64(probes.layer_norm_probe_input(epsilon))))[0, 0])
    effective, meaning, probe = probes.layer_norm_epsilon(epsilon, y)
    return [Reading("keras.layers.LayerNormalization", "epsilon", epsilon, "get_config()", effective, meaning,
                    probe, used=True)]
