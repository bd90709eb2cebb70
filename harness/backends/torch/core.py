"""torch builders for Dense, Activation, Flatten and Rescaling."""

from __future__ import annotations

import torch

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.layout import AS_IS, DENSE_KERNEL_TO_OUT_IN
from harness.backends.torch.registry import LAYER_BUILDERS as builders


def combined(layer_kind: str, activation_kind: str) -> str:
    return "composite" if "composite" in (layer_kind, activation_kind) else "native"


@builders.register("Dense")
def dense(spec, ctx) -> BuiltLayer:
    """nn.Linear stores weight (out, in): the canonical (in, out) kernel is transposed."""
    linear = torch.nn.Linear(ctx.input_shapes[0][-1], spec.units, bias=spec.use_bias,
                             dtype=getattr(torch, ctx.dtype))
    activation, kind, detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("kernel", linear.weight, "Linear.weight", DENSE_KERNEL_TO_OUT_IN)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", linear.bias, "Linear.bias", AS_IS))
    return BuiltLayer(call=lambda x: activation(linear(x)), bindings=bindings,
                      implementation=combined("native", kind),
                      detail=f"torch.nn.Linear, then {detail}", module=linear)


@builders.register("Activation")
def activation(spec, ctx) -> BuiltLayer:
    function, kind, detail = ctx.activation(spec.activation)
    return BuiltLayer(call=function, implementation=kind, detail=detail)


@builders.register("Flatten")
def flatten(spec, ctx) -> BuiltLayer:
    if spec.data_format == "channels_last" or len(ctx.input_shapes[0]) < 2:
        return BuiltLayer(call=lambda x: torch.flatten(x, start_dim=1), detail="torch.flatten(start_dim=1)")
    # Keras' Flatten(data_format='channels_first') flattens in channels-last order
    # (keras/src/layers/reshaping/flatten.py); torch.flatten has no such option.
    return BuiltLayer(call=lambda x: torch.flatten(torch.movedim(x, 1, -1), start_dim=1),
                      implementation="composite",
                      detail="torch.movedim(x, 1, -1), then torch.flatten(start_dim=1): torch flattens "
                             "as laid out, Keras' channels_first Flatten moves the channels last first")


@builders.register("Rescaling")
def rescaling(spec, ctx) -> BuiltLayer:
    """torch has no rescaling module (torchvision's transforms act outside the model): tensor arithmetic."""
    return BuiltLayer(call=lambda x: x * spec.scale + spec.offset, implementation="composite",
                      detail=f"x * {spec.scale} + {spec.offset}: torch has no rescaling module")
