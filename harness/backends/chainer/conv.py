"""chainer's Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D and the transposed convolutions:
builders, the layout steps chainer's windowed layers share, the import translations of
L.Convolution2D and L.DepthwiseConvolution2D, and the Conv1D/Conv2D reproducer template.

chainer's convolutions and poolings take only (batch, channels, *spatial)
(chainer/links/connection/convolution_2d.py, convolution_nd.py; chainer/functions/pooling/).
The harness keeps every tensor between layers in the case's own layout, so for a channels_last
case each windowed layer moves the channel axis to position 1, runs, and moves it back.

Padding: chainer's `pad` is symmetric and it has no 'same' mode. Where TF's 'same' rule gives
two different sides (the odd cell goes at the end, harness/reference/layers/windows.py), or the case states
asymmetric amounts, the input is padded explicitly with F.pad and the layer runs with pad 0. Convolutions keep chainer's default
cover_all=False (floor output size, as Keras 'valid').
"""

from __future__ import annotations

from harness.backends.base import BuiltLayer, Unsupported, WeightBinding
from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.chainer.registry import REPRO_TEMPLATES as templates
from harness.backends.chainer.repro import activation as activation_source
from harness.backends.layout import (AS_IS, DEPTHWISE_TO_MULTIPLIER_IN, conv_kernel_to_out_in_spatial,
                                      depthwise_to_grouped, transposed_conv_kernel)
from harness.backends.windowed import TransposePlan, WindowLayout, describe
from harness.reference.layers import windows as win

CONV_LINKS = {1: L.Convolution1D, 2: L.Convolution2D, 3: L.Convolution3D}
"""chainer/links/connection/convolution_nd.py: Convolution1D and Convolution3D are
ConvolutionND(1 or 3, ...) with the Convolution2D argument order; W (out, in/groups, *ksize)."""


class Layout(WindowLayout):
    """chainer's axis move (F.moveaxis) and explicit pad (F.pad)."""

    MOVE_STEP = "between F.moveaxis to channels_first and back: chainer has no channels_last layers"
    PAD_STEP = ("after F.pad and pad 0: the sides differ (TF's 'same' puts the odd cell at the end; "
                "asymmetric or ceil_mode padding), chainer's pad is symmetric")

    def enter(self, x):
        if self.data_format == "channels_last":
            x = F.moveaxis(x, -1, 1)
        if not self.symmetric:
            x = F.pad(x, ((0, 0), (0, 0), *self.pads), mode="constant", constant_values=self.pad_value)
        return x

    def leave(self, y):
        return F.moveaxis(y, 1, -1) if self.data_format == "channels_last" else y


@builders.register("Conv1D", "Conv2D", "Conv3D")
def conv(spec, ctx) -> BuiltLayer:
    """L.Convolution1D/2D/3D store W (out, in/groups, *kernel): the canonical kernel is transposed."""
    _, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    layout = Layout.of(spec, ctx)
    link_class = CONV_LINKS[spec.rank]
    link = link_class(channels, spec.filters, spec.kernel, stride=spec.stride, pad=layout.native_pads,
                      nobias=not spec.use_bias, dilate=spec.dilation, groups=spec.groups)
    activation, kind, activation_detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("kernel", link.W, f"{link_class.__name__}.W", conv_kernel_to_out_in_spatial(spec.rank))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", link.b, f"{link_class.__name__}.b", AS_IS))
    implementation, detail = describe(f"chainer.links.{link_class.__name__}", layout, (kind, activation_detail))
    return BuiltLayer(call=lambda x: activation(layout.leave(link(layout.enter(x)))), bindings=bindings,
                      implementation=implementation, detail=detail, module=link)


