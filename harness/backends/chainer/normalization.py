"""chainer's BatchNormalization and LayerNormalization: builders, the import translation of
L.BatchNormalization, and the readers of chainer's defaults for both.

chainer/functions/normalization/batch_normalization.py (GeneralBatchNormalizationImpl.forward):
the batch variance is x.var (biased); the running statistics are updated in place as
running = decay * running + (1 - decay) * batch, with the variance times
adjust = m / max(m - 1, 1) (unbiased). decay is Keras' momentum. L.BatchNormalization keeps
them as plain arrays (avg_mean, avg_var), not Variables; train or test mode is
chainer.config.train, which the backend's session sets to the case's mode.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from harness.backends.base import BuiltLayer, HeldTensor, WeightBinding
from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.defaults.helpers import f64, keeps_rng
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS, Transform
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default
from harness.reference.layers.normalization import positive_axis


@builders.register("BatchNormalization")
def batch_normalization(spec, ctx) -> BuiltLayer:
    """L.BatchNormalization's `axis` names the axes it reduces over, every axis but the case's
    feature axis, so any feature axis is native."""
    rank = len(ctx.input_shapes[0]) + 1
    feature_axis = positive_axis(spec.axis, rank, "BatchNormalization")
    reduce = tuple(a for a in range(rank) if a != feature_axis)
    link = L.BatchNormalization(ctx.input_shapes[0][feature_axis - 1], decay=spec.momentum, eps=spec.epsilon,
                                use_gamma=spec.scale, use_beta=spec.center, axis=reduce)
    bindings = []
    if spec.scale:
        bindings.append(WeightBinding("gamma", link.gamma, "BatchNormalization.gamma", AS_IS))
    if spec.center:
        bindings.append(WeightBinding("beta", link.beta, "BatchNormalization.beta", AS_IS))
    bindings += [WeightBinding("moving_mean", link.avg_mean, "BatchNormalization.avg_mean", AS_IS),
                 WeightBinding("moving_variance", link.avg_var, "BatchNormalization.avg_var", AS_IS)]
    held = [HeldTensor("N", link.N, "a count of batches, used only in fine-tuning mode (`finetune=True`, a "
                                    "cumulative average: chainer/links/normalization/batch_normalization.py); "
                                    "the adapter never fine-tunes", must_equal=False)]
    settings = f"decay={spec.momentum}, eps={spec.epsilon}, axis={reduce}, train={ctx.training}"
    if ctx.training and spec.moving_variance == "biased":
        return BuiltLayer(call=biased_update(link, reduce, spec.momentum), bindings=bindings,
                          implementation="composite", module=link, held=held,
                          detail="F.batch_normalization on the batch statistics, then avg_mean and avg_var "
                                 "updated with the biased variance: L.BatchNormalization accumulates the "
                                 "unbiased one")
    return BuiltLayer(call=link, bindings=bindings, module=link, held=held,
                      detail=f"chainer.links.BatchNormalization({settings})")


def biased_update(link, reduce: tuple[int, ...], momentum: float):
    """Normalise with the batch statistics (no running arrays passed, so none updated), then
    avg = momentum * avg + (1 - momentum) * batch, with the biased batch variance, in place."""
    def call(x):
        size = link.avg_mean.shape
        gamma = link.gamma if link.gamma is not None else np.ones(size, link.avg_mean.dtype)
        beta = link.beta if link.beta is not None else np.zeros(size, link.avg_mean.dtype)
        y = F.batch_normalization(x, gamma, beta, eps=link.eps, axis=reduce)
        link.avg_mean *= momentum
        link.avg_mean += (1 - momentum) * x.array.mean(axis=reduce)
        link.avg_var *= momentum
        link.avg_var += (1 - momentum) * x.array.var(axis=reduce)
        return y
    return call


@builders.register("LayerNormalization")
def layer_normalization(spec, ctx) -> BuiltLayer:
    """F.layer_normalization takes (batch, units) only (chainer/functions/normalization/
    layer_normalization.py), so the case's axes are moved to the end and flattened into one,
    every other axis into the batch; gamma and beta are flattened the same way. L.LayerNormalization
    always has both: without center (or scale) the function is given zeros (or ones) instead."""
    rank = len(ctx.input_shapes[0]) + 1
    axes = spec.positive_axes(rank)
    shape = tuple(ctx.input_shapes[0][a - 1] for a in axes)
    units = int(np.prod(shape))
    link = L.LayerNormalization(units, eps=spec.epsilon)
    flat = AS_IS if len(shape) == 1 else Transform(
        f"reshaped {shape} -> ({units},)", lambda a: a.reshape(units), lambda a: a.reshape(shape))
    bindings, held = [], []
    if spec.scale:
        bindings.append(WeightBinding("gamma", link.gamma, "LayerNormalization.gamma", flat))
    else:
        held.append(HeldTensor("gamma", link.gamma, "unused: the case has no gamma (scale: false), the "
                                                    "function is given ones: must be ones"))
    if spec.center:
        bindings.append(WeightBinding("beta", link.beta, "LayerNormalization.beta", flat))
    else:
        held.append(HeldTensor("beta", link.beta, "unused: the case has no beta (center: false), the "
                                                  "function is given zeros: must be zeros"))
    trailing = tuple(range(rank - len(axes), rank))

    def call(x):
        moved = F.moveaxis(x, axes, trailing) if axes != trailing else x
        gamma = link.gamma if spec.scale else np.ones(units, x.dtype)
        beta = link.beta if spec.center else np.zeros(units, x.dtype)
        y = F.layer_normalization(F.reshape(moved, (-1, units)), gamma, beta, eps=spec.epsilon)
        y = F.reshape(y, moved.shape)
        return F.moveaxis(y, trailing, axes) if axes != trailing else y

    moved = "" if axes == trailing else f"axes {list(axes)} moved to the end, "
    return BuiltLayer(call=call, bindings=bindings, module=link, held=held,
                      detail=f"F.layer_normalization(eps={spec.epsilon}) on {moved}"
                             f"(batch * other axes, {units}) with L.LayerNormalization's gamma, beta")


@imports.register(L.BatchNormalization, produces=("BatchNormalization",))
def import_batch_normalization(link, shape, reasons) -> list[dict]:
    # chainer/links/normalization/batch_normalization.py
    return [{"type": "BatchNormalization", "axis": 1, "epsilon": link.eps, "momentum": link.decay,
             "moving_variance": "unbiased", "center": hasattr(link, "beta"), "scale": hasattr(link, "gamma")}]


# Defaults: attributes and signatures for the values, probes on fresh float64 links for what they
# mean. Sources: chainer/links/normalization/batch_normalization.py (decay, eps) and
# chainer/functions/normalization/batch_normalization.py (unbiased running variance),
# chainer/links/normalization/layer_normalization.py (1e-6) vs
# chainer/functions/normalization/layer_normalization.py (1e-5).

@cache
@keeps_rng
def batch_norm_probe() -> dict:
    with chainer.using_config("dtype", np.float64):
        link = L.BatchNormalization(1)
        fresh = L.BatchNormalization(1)
    with chainer.using_config("train", True):
        link(f64(probes.RUNNING_STATS_BATCH))
    fresh.avg_var[...] = 0.0
    with chainer.using_config("train", False):
        y = float(fresh(f64([[1.0]])).array[0, 0])
    return {"eps": link.eps, "decay": link.decay, "mean_after": float(link.avg_mean[0]),
            "var_after": float(link.avg_var[0]), "y": y}


@readers.register("BatchNormalization.epsilon")
def batch_norm_epsilon(context):
    found = batch_norm_probe()
    effective, meaning, probe = probes.batch_norm_epsilon(found["eps"], found["y"])
    return [Reading("chainer.links.BatchNormalization", "eps", found["eps"], "attribute", effective, meaning,
                    probe, used=True)]


@readers.register("BatchNormalization.momentum")
def batch_norm_momentum(context):
    found = batch_norm_probe()
    kept, meaning, probe = probes.running_mean_convention(found["decay"], found["mean_after"])
    return [Reading("chainer.links.BatchNormalization", "decay", found["decay"], "attribute", kept, meaning,
                    probe, used=True)]


@readers.register("BatchNormalization.moving_variance")
def batch_norm_moving_variance(context):
    found = batch_norm_probe()
    kept, _, _ = probes.running_mean_convention(found["decay"], found["mean_after"])
    estimator, meaning, probe = probes.running_variance_estimator(kept, found["var_after"])
    return [Reading.fixed("chainer.links.BatchNormalization", estimator, meaning, probe, used=True)]


@readers.register("LayerNormalization.epsilon")
@keeps_rng
def layer_norm_epsilon(context):
    with chainer.using_config("dtype", np.float64):
        link = L.LayerNormalization(2)
    found = []
    function_eps = signature_default(F.layer_normalization, "eps")
    for api, epsilon, read_by, run, used in (
            ("chainer.links.LayerNormalization", link.eps, "attribute", link, True),
            ("chainer.functions.layer_normalization", function_eps, "inspect.signature",
             lambda x: F.layer_normalization(x, np.ones(2), np.zeros(2)), False)):
        y = float(run(f64(probes.layer_norm_probe_input(epsilon))).array[0, 0])
        effective, meaning, probe = probes.layer_norm_epsilon(epsilon, y)
        found.append(Reading(api, "eps", epsilon, read_by, effective, meaning, probe, used=used))
    return found
