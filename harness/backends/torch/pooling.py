"""torch builders for the poolings (layout handling as in conv.py).

* Max: nn.MaxPool1d/2d pads with -inf itself (torch/nn/modules/pooling.py) and takes
  ceil_mode, whose rule the reference follows (harness/reference/layers/windows.py `ceil_mode_extra`).
  Asymmetric padding, or more than half the window (aten/src/ATen/native/Pool.h
  `pooling_output_shape`: "pad should be at most half of effective kernel size"), is F.pad with
  -inf first and the whole padding (ceil_mode's cells included) explicit.
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

import numpy as np
import torch

from harness.backends.base import BuiltLayer
from harness.backends.torch.conv import Layout
from harness.backends.torch.registry import LAYER_BUILDERS as builders
from harness.backends.windowed import describe
from harness.reference.layers import windows as win

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
    module = MAX_POOL[spec.rank](spec.window, stride=spec.stride, padding=layout.native_pads, ceil_mode=ceil_mode)
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
