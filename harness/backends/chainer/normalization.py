"""chainer builders for BatchNormalization and LayerNormalization.

chainer/functions/normalization/batch_normalization.py (GeneralBatchNormalizationImpl.forward):
the batch variance is x.var (biased); the running statistics are updated in place as
running = decay * running + (1 - decay) * batch, with the variance times
adjust = m / max(m - 1, 1) (unbiased). decay is Keras' momentum. L.BatchNormalization keeps
them as plain arrays (avg_mean, avg_var), not Variables; train or test mode is
chainer.config.train, which the backend's session sets to the case's mode.
"""

from __future__ import annotations

import numpy as np

from harness.backends.base import BuiltLayer, HeldTensor, WeightBinding
from harness.backends.chainer._import import F, L
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS, Transform
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
