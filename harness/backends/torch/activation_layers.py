"""torch's activation layers, Activation, ReLU, LeakyReLU and PReLU: builders, the import translations of
torch's activation modules (torch/nn/modules/activation.py) and of torch.relu/tanh/sigmoid calls,
and the reader of nn.LeakyReLU's default slope (0.01)."""

from __future__ import annotations

from typing import Callable

import torch

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.layout import AS_IS
from harness.backends.torch.defaults.probing import at
from harness.backends.torch.import_options import tensor_arguments
from harness.backends.torch.registry import REGISTRY
from harness.defaults import probes
from harness.defaults.reading import Reading

builders = REGISTRY.layers
nn = torch.nn


@builders.register("Activation")
def activation(spec, ctx) -> BuiltLayer:
    function, kind, detail = ctx.activation(spec.activation)
    return BuiltLayer(call=function, implementation=kind, detail=detail)


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    module = torch.nn.LeakyReLU(negative_slope=spec.negative_slope)
    return BuiltLayer(call=module, detail=f"torch.nn.LeakyReLU(negative_slope={spec.negative_slope})",
                      module=module)


def _native_relu(spec) -> tuple[torch.nn.Module, str] | None:
    """torch's own module for this ReLU setting, where one exists (torch/nn/modules/activation.py)."""
    slope, threshold, top = spec.negative_slope, spec.threshold, spec.max_value
    if slope == 0 and threshold == 0 and top is None:
        return torch.nn.ReLU(), "torch.nn.ReLU()"
    if slope == 0 and threshold == 0 and top == 6:
        return torch.nn.ReLU6(), "torch.nn.ReLU6()"
    if slope == 0 and threshold == 0:
        return torch.nn.Hardtanh(0.0, top), f"torch.nn.Hardtanh(0, {top})"
    if threshold == 0 and top is None:
        return torch.nn.LeakyReLU(slope), f"torch.nn.LeakyReLU({slope})"
    if slope == 0 and top is None:
        # Threshold(t, 0): x if x > t else 0, the same side of the kink as Keras' ReLU.
        return torch.nn.Threshold(threshold, 0.0), f"torch.nn.Threshold({threshold}, 0)"
    return None


@builders.register("ReLU")
def relu(spec, ctx) -> BuiltLayer:
    native = _native_relu(spec)
    if native is not None:
        module, detail = native
        return BuiltLayer(call=module, detail=detail, module=module)
    slope, threshold, top = spec.negative_slope, spec.threshold, spec.max_value

    def call(x):
        kept = x if top is None else torch.clamp(x, max=top)
        return torch.where(x > threshold, kept, slope * (x - threshold))

    return BuiltLayer(call=call, implementation="composite",
                      detail=f"composite: torch.where(x > {threshold}, "
                             f"{'x' if top is None else f'clamp(x, max={top})'}, {slope} * (x - {threshold}))"
                             "; no torch module has these settings together")


def named(name: str) -> Callable:  # torch/nn/modules/activation.py
    return lambda m, reasons: {"type": "Activation", "activation": name}


REGISTRY.imports.register(nn.ReLU, produces=("Activation:relu",))(named("relu"))
REGISTRY.imports.register(nn.Hardswish, produces=("Activation:hard_swish",))(named("hard_swish"))
REGISTRY.imports.register(nn.Tanh, produces=("Activation:tanh",))(named("tanh"))
REGISTRY.imports.register(nn.Sigmoid, produces=("Activation:sigmoid",))(named("sigmoid"))


def along(name: str) -> Callable:  # torch/nn/modules/activation.py: Softmax, LogSoftmax
    def translate(m, reasons) -> dict:
        if m.dim is None:
            reasons.append("dim=None: torch picks the axis from the input's rank (a legacy rule); "
                           "give the module its dim")
            return {"type": "Activation", "activation": name}
        return {"type": "Activation", "activation": {"name": name, "axis": int(m.dim)}}
    return translate


REGISTRY.imports.register(nn.Softmax, produces=("Activation:softmax",))(along("softmax"))
REGISTRY.imports.register(nn.LogSoftmax, produces=("Activation:log_softmax",))(along("log_softmax"))


@REGISTRY.imports.register(nn.GELU, produces=("Activation:gelu",))
def gelu(m: nn.GELU, reasons) -> dict:
    return {"type": "Activation", "activation": {"name": "gelu", "approximate": m.approximate}}


