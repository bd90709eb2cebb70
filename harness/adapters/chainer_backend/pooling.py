"""chainer builders for the poolings (layout handling as in conv.py).

* Max: F.max_pooling_nd pads with -inf itself, but defaults to cover_all=True, which rounds the
  output size up (chainer/functions/pooling/max_pooling_nd.py): always called with
  cover_all=False. Asymmetric 'same' padding is F.pad with -inf first.
* Average: F.average_pooling_2d divides by kh * kw, padding included
  (chainer/functions/pooling/average_pooling_2d.py, `coeff = 1 / (kh * kw)`);
  F.average_pooling_nd(pad_value=None) divides by the real cells only, TF's rule
  (average_pooling_nd.py). For asymmetric 'same' padding the average of the F.pad'ed input is
  divided by the average of a padded mask of ones: sum / k / (count / k) = sum / count.
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

from harness.adapters.base import BuiltLayer
from harness.adapters.chainer_backend._import import F
from harness.adapters.chainer_backend.conv import Layout
from harness.adapters.chainer_backend.registry import LAYER_BUILDERS as builders
from harness.adapters.windowed import describe


@builders.register("MaxPooling1D", "MaxPooling2D")
def max_pooling(spec, ctx) -> BuiltLayer:
    layout = Layout.of(spec, ctx, pad_value=-np.inf)

    def pool(x):
        return F.max_pooling_nd(x, spec.window, stride=spec.stride, pad=layout.native_pads, cover_all=False)

    implementation, detail = describe("F.max_pooling_nd(cover_all=False) (pads with -inf)", layout)
    return BuiltLayer(call=lambda x: layout.leave(pool(layout.enter(x))), implementation=implementation,
                      detail=detail)


@builders.register("AveragePooling1D", "AveragePooling2D")
def average_pooling(spec, ctx) -> BuiltLayer:
    layout = Layout.of(spec, ctx)

    def pool(x):
        # * 1.0: the pooling's backward then divides a private copy of the gradient (module docstring).
        return F.average_pooling_nd(x, spec.window, stride=spec.stride, pad=layout.native_pads, pad_value=None) * 1.0

    native = "F.average_pooling_nd(pad_value=None)"
    if layout.symmetric:
        implementation, detail = describe(native, layout)
        return BuiltLayer(call=lambda x: layout.leave(pool(layout.enter(x))), implementation=implementation,
                          detail=detail)
    share = real_cell_share(pool, layout, ctx)
    implementation, detail = describe(native + " divided by the same pooling of a padded mask of ones "
                                      "(TF divides by the real cells only)", layout)
    return BuiltLayer(call=lambda x: layout.leave(pool(layout.enter(x)) / share),
                      implementation=implementation, detail=detail)


def real_cell_share(pool, layout: Layout, ctx) -> np.ndarray:
    """(1, 1, *out): the share of each window that lies inside the unpadded input."""
    shape = ctx.input_shapes[0]
    ones = np.ones((1, *shape) if layout.data_format == "channels_first" else (1, *shape[:-1], 1), dtype=ctx.dtype)
    if layout.data_format == "channels_first":
        ones = ones[:, :1]
    return pool(layout.enter(ones)).array


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
