"""chainer builders for the poolings (layout handling as in conv.py).

* Max: F.max_pooling_nd pads with -inf itself, but defaults to cover_all=True, which rounds the
  output size up (chainer/functions/pooling/max_pooling_nd.py): always called with
  cover_all=False: cover_all rounds up without torch's last-window correction, so ceil_mode's
  cells, like asymmetric padding, are F.pad with -inf first.
* Average: F.average_pooling_2d divides by kh * kw, padding included
  (chainer/functions/pooling/average_pooling_2d.py, `coeff = 1 / (kh * kw)`);
  F.average_pooling_nd(pad_value=None) divides by the real cells only, TF's rule
  (average_pooling_nd.py), pad_value=0 by the whole window: the case's count_include_pad picks
  one. For asymmetric or ceil_mode padding the F.pad'ed input's average over the whole window
  (sum / k) is multiplied by k / count, the count of each window by the case's rule
  (AveragePoolingSpec.divisors).
  Its CPU backward divides the incoming gradient in place (average_pooling_nd.py,
  AveragePoolingNDGrad.forward_cpu: `numpy.divide(gy, func.width, out=gy)`): it raises "output
  array is read-only" where that gradient is a broadcast view (the backward of F.average, i.e. a
  global pooling after it) and would overwrite a gradient another node holds. The output is
  therefore multiplied by the constant 1.0, whose backward (`1.0 * gy`, basic_math.MulConstant)
  hands the pooling a new array of its own. Found by a generated case (tests/test_discovered.py).
* Global: F.average over the spatial axes (chainer has no global pooling link); the maximum
  is composed, see global_max_pooling.
"""

from __future__ import annotations

import numpy as np

from harness.backends.base import BuiltLayer
from harness.backends.chainer._import import F, chainer
from harness.backends.chainer.conv import Layout
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.windowed import describe
from harness.reference.layers import windows as win


@builders.register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
def max_pooling(spec, ctx) -> BuiltLayer:
    if max(spec.dilation) > 1:
        return dilated_max_pooling(spec, ctx)
    layout = Layout.of(spec, ctx, pad_value=-np.inf)

    def pool(x):
        return F.max_pooling_nd(x, spec.window, stride=spec.stride, pad=layout.native_pads, cover_all=False)

    implementation, detail = describe("F.max_pooling_nd(cover_all=False) (pads with -inf)", layout)
    return BuiltLayer(call=lambda x: layout.leave(pool(layout.enter(x))), implementation=implementation,
                      detail=detail)


def dilated_max_pooling(spec, ctx) -> BuiltLayer:
    """F.max_pooling_nd has no dilation (chainer/functions/pooling/max_pooling_nd.py: ksize,
    stride, pad, cover_all). Composed as the reference computes it: the input padded with -inf
    (every pad, ceil_mode's cells included), then per window offset in C order the strided
    slice of cells it meets, reduced by F.maximum one offset at a time. F.maximum's backward
    gives a tie to its first argument (chainer/functions/math/maximum.py, MaximumGrad:
    `cond = x1 >= x2`), so the earliest offset gets it, as a pooling's argmax; F.max would give
    every tied cell the whole gradient."""
    layout = Layout.of(spec, ctx, pad_value=-np.inf, explicit=True)
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    out = win.output_sizes(spatial, spec.window, spec.stride, spec.dilation, spec.paddings(spatial))
    # offset_cells indexes (batch, *spatial, channels); `enter` gives (batch, channels, *spatial).
    offsets = [(slice(None), slice(None), *cells[1:-1])
               for cells in win.offset_cells(spec.window, spec.stride, spec.dilation, out)]

    def pool(x):
        y = x[offsets[0]]
        for cells in offsets[1:]:
            y = F.maximum(y, x[cells])
        return y

    return BuiltLayer(call=lambda x: layout.leave(pool(layout.enter(x))), implementation="composite",
                      detail="F.pad with -inf, then F.maximum over each window offset's strided slice, first offset "
                             "first: F.max_pooling_nd has no dilation")


@builders.register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
def average_pooling(spec, ctx) -> BuiltLayer:
    layout = Layout.of(spec, ctx)
    pad_value = 0.0 if spec.count_include_pad else None

    def pool(x, pad=layout.native_pads, pad_value=pad_value):
        # * 1.0: the pooling's backward then divides a private copy of the gradient (module docstring).
        return F.average_pooling_nd(x, spec.window, stride=spec.stride, pad=pad, pad_value=pad_value) * 1.0

    if layout.symmetric:
        implementation, detail = describe(f"F.average_pooling_nd(pad_value={pad_value})", layout)
        return BuiltLayer(call=lambda x: layout.leave(pool(layout.enter(x))), implementation=implementation,
                          detail=detail)
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    # (1, 1, *out) channels_first: the pooling's output before `leave`.
    scale = np.moveaxis(win.window_count(spec.window) / spec.divisors(spatial), -1, 1).astype(ctx.dtype)
    implementation, detail = describe("F.average_pooling_nd(pad_value=0) (sum / k) times k / count (each "
                                      "window's count by the case's count_include_pad)", layout)
    return BuiltLayer(call=lambda x: layout.leave(pool(layout.enter(x), 0, 0.0) * scale),
                      implementation=implementation, detail=detail)


