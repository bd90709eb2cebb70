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

from functools import cache

import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer, HeldTensor, Unsupported, WeightBinding
from harness.backends.layout import AS_IS
from harness.backends.torch.defaults.probing import F64, keeps_rng, tensor
from harness.backends.torch.registry import REGISTRY
from harness.defaults import probes
from harness.defaults.reading import Reading
from harness.reference.layers.normalization import positive_axis

builders = REGISTRY.layers
nn = torch.nn

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


# --- import translations (torch/nn/modules/batchnorm.py, normalization.py) -------------------

@REGISTRY.imports.register(nn.BatchNorm1d, nn.BatchNorm2d, produces=("BatchNormalization",))
def batch_norm_module(m, reasons) -> dict:  # torch/nn/modules/batchnorm.py
    if m.momentum is None:
        reasons.append("momentum=None (a cumulative average); the case's moving statistics use a momentum")
    if not m.track_running_stats:
        reasons.append("track_running_stats=False: batch statistics in eval mode too")
    return {"type": "BatchNormalization", "axis": 1, "epsilon": m.eps, "momentum": 1 - (m.momentum or 0.1),
            "moving_variance": "unbiased", "center": m.affine, "scale": m.affine}


@REGISTRY.imports.register(nn.LayerNorm, produces=("LayerNormalization",))
def layer_norm_module(m: nn.LayerNorm, reasons) -> dict:  # torch/nn/modules/normalization.py
    if m.elementwise_affine and m.bias is None:
        reasons.append("bias=False with elementwise_affine: the case's center goes with scale here")
    axes = list(range(-len(m.normalized_shape), 0))
    return {"type": "LayerNormalization", "axis": axes if len(axes) > 1 else axes[0], "epsilon": m.eps,
            "center": m.elementwise_affine, "scale": m.elementwise_affine}


# --- reproducer template ---------------------------------------------------------------------

@REGISTRY.templates.register("LayerNormalization")
def layer_normalization_template(spec, input_shapes, dtype, training) -> str:
    rank = len(input_shapes[0]) + 1
    axes = spec.positive_axes(rank)
    shape = tuple(input_shapes[0][a - 1] for a in axes)
    trailing = tuple(range(rank - len(axes), rank))
    named = [f'"LayerNorm.weight": norm.weight'] if spec.scale else []
    named += [f'"LayerNorm.bias": norm.bias'] if spec.center else []
    call = "norm(x)" if axes == trailing else f"norm(x.movedim({axes}, {trailing})).movedim({trailing}, {axes})"
    return f'''
norm = torch.nn.LayerNorm({shape}, eps={spec.epsilon!r}, elementwise_affine={spec.scale or spec.center},
    bias={spec.center}, dtype=dtype)
params = {{{", ".join(named)}}}
layer = lambda x: {call}
'''


# --- defaults, read from fresh modules and probes (torch/nn/modules/batchnorm.py: momentum weights
# the new batch, unbiased running variance; torch/nn/modules/normalization.py) ----------------

@cache
@keeps_rng
def batch_norm() -> dict:
    """A fresh BatchNorm1d: its attributes, one training update, and inference with variance 0."""
    module = torch.nn.BatchNorm1d(1, dtype=F64)
    eps, momentum = module.eps, module.momentum
    module.train()
    with torch.no_grad():
        module(tensor(probes.RUNNING_STATS_BATCH))
    mean_after, var_after = module.running_mean.item(), module.running_var.item()
    fresh = torch.nn.BatchNorm1d(1, dtype=F64).eval()
    with torch.no_grad():
        fresh.running_var.zero_()
        y = fresh(tensor([[1.0]])).item()
    return {"eps": eps, "momentum": momentum, "mean_after": mean_after, "var_after": var_after, "y": y}


@REGISTRY.defaults.register("BatchNormalization.epsilon")
def batch_norm_epsilon(context):
    found = batch_norm()
    effective, meaning, probe = probes.batch_norm_epsilon(found["eps"], found["y"])
    return [Reading("torch.nn.BatchNorm1d", "eps", found["eps"], "attribute", effective, meaning, probe, used=True)]


@REGISTRY.defaults.register("BatchNormalization.momentum")
def batch_norm_momentum(context):
    found = batch_norm()
    kept, meaning, probe = probes.running_mean_convention(found["momentum"], found["mean_after"])
    return [Reading("torch.nn.BatchNorm1d", "momentum", found["momentum"], "attribute", kept, meaning, probe,
                    used=True)]


@REGISTRY.defaults.register("BatchNormalization.moving_variance")
def batch_norm_moving_variance(context):
    found = batch_norm()
    kept, _, _ = probes.running_mean_convention(found["momentum"], found["mean_after"])
    estimator, meaning, probe = probes.running_variance_estimator(kept, found["var_after"])
    return [Reading.fixed("torch.nn.BatchNorm1d", estimator, meaning, probe, used=True)]


@REGISTRY.defaults.register("LayerNormalization.epsilon")
@keeps_rng
def layer_norm_epsilon(context):
    module = torch.nn.LayerNorm(2, dtype=F64)
    with torch.no_grad():
        y = module(tensor(probes.layer_norm_probe_input(module.eps)))[0, 0].item()
    effective, meaning, probe = probes.layer_norm_epsilon(module.eps, y)
    return [Reading("torch.nn.LayerNorm", "eps", module.eps, "attribute", effective, meaning, probe, used=True)]
