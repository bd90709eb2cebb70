"""Reproducer templates' machinery: the driver and the activations' sources. The templates
themselves sit beside the builders in the family modules (core.py: Dense, conv.py: Conv1D/2D,
normalization.py: LayerNormalization), registered in REGISTRY.templates (`TEMPLATES` here).

A template returns the source that builds the layer the way this package's builder does (its
native form), defines `layer` (called on the input tensors) and `params` (native parameter name
-> tensor, as the builder's WeightBindings name them), and loads each from `W` (native name ->
array, the weights in torch's layout). `DRIVER` wraps it into the reproducer's `run_torch`
(harness/discovery/repro/). tests/test_discovery.py runs the templates (Dense, Conv2D,
LayerNormalization) against the float64 reference.
"""

from __future__ import annotations

from harness.backends.repro_sources import activation_source
from harness.backends.torch.registry import REGISTRY

TEMPLATES = REGISTRY.templates  # a part of this package's one registry (registry.py), not a second one

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
