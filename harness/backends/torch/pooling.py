"""torch's poolings: builders (layout handling as in conv.py) and the import translations of
nn.MaxPool*/AvgPool*/AdaptiveAvgPool*/AdaptiveMaxPool* and F.adaptive_*_pool*.

* Max: nn.MaxPool1d/2d pads with -inf itself (torch/nn/modules/pooling.py) and takes
  dilation and ceil_mode, whose rule the reference follows (harness/reference/layers/windows.py `ceil_mode_extra`).
  Asymmetric padding, or more than half the window (aten/src/ATen/native/Pool.h
  `pooling_output_shape`: "pad should be at most half of effective kernel size"; with dilation
  it is half the window, not its extent: MaxPool2d(3, padding=2, dilation=2) raises "pad should
  be smaller than or equal to half of kernel size", found by running it), is F.pad with -inf
  first and the whole padding (ceil_mode's cells included) explicit.
* Average: nn.AvgPool1d/2d with count_include_pad as the case says: False divides by the real
  cells only (TF's rule), True by the window clipped to the padded input (not ceil_mode's
  cells), the reference's two divisors. Where the padding cannot be native, the F.pad'ed input's
  average over the whole window (count_include_pad=True, padding 0: sum / k) is multiplied by
  k / count, the count of each window by the case's rule (AveragePoolingSpec.divisors).
* Global: torch has no global pooling layer (nn.AdaptiveAvgPool2d(1) keeps the spatial axes and
  needs a channels_first input); torch.mean / torch.amax over the spatial axes is the function.
  torch.amax splits the gradient between equal maxima, as TF (torch.max(dim) would pick one).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer
from harness.backends.torch import import_options as read
from harness.backends.torch.conv import Layout
from harness.backends.torch.registry import REGISTRY
from harness.backends.windowed import describe
from harness.reference.layers import windows as win

builders = REGISTRY.layers
nn = torch.nn

MAX_POOL = {1: torch.nn.MaxPool1d, 2: torch.nn.MaxPool2d, 3: torch.nn.MaxPool3d}
AVERAGE_POOL = {1: torch.nn.AvgPool1d, 2: torch.nn.AvgPool2d, 3: torch.nn.AvgPool3d}


def native_layout(spec, ctx, pad_value: float) -> tuple[Layout, bool]:
    """(layout, ceil_mode for the module): torch's own padding and ceil_mode where it can take
    the explicit pads (symmetric, at most half the window), else every pad through F.pad."""
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    explicit = spec.explicit_paddings(spatial)
    if all(before == after and before <= k // 2 for (before, after), k in zip(explicit, spec.window)):
        return Layout.of(spec, ctx, pad_value, pads=explicit), spec.ceil_mode
    return Layout.of(spec, ctx, pad_value, explicit=True), False


@builders.register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
def max_pooling(spec, ctx) -> BuiltLayer:
    layout, ceil_mode = native_layout(spec, ctx, -float("inf"))
    module = MAX_POOL[spec.rank](spec.window, stride=spec.stride, padding=layout.native_pads, dilation=spec.dilation,
                                 ceil_mode=ceil_mode)
    implementation, detail = describe(f"torch.nn.{type(module).__name__}(ceil_mode={ceil_mode}) (pads with -inf)",
                                      layout)
    return BuiltLayer(call=lambda x: layout.leave(module(layout.enter(x))), implementation=implementation,
                      detail=detail, module=module)


@builders.register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
def average_pooling(spec, ctx) -> BuiltLayer:
    layout, ceil_mode = native_layout(spec, ctx, 0.0)
    if layout.symmetric:
        module = AVERAGE_POOL[spec.rank](spec.window, stride=spec.stride, padding=layout.native_pads,
                                         ceil_mode=ceil_mode, count_include_pad=spec.count_include_pad)
        implementation, detail = describe(f"torch.nn.{type(module).__name__}(ceil_mode={ceil_mode}, "
                                          f"count_include_pad={spec.count_include_pad})", layout)
        return BuiltLayer(call=lambda x: layout.leave(module(layout.enter(x))), implementation=implementation,
                          detail=detail, module=module)
    module = AVERAGE_POOL[spec.rank](spec.window, stride=spec.stride, padding=0, count_include_pad=True)
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    # (1, 1, *out) channels_first: the module's output before `leave`.
    scale = torch.tensor(np.moveaxis(win.window_count(spec.window) / spec.divisors(spatial), -1, 1),
                         dtype=getattr(torch, ctx.dtype))
    implementation, detail = describe(f"torch.nn.{type(module).__name__} (sum / k) times k / count (each window's "
                                      "count by the case's count_include_pad)", layout)
    return BuiltLayer(call=lambda x: layout.leave(module(layout.enter(x)) * scale),
                      implementation=implementation, detail=detail, module=module)


def global_pooling(reduce, name: str):
    def build(spec, ctx) -> BuiltLayer:
        axes = spec.spatial_axes()
        return BuiltLayer(call=lambda x: reduce(x, dim=axes, keepdim=spec.keepdims),
                          detail=f"torch.{name}(dim={axes}, keepdim={spec.keepdims})")
    return build


builders.register("GlobalAveragePooling1D", "GlobalAveragePooling2D")(global_pooling(torch.mean, "mean"))
builders.register("GlobalMaxPooling1D", "GlobalMaxPooling2D")(global_pooling(torch.amax, "amax"))


ADAPTIVE = {"AdaptiveAveragePooling1D": torch.nn.AdaptiveAvgPool1d, "AdaptiveAveragePooling2D": torch.nn.AdaptiveAvgPool2d,
            "AdaptiveMaxPooling1D": torch.nn.AdaptiveMaxPool1d, "AdaptiveMaxPooling2D": torch.nn.AdaptiveMaxPool2d}


@builders.register(*ADAPTIVE)
def adaptive_pooling(spec, ctx) -> BuiltLayer:
    """torch's own adaptive poolings, whose window rule the reference states
    (aten/src/ATen/native/AdaptivePooling.h `start_index`, `end_index`)."""
    layout = Layout(spec.data_format, ((0, 0),) * spec.rank)
    module = ADAPTIVE[spec.type](spec.out)
    implementation, detail = describe(f"torch.nn.{type(module).__name__}({list(spec.out)})", layout)
    return BuiltLayer(call=lambda x: layout.leave(module(layout.enter(x))), implementation=implementation,
                      detail=detail, module=module)


# --- import translations (torch/nn/modules/pooling.py) ----------------------------------------

def windowed(kind: str) -> Callable:  # torch/nn/modules/pooling.py
    def translate(m, reasons) -> dict:
        if getattr(m, "divisor_override", None) is not None:
            reasons.append(f"divisor_override={m.divisor_override}: the case divides by the window's count")
        if getattr(m, "return_indices", False):
            reasons.append("return_indices=True: a second output the case has no layer for")
        rank = int(type(m).__name__[-2])  # MaxPool1d ... AvgPool3d
        spec = {"type": f"{kind}Pooling{rank}D", "pool_size": read.option(m.kernel_size),
                "strides": read.option(m.stride if m.stride is not None else m.kernel_size),
                "padding": read.padding(m, reasons), "data_format": "channels_first"}
        if m.ceil_mode:
            spec["ceil_mode"] = True
        if kind == "Max" and set(read.pair(m.dilation)) != {1}:  # AvgPool has no dilation
            spec["dilation_rate"] = read.option(m.dilation)
        if kind == "Average":  # torch's default counts the padding; TF's (the case's) does not
            spec["count_include_pad"] = bool(m.count_include_pad)
        return spec
    return translate


REGISTRY.imports.register(nn.MaxPool1d, produces=("MaxPooling1D",))(windowed("Max"))
REGISTRY.imports.register(nn.MaxPool2d, produces=("MaxPooling2D",))(windowed("Max"))
REGISTRY.imports.register(nn.MaxPool3d, produces=("MaxPooling3D",))(windowed("Max"))
REGISTRY.imports.register(nn.AvgPool1d, produces=("AveragePooling1D",))(windowed("Average"))
REGISTRY.imports.register(nn.AvgPool2d, produces=("AveragePooling2D",))(windowed("Average"))
REGISTRY.imports.register(nn.AvgPool3d, produces=("AveragePooling3D",))(windowed("Average"))


def adaptive_spec(kind: str, rank: int, output_size, reasons) -> dict:
    if any(size is None for size in read.pair(output_size)):
        reasons.append(f"output_size={output_size!r}: None (keep the input's size) has no case field; "
                       "give every size")
    return {"type": f"Adaptive{kind}Pooling{rank}D", "output_size": read.option(output_size),
            "data_format": "channels_first"}


def adaptive_module(kind: str) -> Callable:  # torch/nn/modules/pooling.py: AdaptiveAvgPool*, AdaptiveMaxPool*
    def translate(m, reasons) -> dict:
        rank = 1 if "1d" in type(m).__name__ else 2
        if getattr(m, "return_indices", False):
            reasons.append("return_indices=True: a second output the case has no layer for")
        return adaptive_spec(kind, rank, m.output_size, reasons)
    return translate


def adaptive_call(kind: str, rank: int) -> Callable:  # F.adaptive_avg_pool2d(x, output_size) and alike
    def translate(node, reasons) -> dict:
        size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
        if node.kwargs.get("return_indices") or (len(node.args) > 2 and node.args[2]):
            reasons.append("return_indices=True: a second output the case has no layer for")
        return adaptive_spec(kind, rank, size, reasons)
    return translate


REGISTRY.imports.register(nn.AdaptiveAvgPool1d, produces=("AdaptiveAveragePooling1D",))(adaptive_module("Average"))
REGISTRY.imports.register(nn.AdaptiveAvgPool2d, produces=("AdaptiveAveragePooling2D",))(adaptive_module("Average"))
REGISTRY.imports.register(nn.AdaptiveMaxPool1d, produces=("AdaptiveMaxPooling1D",))(adaptive_module("Max"))
REGISTRY.imports.register(nn.AdaptiveMaxPool2d, produces=("AdaptiveMaxPooling2D",))(adaptive_module("Max"))
REGISTRY.imports.register(F.adaptive_avg_pool1d, produces=("AdaptiveAveragePooling1D",))(adaptive_call("Average", 1))
REGISTRY.imports.register(F.adaptive_avg_pool2d, produces=("AdaptiveAveragePooling2D",))(adaptive_call("Average", 2))
REGISTRY.imports.register(F.adaptive_max_pool1d, produces=("AdaptiveMaxPooling1D",))(adaptive_call("Max", 1))
REGISTRY.imports.register(F.adaptive_max_pool2d, produces=("AdaptiveMaxPooling2D",))(adaptive_call("Max", 2))
