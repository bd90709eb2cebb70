"""torch's convolutions, Conv1D/2D/3D, DepthwiseConv2D, SeparableConv2D and the transposed ones:
builders, the import translations of nn.Conv*d / nn.ConvTranspose*d, the Conv1D/Conv2D
reproducer template, and the layout steps torch's windowed layers share.

torch's convolutions and poolings take only (batch, channels, *spatial)
(torch/nn/modules/conv.py, pooling.py). The harness keeps every tensor between layers in the
case's own layout, so for a channels_last case each windowed layer moves the channel axis to
position 1, runs, and moves it back: Flatten and Dense then see the same tensor as in Keras,
and every intermediate is comparable with the reference.

Padding: torch's own `padding=p` is symmetric; TF's 'same' puts the odd cell at the end
(harness/reference/layers/windows.py), and a case may state asymmetric amounts. Where the two sides differ
the input is padded explicitly with
F.pad and the layer runs with padding 0 (torch's padding='same' raises for strides > 1:
"padding='same' is not supported for strided convolutions", torch/nn/modules/conv.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer, Unsupported, WeightBinding
from harness.backends.layout import AS_IS, conv_kernel_to_out_in_spatial, depthwise_to_grouped, transposed_conv_kernel
from harness.backends.torch import import_options as read
from harness.backends.torch.registry import REGISTRY
from harness.backends.torch.repro import activation as activation_source
from harness.backends.windowed import TransposePlan, WindowLayout, describe
from harness.reference.layers import windows as win

builders = REGISTRY.layers
nn = torch.nn

CONV_MODULES = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}


class Layout(WindowLayout):
    """torch's axis move (torch.movedim) and explicit pad (F.pad)."""

    MOVE_STEP = "between torch.movedim to channels_first and back: torch has no channels_last layers"
    PAD_STEP = ("after F.pad and padding 0: the sides differ (TF's 'same' puts the odd cell at the end; "
                "asymmetric or ceil_mode padding), torch's padding is symmetric")
    FORCED_PAD_STEP = ("after F.pad and padding 0: more than half the window, which torch's pooling refuses "
                       "(aten Pool.h)")

    def enter(self, x):
        if self.data_format == "channels_last":
            x = torch.movedim(x, -1, 1)
        if not self.symmetric:
            # F.pad lists the last axis first: (left, right, top, bottom).
            x = F.pad(x, [amount for pair in reversed(self.pads) for amount in pair], value=self.pad_value)
        return x

    def leave(self, y):
        return torch.movedim(y, 1, -1) if self.data_format == "channels_last" else y


@builders.register("Conv1D", "Conv2D", "Conv3D")
def conv(spec, ctx) -> BuiltLayer:
    """nn.Conv1d/Conv2d/Conv3d store weight (out, in/groups, *kernel): the canonical kernel is transposed."""
    _, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    layout = Layout.of(spec, ctx)
    module = CONV_MODULES[spec.rank](
        channels, spec.filters, spec.kernel, stride=spec.stride, padding=layout.native_pads,
        dilation=spec.dilation, groups=spec.groups, bias=spec.use_bias, dtype=getattr(torch, ctx.dtype))
    activation, kind, activation_detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("kernel", module.weight, f"{type(module).__name__}.weight",
                              conv_kernel_to_out_in_spatial(spec.rank))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", module.bias, f"{type(module).__name__}.bias", AS_IS))
    implementation, detail = describe(f"torch.nn.{type(module).__name__}", layout, (kind, activation_detail))
    return BuiltLayer(call=lambda x: activation(layout.leave(module(layout.enter(x)))), bindings=bindings,
                      implementation=implementation, detail=detail, module=module)


