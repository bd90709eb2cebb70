"""torch's Dense, Flatten and Rescaling: builders, the import translations of nn.Linear and
nn.Flatten / torch.flatten, the Dense reproducer template. (Activation: activation_layers.py.)"""

from __future__ import annotations

import torch

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.layout import AS_IS, DENSE_KERNEL_TO_OUT_IN
from harness.backends.torch.registry import REGISTRY
from harness.backends.torch.repro import activation as activation_source

builders = REGISTRY.layers
nn = torch.nn


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


@REGISTRY.imports.register(nn.Linear, produces=("Dense",))
def linear(m: nn.Linear, reasons) -> dict:  # torch/nn/modules/linear.py
    return {"type": "Dense", "units": m.out_features, "use_bias": m.bias is not None}


@REGISTRY.imports.register(nn.Flatten, produces=("Flatten",))
def flatten_module(m: nn.Flatten, reasons) -> dict:  # torch/nn/modules/flatten.py
    if (m.start_dim, m.end_dim) != (1, -1):
        reasons.append(f"start_dim={m.start_dim}, end_dim={m.end_dim}: the case flattens every axis but the batch")
    return {"type": "Flatten", "data_format": "channels_last"}  # the array as it is: no permutation


@REGISTRY.imports.register(torch.flatten, "flatten", produces=("Flatten",))
def flatten_call(node, reasons) -> dict:  # torch.flatten(x, start_dim=0, end_dim=-1); Tensor.flatten alike
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
    if (start, end) != (1, -1):
        reasons.append(f"flatten(start_dim={start}, end_dim={end}); the case flattens every axis but the batch")
    return {"type": "Flatten", "data_format": "channels_last"}


@REGISTRY.templates.register("Dense")
def dense_template(spec, input_shapes, dtype, training) -> str:
    return f'''
linear = torch.nn.Linear({input_shapes[0][-1]}, {spec.units}, bias={spec.use_bias}, dtype=dtype)
params = {{"Linear.weight": linear.weight{', "Linear.bias": linear.bias' if spec.use_bias else ''}}}
layer = lambda x: {activation_source(spec.activation, "linear(x)")}
'''
