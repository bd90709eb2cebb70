"""Reproducer templates: how each layer kind is written in plain torch, beside its builder.

A template returns the source that builds the layer the way this package's builder does (its
native form), defines `layer` (called on the input tensors) and `params` (native parameter name
-> tensor, as the builder's WeightBindings name them), and loads each from `W` (native name ->
array, the weights in torch's layout). `DRIVER` wraps it into the reproducer's `run_torch`
(harness/discovery/repro/). tests/test_discovery.py runs the templates (Dense, Conv2D,
LayerNormalization) against the float64 reference.
"""

from __future__ import annotations

from harness.backends.base import Unsupported
from harness.backends.torch.registry import REPRO_TEMPLATES
from harness.backends.repro_sources import activation_source

TEMPLATES = REPRO_TEMPLATES  # this package's one registry (registry.py)

DRIVER = '''
def run_{framework}(inputs, W, upstream):
    import torch
    import torch.nn.functional as F

    dtype = torch.{dtype}
{build}
    with torch.no_grad():
        for name, tensor in params.items():
            tensor.copy_(torch.from_numpy(W[name]))
    xs = [torch.from_numpy(a).requires_grad_(a.dtype.kind == "f") for a in inputs]
    y = layer(*xs)
    y.backward(torch.from_numpy(upstream))
    return (y.detach().numpy(), {{name: t.grad.numpy() for name, t in params.items()}},
            [x.grad.numpy() if x.grad is not None else None for x in xs])
'''

ACTIVATIONS = {
    "linear": "{x}", "relu": "torch.relu({x})", "tanh": "torch.tanh({x})", "sigmoid": "torch.sigmoid({x})",
    "selu": "F.selu({x})", "softsign": "F.softsign({x})",
    "elu": "F.elu({x}, alpha={spec.alpha!r})", "softplus": "F.softplus({x}, beta={spec.beta!r})",
    "leaky_relu": "F.leaky_relu({x}, {spec.negative_slope!r})", "softmax": "torch.softmax({x}, dim={spec.axis!r})",
    "gelu": "F.gelu({x}, approximate={spec.approximate!r})", "silu": "F.silu({x})", "swish": "F.silu({x})",
    "hard_sigmoid": "F.hardsigmoid({x})",
}


NATIVE_ONLY_WHEN = {"hard_sigmoid": lambda spec: abs(spec.slope - 1 / 6) < 1e-12 and spec.offset == 0.5, "swish": lambda spec: spec.beta == 1.0, "silu": lambda spec: spec.beta == 1.0}
"""Activations whose native function has a fixed option: other values are composite in the
builder and have no template here."""


def activation(spec, x: str) -> str:
    return activation_source("torch", ACTIVATIONS, NATIVE_ONLY_WHEN, spec, x)


@TEMPLATES.register("Dense")
def dense(spec, input_shapes, dtype, training) -> str:
    return f'''
linear = torch.nn.Linear({input_shapes[0][-1]}, {spec.units}, bias={spec.use_bias}, dtype=dtype)
params = {{"Linear.weight": linear.weight{', "Linear.bias": linear.bias' if spec.use_bias else ''}}}
layer = lambda x: {activation(spec.activation, "linear(x)")}
'''


@TEMPLATES.register("Conv1D", "Conv2D")
def conv(spec, input_shapes, dtype, training) -> str:
    from harness.reference.layers import windows as win

    _, channels = win.split_channels(input_shapes[0], spec.data_format)
    spatial, _ = win.split_channels(input_shapes[0], spec.data_format)
    pads = spec.paddings(spatial)
    if any(before != after for before, after in pads):
        raise Unsupported("'same' padding that TF makes uneven here (the builder pads explicitly)")
    module = f"Conv{spec.rank}d"
    move_in, move_out = ("torch.movedim(x, -1, 1)", "torch.movedim({y}, 1, -1)") \
        if spec.data_format == "channels_last" else ("x", "{y}")
    bias = f', "{module}.bias": conv.bias' if spec.use_bias else ""
    return f'''
conv = torch.nn.{module}({channels}, {spec.filters}, {spec.kernel}, stride={spec.stride},
    padding={tuple(before for before, _ in pads)}, dilation={spec.dilation}, groups={spec.groups},
    bias={spec.use_bias}, dtype=dtype)
params = {{"{module}.weight": conv.weight{bias}}}
layer = lambda x: {activation(spec.activation, move_out.format(y=f"conv({move_in})"))}
'''


@TEMPLATES.register("LayerNormalization")
def layer_normalization(spec, input_shapes, dtype, training) -> str:
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
