"""torch builders for BatchNormalization and LayerNormalization.

torch/nn/modules/batchnorm.py: `_BatchNorm.forward` calls F.batch_norm with the batch statistics
in train mode and the running ones in eval mode, and updates
running = (1 - momentum) * running + momentum * batch: the opposite convention to Keras', so
torch's momentum is 1 - the case's. The running variance is the unbiased batch variance (the
docstring: "the moving average of the variance is calculated via the unbiased estimator"); the
variance it normalises with is the biased one. Modules start in train mode: every builder sets
the mode the case asks for.

In train mode F.batch_norm refuses a batch with one value per channel (torch/nn/functional.py,
`_verify_batch_size`: "Expected more than 1 value per channel when training"), which Keras and
chainer normalise (to beta: the value minus its own mean is 0). There is no torch layer for it,
so such a batch is skipped with that reason (`one_value_per_channel`). Found by a generated case;
cases/discovered_batchnorm_one_value_per_channel.yaml shows it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer, HeldTensor, Unsupported, WeightBinding
from harness.backends.layout import AS_IS
from harness.backends.torch.registry import LAYER_BUILDERS as builders
from harness.reference.layers.normalization import positive_axis

NUM_BATCHES_UNUSED = ("a count of training batches, used only with momentum=None (a cumulative average, "
                      "torch/nn/modules/batchnorm.py `forward`); the adapter always sets momentum")

BATCH_NORM_BY_RANK = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d,
                      5: torch.nn.BatchNorm3d}


def channels_second(call, axis: int):
    """torch normalises along axis 1; move the case's feature axis there and back."""
    if axis == 1:
        return call
    return lambda x: call(x.movedim(axis, 1)).movedim(1, axis)


def affine_bindings(module, scale: bool, center: bool, kind: str) -> list[WeightBinding]:
    """torch has one switch for gamma and beta together: drop the one the case does not have
    (F.batch_norm and F.layer_norm accept either as None)."""
    bindings = []
    if scale:
        bindings.append(WeightBinding("gamma", module.weight, f"{kind}.weight", AS_IS))
    elif module.weight is not None:
        module.weight = None
    if center:
        bindings.append(WeightBinding("beta", module.bias, f"{kind}.bias", AS_IS))
    elif module.bias is not None:
        module.bias = None
    return bindings


@builders.register("BatchNormalization")
def batch_normalization(spec, ctx) -> BuiltLayer:
    rank = len(ctx.input_shapes[0]) + 1
    axis = positive_axis(spec.axis, rank, "BatchNormalization")
    module_class = BATCH_NORM_BY_RANK.get(rank)
    if module_class is None:
        raise Unsupported(f"torch's BatchNorm modules take inputs of rank 2 to 5, not {rank}")
    features = ctx.input_shapes[0][axis - 1]
    module = module_class(features, eps=spec.epsilon, momentum=1 - spec.momentum,
                          affine=spec.scale or spec.center, dtype=getattr(torch, ctx.dtype))
    module.train(ctx.training)
    kind = module_class.__name__
    bindings = [*affine_bindings(module, spec.scale, spec.center, kind),
                WeightBinding("moving_mean", module.running_mean, f"{kind}.running_mean", AS_IS),
                WeightBinding("moving_variance", module.running_var, f"{kind}.running_var", AS_IS)]
    held = [HeldTensor("num_batches_tracked", module.num_batches_tracked, NUM_BATCHES_UNUSED, must_equal=False)]
    settings = (f"eps={spec.epsilon}, momentum={1 - spec.momentum:g} (1 - {spec.momentum}), "
                f"{'train' if ctx.training else 'eval'} mode")
    moved = "" if axis == 1 else f", feature axis {axis} moved to 1 and back"
    if ctx.training and spec.moving_variance == "biased":
        return BuiltLayer(call=channels_second(one_value_per_channel(biased_update(module, spec.momentum)), axis),
                          bindings=bindings, implementation="composite", module=module, held=held,
                          detail="F.batch_norm on the batch statistics, then the running statistics "
                                 "updated from torch ops with the biased variance: torch's BatchNorm "
                                 "modules accumulate the unbiased one")
    call = one_value_per_channel(module) if ctx.training else module
    return BuiltLayer(call=channels_second(call, axis), bindings=bindings, module=module, held=held,
                      detail=f"torch.nn.{kind}({settings}){moved}")


def one_value_per_channel(call):
    """Train-mode batch normalisation, skipped where torch refuses the batch (module docstring)."""
    def checked(x):
        if x.numel() == x.shape[1]:
            raise Unsupported(
                f"torch's batch normalisation in train mode refuses a batch with one value per channel "
                f"(input {tuple(x.shape)}; torch/nn/functional.py _verify_batch_size: 'Expected more "
                "than 1 value per channel when training'); Keras and chainer normalise it to beta")
        return call(x)
    return checked


def biased_update(module, momentum: float):
    """Normalise with the batch statistics without letting torch touch the buffers, then
    running = momentum * running + (1 - momentum) * batch, with the biased batch variance."""
    def call(x):
        y = F.batch_norm(x, None, None, module.weight, module.bias, training=True, eps=module.eps)
        with torch.no_grad():
            axes = [a for a in range(x.dim()) if a != 1]
            module.running_mean.mul_(momentum).add_(x.mean(dim=axes), alpha=1 - momentum)
            module.running_var.mul_(momentum).add_(x.var(dim=axes, correction=0), alpha=1 - momentum)
        return y
    return call


@builders.register("LayerNormalization")
def layer_normalization(spec, ctx) -> BuiltLayer:
    """nn.LayerNorm normalises over the last len(normalized_shape) axes
    (torch/nn/modules/normalization.py): the case's axes are moved to the end, in order."""
    rank = len(ctx.input_shapes[0]) + 1
    axes = spec.positive_axes(rank)
    shape = tuple(ctx.input_shapes[0][a - 1] for a in axes)
    module = torch.nn.LayerNorm(shape, eps=spec.epsilon, elementwise_affine=spec.scale or spec.center,
                                bias=spec.center, dtype=getattr(torch, ctx.dtype))
    bindings = affine_bindings(module, spec.scale, spec.center, "LayerNorm")
    trailing = tuple(range(rank - len(axes), rank))
    if axes == trailing:
        call, moved = module, ""
    else:
        def call(x):
            return module(x.movedim(axes, trailing)).movedim(trailing, axes)
        moved = f", axes {list(axes)} moved to the end and back"
    return BuiltLayer(call=call, bindings=bindings, module=module,
                      detail=f"torch.nn.LayerNorm({list(shape)}, eps={spec.epsilon}){moved}")