@builders.register("DepthwiseConv2D")
def depthwise_conv(spec, ctx) -> BuiltLayer:
    """nn.Conv2d(groups=in_channels, out_channels=in * depth_multiplier): torch's depthwise
    convolution (torch/nn/modules/conv.py: "groups == in_channels and out_channels == K *
    in_channels ... also known as a depthwise convolution"); weight (in * multiplier, 1, kh, kw)."""
    _, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    layout = Layout.of(spec, ctx)
    module = torch.nn.Conv2d(
        channels, channels * spec.depth_multiplier, spec.kernel, stride=spec.stride, padding=layout.native_pads,
        dilation=spec.dilation, groups=channels, bias=spec.use_bias, dtype=getattr(torch, ctx.dtype))
    activation, kind, activation_detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("kernel", module.weight, "Conv2d.weight", depthwise_to_grouped(spec.depth_multiplier))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", module.bias, "Conv2d.bias", AS_IS))
    implementation, detail = describe("torch.nn.Conv2d(groups=in_channels)", layout, (kind, activation_detail))
    return BuiltLayer(call=lambda x: activation(layout.leave(module(layout.enter(x)))), bindings=bindings,
                      implementation=implementation, detail=detail, module=module)


@builders.register("SeparableConv2D")
def separable_conv(spec, ctx) -> BuiltLayer:
    """torch has no separable convolution: nn.Conv2d(groups=in_channels) without bias, then a
    1x1 nn.Conv2d (held as an nn.Sequential: state_dict keys `<layer>.0.weight`, `<layer>.1.*`)."""
    _, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    layout = Layout.of(spec, ctx)
    dtype = getattr(torch, ctx.dtype)
    middle = channels * spec.depth_multiplier
    depthwise = torch.nn.Conv2d(channels, middle, spec.kernel, stride=spec.stride, padding=layout.native_pads,
                                dilation=spec.dilation, groups=channels, bias=False, dtype=dtype)
    pointwise = torch.nn.Conv2d(middle, spec.filters, 1, bias=spec.use_bias, dtype=dtype)
    module = torch.nn.Sequential(depthwise, pointwise)
    activation, kind, activation_detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("depthwise_kernel", depthwise.weight, "Sequential[0].weight",
                              depthwise_to_grouped(spec.depth_multiplier)),
                WeightBinding("pointwise_kernel", pointwise.weight, "Sequential[1].weight",
                              conv_kernel_to_out_in_spatial(2))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", pointwise.bias, "Sequential[1].bias", AS_IS))
    _, detail = describe("torch.nn.Conv2d(groups=in_channels) then a 1x1 torch.nn.Conv2d", layout,
                         (kind, activation_detail))
    return BuiltLayer(call=lambda x: activation(layout.leave(module(layout.enter(x)))), bindings=bindings,
                      implementation="composite", detail=detail + ": torch has no separable convolution",
                      module=module)


TRANSPOSE_MODULES = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d}


@builders.register("Conv1DTranspose", "Conv2DTranspose")
def conv_transpose(spec, ctx) -> BuiltLayer:
    """nn.ConvTranspose1d/2d, weight (in, out/groups, *kernel) (torch/nn/modules/conv.py): the
    canonical kernel (*kernel, out/groups, in) is transposed. Its padding and output_padding
    give the case's window (TransposePlan); TF's odd 'same' crop is sliced off after."""
    spatial, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    plan = TransposePlan.of(spec, spatial)
    layout = Layout(spec.data_format, tuple((0, 0) for _ in spatial))
    module = TRANSPOSE_MODULES[spec.rank](
        channels, spec.filters, spec.kernel, stride=spec.stride, padding=plan.pads,
        output_padding=plan.output_padding, groups=spec.groups, bias=spec.use_bias, dilation=spec.dilation,
        dtype=getattr(torch, ctx.dtype))
    activation, kind, activation_detail = ctx.activation(spec.activation)
    name = type(module).__name__
    bindings = [WeightBinding("kernel", module.weight, f"{name}.weight", transposed_conv_kernel(spec.rank))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", module.bias, f"{name}.bias", AS_IS))
    implementation, detail = describe(f"torch.nn.{name}", layout, (kind, activation_detail))
    if plan.sliced:
        implementation, detail = "composite", f"{detail}, {plan.steps()[0]}"
    window = plan.window(spec.rank)
    return BuiltLayer(call=lambda x: activation(layout.leave(module(layout.enter(x))[window])), bindings=bindings,
                      implementation=implementation, detail=detail, module=module)


# --- import translations (torch/nn/modules/conv.py) -------------------------------------------

def conv_module(m, reasons) -> dict:  # torch/nn/modules/conv.py
    if m.padding_mode != "zeros":
        reasons.append(f"padding_mode={m.padding_mode!r}; the case pads with zeros")
    rank = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(m)]
    if rank == 2 and m.groups == m.in_channels > 1 and m.out_channels % m.in_channels == 0:
        return depthwise_module(m, reasons)
    return {"type": f"Conv{rank}D", "filters": m.out_channels, "kernel_size": read.option(m.kernel_size),
            "strides": read.option(m.stride), "padding": read.padding(m, reasons),
            "dilation_rate": read.option(m.dilation), "groups": m.groups, "use_bias": m.bias is not None,
            "data_format": "channels_first"}