@REGISTRY.imports.register(nn.ReLU6, produces=("ReLU",))
def relu6(m: nn.ReLU6, reasons) -> dict:  # torch/nn/modules/activation.py: Hardtanh(0, 6)
    return {"type": "ReLU", "max_value": 6.0}


@REGISTRY.imports.register(nn.Hardtanh, produces=("ReLU",))
def hardtanh(m: nn.Hardtanh, reasons) -> dict:
    if m.min_val != 0:
        reasons.append(f"min_val={m.min_val}: the case's ReLU clips below at 0 (a Hardtanh with "
                       "another lower bound has no layer here)")
    return {"type": "ReLU", "max_value": float(m.max_val)}


@REGISTRY.imports.register(nn.Threshold, produces=("ReLU",))
def threshold(m: nn.Threshold, reasons) -> dict:
    if m.value != 0 or m.threshold < 0:
        reasons.append(f"Threshold({m.threshold}, {m.value}): the case's ReLU maps x <= threshold "
                       "to 0 and needs threshold >= 0")
    return {"type": "ReLU", "threshold": float(m.threshold)}


@builders.register("PReLU")
def prelu(spec, ctx) -> BuiltLayer:
    """nn.PReLU holds one alpha per channel of axis 1, or one for all (torch/nn/modules/activation.py):
    the canonical alpha where the input is (batch, features); otherwise a composite holding alpha in
    the canonical shape."""
    (shape,) = ctx.input_shapes
    dtype = getattr(torch, ctx.dtype)
    if len(shape) == 1:
        module = nn.PReLU(num_parameters=1 if spec.shared_axes else shape[0], dtype=dtype)
        binding = WeightBinding("alpha", module.weight, "PReLU.weight", AS_IS)
        return BuiltLayer(call=module, bindings=[binding], detail=f"torch.nn.PReLU({module.num_parameters})",
                          module=module)
    module = nn.Module()
    module.alpha = nn.Parameter(torch.zeros(spec.parameter_shapes([shape])["alpha"], dtype=dtype))
    return BuiltLayer(call=lambda x: torch.where(x > 0, x, module.alpha * x), module=module,
                      bindings=[WeightBinding("alpha", module.alpha, "alpha", AS_IS)], implementation="composite",
                      detail="composite: torch.where(x > 0, x, alpha * x); nn.PReLU's alpha runs along axis 1 "
                             "only, the case's along the feature axes")


@REGISTRY.imports.register(nn.PReLU, produces=("PReLU",))
def prelu_module(m: nn.PReLU, reasons) -> dict:
    """One alpha per feature of a (batch, features) input, or one shared by all; an input of
    another rank fails when its weights are loaded (alpha's shape differs)."""
    return {"type": "PReLU", "shared_axes": [1] if m.num_parameters == 1 else []}


@REGISTRY.imports.register(nn.LeakyReLU, produces=("LeakyReLU",))
def leaky_relu_module(m: nn.LeakyReLU, reasons) -> dict:
    return {"type": "LeakyReLU", "negative_slope": float(m.negative_slope)}


def called(name: str) -> Callable:
    """`torch.relu(x)`, `F.relu(x)`, `x.relu()` (a method: fx names its target by the string)."""
    def translate(node, reasons) -> dict:
        if len(tensor_arguments(node)) != 1:
            reasons.append("not one tensor argument")
        return {"type": "Activation", "activation": name}
    return translate


REGISTRY.imports.register(torch.relu, torch.nn.functional.relu, "relu", produces=("Activation:relu",))(called("relu"))
REGISTRY.imports.register(torch.tanh, "tanh", produces=("Activation:tanh",))(called("tanh"))
REGISTRY.imports.register(torch.sigmoid, "sigmoid", produces=("Activation:sigmoid",))(called("sigmoid"))


@REGISTRY.defaults.register("LeakyReLU.negative_slope")
def leaky_relu_default(context):
    module = torch.nn.LeakyReLU()
    effective, probe = probes.leaky_relu_slope(float(at(module, -1.0)))
    return [Reading("torch.nn.LeakyReLU", "negative_slope", module.negative_slope, "attribute",
                    effective, probe=probe, used=True)]