@builders.register("DepthwiseConv2D")
def depthwise_conv(spec, ctx) -> BuiltLayer:
    """L.DepthwiseConvolution2D, W (multiplier, in, kh, kw) (chainer/links/connection/
    depthwise_convolution_2d.py `W_shape`; its function transposes W to (in, multiplier, ...)
    and runs a grouped convolution, so output channel c * multiplier + m, as in Keras). It has no
    dilation: a dilated one is L.Convolution2D(groups=in_channels, dilate), W (in * multiplier,
    1, kh, kw)."""
    _, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    layout = Layout.of(spec, ctx)
    dilated = max(spec.dilation) > 1
    if dilated:
        link = L.Convolution2D(channels, channels * spec.depth_multiplier, spec.kernel, stride=spec.stride,
                               pad=layout.native_pads, nobias=not spec.use_bias, dilate=spec.dilation, groups=channels)
        transform, native = depthwise_to_grouped(spec.depth_multiplier), "L.Convolution2D"
    else:
        link = L.DepthwiseConvolution2D(channels, spec.depth_multiplier, spec.kernel, stride=spec.stride,
                                        pad=layout.native_pads, nobias=not spec.use_bias)
        transform, native = DEPTHWISE_TO_MULTIPLIER_IN, "L.DepthwiseConvolution2D"
    activation, kind, activation_detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("kernel", link.W, f"{native}.W", transform)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", link.b, f"{native}.b", AS_IS))
    implementation, detail = describe(f"chainer.links.{native[2:]}", layout, (kind, activation_detail))
    if dilated:
        implementation = "composite"
        detail += "; L.Convolution2D(groups=in_channels, dilate): L.DepthwiseConvolution2D has no dilation"
    return BuiltLayer(call=lambda x: activation(layout.leave(link(layout.enter(x)))), bindings=bindings,
                      implementation=implementation, detail=detail, module=link)


@builders.register("SeparableConv2D")
def separable_conv(spec, ctx) -> BuiltLayer:
    """chainer has no separable convolution link: the depthwise link (as DepthwiseConv2D's
    builder makes it, without bias), then a 1x1 L.Convolution2D, held in one Chain
    (`<layer>/depthwise/W`, `<layer>/pointwise/W`, `<layer>/pointwise/b`)."""
    _, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    depthwise_built = depthwise_conv(spec.depthwise_part(), ctx)
    pointwise = L.Convolution2D(channels * spec.depth_multiplier, spec.filters, 1, nobias=not spec.use_bias)
    chain = chainer.Chain()
    with chain.init_scope():
        chain.depthwise = depthwise_built.module
        chain.pointwise = pointwise
    activation, kind, activation_detail = ctx.activation(spec.activation)
    (depthwise_binding,) = depthwise_built.bindings
    bindings = [WeightBinding("depthwise_kernel", depthwise_binding.native, f"depthwise.{depthwise_binding.native_name}",
                              depthwise_binding.transform),
                WeightBinding("pointwise_kernel", pointwise.W, "pointwise.W", conv_kernel_to_out_in_spatial(2))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", pointwise.b, "pointwise.b", AS_IS))
    layout = Layout(spec.data_format, ((0, 0), (0, 0)))

    def call(x):
        middle = depthwise_built.call(x)  # in the case's layout
        return activation(layout.leave(pointwise(layout.enter(middle))))

    then = f", then {activation_detail}" if kind == "composite" else ""
    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=chain,
                      detail=f"{depthwise_built.detail}, then a 1x1 chainer.links.Convolution2D{then}: chainer has "
                             "no separable convolution link")


TRANSPOSE_LINKS = {1: L.Deconvolution1D, 2: L.Deconvolution2D}