REGISTRY.imports.register(nn.Conv1d, produces=("Conv1D",))(conv_module)
REGISTRY.imports.register(nn.Conv2d, produces=("Conv2D", "DepthwiseConv2D"))(conv_module)
REGISTRY.imports.register(nn.Conv3d, produces=("Conv3D",))(conv_module)


def depthwise_module(m: nn.Conv2d, reasons) -> dict:
    """Conv2d(groups=in_channels, out=in * K): torch's depthwise convolution ("also known as a
    depthwise convolution", torch/nn/modules/conv.py), MobileNet's. The case's DepthwiseConv2D,
    whose kernel (kh, kw, in, K) the state_dict's weight (in * K, 1, kh, kw) becomes: output
    channel c * K + m in both. (As a grouped Conv2D it would run too, but Keras compiles grouped
    convolutions with XLA on CPU, and the case would not say what the model is.)"""
    return {"type": "DepthwiseConv2D", "kernel_size": read.option(m.kernel_size),
            "depth_multiplier": m.out_channels // m.in_channels, "strides": read.option(m.stride),
            "padding": read.padding(m, reasons), "dilation_rate": read.option(m.dilation),
            "use_bias": m.bias is not None, "data_format": "channels_first"}


@REGISTRY.imports.register(nn.ConvTranspose1d, produces=("Conv1DTranspose",))
@REGISTRY.imports.register(nn.ConvTranspose2d, produces=("Conv2DTranspose",))
def conv_transpose_module(m, reasons) -> dict:  # torch/nn/modules/conv.py ConvTranspose1d/2d
    """The case's Conv1DTranspose/Conv2DTranspose with torch's explicit padding and
    output_padding (both crop and extend the full output as torch does: harness/reference/layers/
    transpose.py). padding 0 is written 'valid' with the output_padding stated, the same window
    (F + output_padding cells), which Keras then runs natively."""
    if m.padding_mode != "zeros":
        reasons.append(f"padding_mode={m.padding_mode!r}; the case pads with zeros")
    rank = 1 if isinstance(m, nn.ConvTranspose1d) else 2
    pads, extra = read.pair(m.padding), read.pair(m.output_padding)
    padding_field = "valid" if not any(pads) else (pads[0] if len(set(pads)) == 1 else pads)
    layer = {"type": f"Conv{rank}DTranspose", "filters": m.out_channels, "kernel_size": read.option(m.kernel_size),
             "strides": read.option(m.stride), "padding": padding_field, "dilation_rate": read.option(m.dilation),
             "groups": m.groups, "use_bias": m.bias is not None, "data_format": "channels_first"}
    if any(extra) or padding_field == "valid":
        layer["output_padding"] = extra[0] if len(set(extra)) == 1 else extra
    return layer


# --- reproducer template ---------------------------------------------------------------------

@REGISTRY.templates.register("Conv1D", "Conv2D")
def conv_template(spec, input_shapes, dtype, training) -> str:
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
layer = lambda x: {activation_source(spec.activation, move_out.format(y=f"conv({move_in})"))}
'''