def global_pooling(reduce, name: str):
    def build(spec, ctx) -> BuiltLayer:
        axes = spec.spatial_axes()
        return BuiltLayer(call=lambda x: reduce(x, axis=axes, keepdims=spec.keepdims),
                          detail=f"F.{name}(axis={axes}, keepdims={spec.keepdims})")
    return build


builders.register("GlobalAveragePooling1D", "GlobalAveragePooling2D")(global_pooling(F.average, "average"))


@builders.register("GlobalMaxPooling1D", "GlobalMaxPooling2D")
def global_max_pooling(spec, ctx) -> BuiltLayer:
    """F.max's backward gives the whole gradient to every cell equal to the maximum
    (chainer/functions/math/minmax.py, `gy * cond`), so two tied cells get twice the gradient;
    TF and torch split it between them. A sum weighted by winners / their count is the maximum
    with the split gradient (the weights are constants)."""
    axes = spec.spatial_axes()

    def call(x):
        top = x.array.max(axis=axes, keepdims=True)
        winners = (x.array == top).astype(x.dtype)
        return F.sum(x * (winners / winners.sum(axis=axes, keepdims=True)), axis=axes, keepdims=spec.keepdims)

    return BuiltLayer(call=call, implementation="composite",
                      detail="F.sum(x * winners / count): F.max gives each tied maximum the whole gradient, "
                             "TF and torch split it")


@builders.register("AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveMaxPooling1D",
                   "AdaptiveMaxPooling2D")
def adaptive_pooling(spec, ctx) -> BuiltLayer:
    """chainer has no adaptive pooling: each output cell's window (the reference's rule,
    harness/reference/layers/adaptive.py) is sliced and reduced, and the cells stacked. The maximum is a
    sum weighted by a one-hot mask of the window's first maximum (a constant), so that its
    gradient goes to that cell alone, as torch's; F.max would give every tied cell all of it."""
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    cells = list(spec.windows_of(spatial))
    axes = tuple(range(1, 1 + spec.rank))
    average = spec.type.startswith("AdaptiveAverage")

    def reduce(window):
        if average:
            return F.mean(window, axis=axes)
        flat = F.reshape(window, (window.shape[0], -1, window.shape[-1]))
        first = flat.array.argmax(axis=1)
        mask = (np.arange(flat.shape[1])[None, :, None] == first[:, None, :]).astype(flat.dtype)
        return F.sum(flat * mask, axis=1)

    def call(x):
        if spec.data_format == "channels_first":
            x = F.moveaxis(x, 1, -1)
        every = slice(None)
        y = F.stack([reduce(x[(every, *cut, every)]) for _, cut in cells], axis=1)
        y = F.reshape(y, (y.shape[0], *spec.out, y.shape[-1]))
        return F.moveaxis(y, -1, 1) if spec.data_format == "channels_first" else y

    return BuiltLayer(call=call, implementation="composite",
                      detail="each output cell's window sliced and reduced (F.mean, or F.sum with a one-hot mask of "
                             "the first maximum), F.stack: chainer has no adaptive pooling")


# --- import translations: F.max_pooling_2d and F.average_pooling_2d in a traced forward ---------

def _pooling_padding(pads) -> int | list[int] | str:
    return "valid" if not any(pads) else (pads[0] if len(set(pads)) == 1 else list(pads))


@imports.register(chainer.functions.pooling.max_pooling_nd.MaxPoolingND, produces=("MaxPooling2D",))
def import_max_pooling(node, shapes, reasons) -> list[dict]:
    """chainer/functions/pooling/max_pooling_nd.py (F.max_pooling_2d builds it with ndim 2):
    padding with -inf, and cover_all=True by default, which rounds the output size up as torch's
    ceil_mode does. The two differ where a last window would start in the padding (torch drops
    it, harness/reference/layers/windows.py ceil_mode_extra; chainer keeps it): the trace's check
    of each layer's output shape against chainer's refuses that case."""
    if node.ndim != 2:
        reasons.append(f"{node.ndim}-D max pooling: only F.max_pooling_2d is translated")
    spec = {"type": "MaxPooling2D", "pool_size": list(node.ksize), "strides": list(node.stride),
            "padding": _pooling_padding(node.pad), "data_format": "channels_first"}
    return [{**spec, "ceil_mode": True} if node.cover_all else spec]


@imports.register(chainer.functions.pooling.average_pooling_2d.AveragePooling2D, produces=("AveragePooling2D",))
def import_average_pooling(node, shapes, reasons) -> list[dict]:
    """chainer/functions/pooling/average_pooling_2d.py: divides by kh * kw, padding included
    (`coeff = 1 / (kh * kw)`): count_include_pad. It has no cover_all."""
    return [{"type": "AveragePooling2D", "pool_size": [node.kh, node.kw], "strides": [node.sy, node.sx],
             "padding": _pooling_padding([node.ph, node.pw]), "count_include_pad": True,
             "data_format": "channels_first"}]