@builders.register("Conv1DTranspose", "Conv2DTranspose")
def conv_transpose(spec, ctx) -> BuiltLayer:
    """L.Deconvolution1D/2D, W (in, out/groups, *kernel) (chainer/links/connection/
    deconvolution_2d.py, deconvolution_nd.py `W_shape`): the canonical kernel (*kernel,
    out/groups, in) is transposed. pad crops both ends; `outsize` may add up to stride - 1 cells
    at the end (chainer/functions/connection/deconvolution_2d.py checks it against
    get_conv_outsize with and without cover_all), chainer's output_padding."""
    spatial, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    plan = TransposePlan.of(spec, spatial)
    if any(extra >= s for extra, s in zip(plan.output_padding, spec.stride)):
        raise Unsupported(f"output_padding {list(plan.output_padding)} reaches the stride {list(spec.stride)}: "
                          "chainer's outsize adds at most stride - 1 cells (torch allows up to the dilation)")
    layout = Layout(spec.data_format, tuple((0, 0) for _ in spatial))
    outsize = tuple(full - 2 * pad + extra for full, pad, extra
                    in zip(spec.full_sizes(spatial), plan.pads, plan.output_padding))
    link_class = TRANSPOSE_LINKS[spec.rank]
    link = link_class(channels, spec.filters, spec.kernel, stride=spec.stride, pad=plan.pads,
                      nobias=not spec.use_bias, outsize=outsize, dilate=spec.dilation, groups=spec.groups)
    activation, kind, activation_detail = ctx.activation(spec.activation)
    name = link_class.__name__
    bindings = [WeightBinding("kernel", link.W, f"{name}.W", transposed_conv_kernel(spec.rank))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", link.b, f"{name}.b", AS_IS))
    implementation, detail = describe(f"chainer.links.{name}", layout, (kind, activation_detail))
    if plan.sliced:
        implementation, detail = "composite", f"{detail}, {plan.steps()[0]}"
    window = plan.window(spec.rank)
    return BuiltLayer(call=lambda x: activation(layout.leave(link(layout.enter(x))[window])), bindings=bindings,
                      implementation=implementation, detail=detail, module=link)


def _pair(value) -> list[int]:
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


def _padding(pads: list[int], kernel: list[int], stride: list[int], dilate: list[int]):
    """chainer's symmetric pad as the case writes it: 'valid', 'same' where equal to it (stride 1,
    pad (k - 1) d / 2: Keras then runs natively), else the explicit amount per axis."""
    if all(p == 0 for p in pads):
        return "valid"
    if all(s == 1 for s in stride) and all((k - 1) * d == 2 * p for k, d, p in zip(kernel, dilate, pads)):
        return "same"
    return pads[0] if len(set(pads)) == 1 else pads


@imports.register(L.Convolution2D, produces=("Conv2D",))
def import_convolution(link, shape, reasons) -> list[dict]:  # chainer/links/connection/convolution_2d.py
    ks, ss, pads, ds = (_pair(link.ksize), _pair(link.stride), _pair(link.pad), _pair(link.dilate))
    return [{"type": "Conv2D", "filters": link.out_channels, "kernel_size": ks, "strides": ss,
             "padding": _padding(pads, ks, ss, ds), "dilation_rate": ds, "groups": link.groups,
             "use_bias": link.b is not None, "data_format": "channels_first"}]


@imports.register(L.DepthwiseConvolution2D, produces=("DepthwiseConv2D",))
def import_depthwise_convolution(link, shape, reasons) -> list[dict]:
    # chainer/links/connection/depthwise_convolution_2d.py
    ks, ss, pads = _pair(link.ksize), _pair(link.stride), _pair(link.pad)
    return [{"type": "DepthwiseConv2D", "kernel_size": ks, "depth_multiplier": link.channel_multiplier,
             "strides": ss, "padding": _padding(pads, ks, ss, [1, 1]), "use_bias": link.b is not None,
             "data_format": "channels_first"}]


@templates.register("Conv1D", "Conv2D")
def conv_template(spec, input_shapes, dtype, training) -> str:
    spatial, channels = win.split_channels(input_shapes[0], spec.data_format)
    pads = spec.paddings(spatial)
    if any(before != after for before, after in pads):
        raise Unsupported("'same' padding that TF makes uneven here (the builder pads explicitly)")
    link = f"Convolution{spec.rank}D"
    move_in, move_out = ("F.moveaxis(x, -1, 1)", "F.moveaxis({y}, 1, -1)") \
        if spec.data_format == "channels_last" else ("x", "{y}")
    bias = f', "{link}.b": conv.b' if spec.use_bias else ""
    return f'''
conv = L.{link}({channels}, {spec.filters}, {spec.kernel}, stride={spec.stride},
    pad={tuple(before for before, _ in pads)}, nobias={not spec.use_bias}, dilate={spec.dilation},
    groups={spec.groups})
for parameter in conv.params():
    parameter.array = parameter.array.astype(dtype)
params = {{"{link}.W": conv.W{bias}}}
layer = lambda x: {activation_source(spec.activation, move_out.format(y=f"conv({move_in})"))}
'''
