"""torch builders for the poolings (layout handling as in conv.py).

* Max: nn.MaxPool1d/2d pads with -inf itself (torch/nn/modules/pooling.py); asymmetric 'same'
  padding is F.pad with -inf first.
* Average: nn.AvgPool1d/2d divides by the whole window including padding unless
  count_include_pad=False, which gives TF's divisor (real cells only) for symmetric padding.
  For asymmetric 'same' padding there is no such switch on an F.pad'ed input, so the average of
  the zero-padded input is divided by the average of a zero-padded mask of ones (the share of
  real cells in each window): sum / k / (count / k) = sum / count.
* Global: torch has no global pooling layer (nn.AdaptiveAvgPool2d(1) keeps the spatial axes and
  needs a channels_first input); torch.mean / torch.amax over the spatial axes is the function.
  torch.amax splits the gradient between equal maxima, as TF (torch.max(dim) would pick one).
"""

from __future__ import annotations

import torch

from harness.adapters.base import BuiltLayer
from harness.adapters.torch_backend.conv import Layout
from harness.adapters.torch_backend.registry import LAYER_BUILDERS as builders
from harness.adapters.windowed import describe

MAX_POOL = {1: torch.nn.MaxPool1d, 2: torch.nn.MaxPool2d}
AVERAGE_POOL = {1: torch.nn.AvgPool1d, 2: torch.nn.AvgPool2d}


@builders.register("MaxPooling1D", "MaxPooling2D")
def max_pooling(spec, ctx) -> BuiltLayer:
    layout = Layout.of(spec, ctx, pad_value=-float("inf"))
    module = MAX_POOL[spec.rank](spec.window, stride=spec.stride, padding=layout.native_pads)
    implementation, detail = describe(f"torch.nn.{type(module).__name__} (pads with -inf)", layout)
    return BuiltLayer(call=lambda x: layout.leave(module(layout.enter(x))), implementation=implementation,
                      detail=detail, module=module)


@builders.register("AveragePooling1D", "AveragePooling2D")
def average_pooling(spec, ctx) -> BuiltLayer:
    layout = Layout.of(spec, ctx)
    module = AVERAGE_POOL[spec.rank](spec.window, stride=spec.stride, padding=layout.native_pads,
                                     count_include_pad=False)
    native = f"torch.nn.{type(module).__name__}(count_include_pad=False)"
    if layout.symmetric:
        implementation, detail = describe(native, layout)
        return BuiltLayer(call=lambda x: layout.leave(module(layout.enter(x))), implementation=implementation,
                          detail=detail, module=module)
    share = real_cell_share(module, layout, ctx)
    implementation, detail = describe(native + " divided by the same pooling of a padded mask of ones "
                                      "(TF divides by the real cells only)", layout)
    return BuiltLayer(call=lambda x: layout.leave(module(layout.enter(x)) / share),
                      implementation=implementation, detail=detail, module=module)


def real_cell_share(module, layout: Layout, ctx) -> torch.Tensor:
    """(1, 1, *out): the share of each window that lies inside the unpadded input."""
    spatial = ctx.input_shapes[0][:-1] if layout.data_format == "channels_last" else ctx.input_shapes[0][1:]
    ones = torch.ones((1, *spatial, 1) if layout.data_format == "channels_last" else (1, 1, *spatial),
                      dtype=getattr(torch, ctx.dtype))
    return module(layout.enter(ones))


def global_pooling(reduce, name: str):
    def build(spec, ctx) -> BuiltLayer:
        axes = spec.spatial_axes()
        return BuiltLayer(call=lambda x: reduce(x, dim=axes, keepdim=spec.keepdims),
                          detail=f"torch.{name}(dim={axes}, keepdim={spec.keepdims})")
    return build


builders.register("GlobalAveragePooling1D", "GlobalAveragePooling2D")(global_pooling(torch.mean, "mean"))
builders.register("GlobalMaxPooling1D", "GlobalMaxPooling2D")(global_pooling(torch.amax, "amax"))
