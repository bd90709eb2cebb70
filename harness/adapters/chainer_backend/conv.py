"""chainer builders for Conv1D and Conv2D, and the layout steps chainer's windowed layers share.

chainer's convolutions and poolings take only (batch, channels, *spatial)
(chainer/links/connection/convolution_2d.py, convolution_nd.py; chainer/functions/pooling/).
The harness keeps every tensor between layers in the case's own layout, so for a channels_last
case each windowed layer moves the channel axis to position 1, runs, and moves it back.

Padding: chainer's `pad` is symmetric and it has no 'same' mode. Where TF's 'same' rule gives
two different sides (the odd cell goes at the end, harness/layers/windows.py) the input is padded
explicitly with F.pad and the layer runs with pad 0. Convolutions keep chainer's default
cover_all=False (floor output size, as Keras 'valid').
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.adapters.base import BuiltLayer, WeightBinding
from harness.adapters.chainer_backend._import import F, L
from harness.adapters.chainer_backend.registry import LAYER_BUILDERS as builders
from harness.adapters.layout import AS_IS, conv_kernel_to_out_in_spatial
from harness.layers import windows as win

CONV_LINKS = {1: L.Convolution1D, 2: L.Convolution2D}


@dataclass
class Layout:
    """How a windowed layer's input reaches chainer's (batch, channels, *spatial), and back."""

    data_format: str
    pads: tuple[tuple[int, int], ...]
    pad_value: float = 0.0

    @property
    def symmetric(self) -> bool:
        return all(before == after for before, after in self.pads)

    @property
    def native_pad(self) -> tuple[int, ...]:
        """What chainer's own `pad=` gets: the pads if symmetric, else 0 (padded explicitly)."""
        return tuple(before for before, _ in self.pads) if self.symmetric else (0,) * len(self.pads)

    def enter(self, x):
        if self.data_format == "channels_last":
            x = F.moveaxis(x, -1, 1)
        if not self.symmetric:
            x = F.pad(x, ((0, 0), (0, 0), *self.pads), mode="constant", constant_values=self.pad_value)
        return x

    def leave(self, y):
        return F.moveaxis(y, 1, -1) if self.data_format == "channels_last" else y

    def steps(self) -> list[str]:
        """Why this is not the bare native layer; empty if it is. Stated without the sizes, so
        the support table lists each reason once (results.json has the layer's settings)."""
        reasons = []
        if self.data_format == "channels_last":
            reasons.append("between F.moveaxis to channels_first and back: chainer has no channels_last layers")
        if not self.symmetric:
            reasons.append("after F.pad with the odd cell at the end and pad 0: TF's 'same' pads unevenly "
                           "here, chainer's pad is symmetric")
        return reasons


def describe(native: str, layout: Layout, activation: tuple[str, str] = ("native", "")) -> tuple[str, str]:
    """(implementation, detail) for a windowed layer; the activation's (implementation, detail)
    is named only where it is itself a composite, the only case that needs a reason."""
    steps = layout.steps()
    kind, activation_detail = activation
    then = f", then {activation_detail}" if kind == "composite" else ""
    if not steps:
        return kind, native + then
    return "composite", native + " " + "; ".join(steps) + then


def layout_of(spec, ctx, pad_value: float = 0.0) -> Layout:
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    return Layout(spec.data_format, spec.paddings(spatial), pad_value)


@builders.register("Conv1D", "Conv2D")
def conv(spec, ctx) -> BuiltLayer:
    """L.Convolution1D/2D store W (out, in/groups, *kernel): the canonical kernel is transposed."""
    _, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    layout = layout_of(spec, ctx)
    link_class = CONV_LINKS[spec.rank]
    link = link_class(channels, spec.filters, spec.kernel, stride=spec.stride, pad=layout.native_pad,
                      nobias=not spec.use_bias, dilate=spec.dilation, groups=spec.groups)
    activation, kind, activation_detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("kernel", link.W, f"{link_class.__name__}.W", conv_kernel_to_out_in_spatial(spec.rank))]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", link.b, f"{link_class.__name__}.b", AS_IS))
    implementation, detail = describe(f"chainer.links.{link_class.__name__}", layout, (kind, activation_detail))
    return BuiltLayer(call=lambda x: activation(layout.leave(link(layout.enter(x)))), bindings=bindings,
                      implementation=implementation, detail=detail, module=link)
