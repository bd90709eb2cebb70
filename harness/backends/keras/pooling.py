"""Keras builders for the poolings: the native layers, whose meaning is the canonical one (and
their import translations: each Keras class by its config, at the end).

data_format is always passed: left out, Keras reads keras.config.image_data_format().
For channels_first Keras transposes to channels_last itself, because TF's pooling kernels
take only NHWC (keras/src/backend/tensorflow/nn.py `max_pool`, `average_pool`); average
pooling with 'same' divides by the real cells only (tf.nn.avg_pool).

Keras has neither explicit padding, nor ceil_mode, nor count_include_pad. Where the case asks
for one of them the input is padded with ops.pad (-inf for max; the explicit amounts and
ceil_mode's cells, AveragePoolingSpec.divisors) and pooled 'valid'; an average (sum / k over
the whole window) is then multiplied by k / count, each window's count by the case's rule.

3-D pooling: TF's CPU registers MaxPool3D/AvgPool3D for float32 (and bfloat16/half) only, found
by running it ("Could not find device for node: {{node AvgPool3D}} = AvgPool3D[T=DT_DOUBLE...").
Where the native layer fails for the case's dtype (`pooling_3d_failure`), the input is padded as
above and pooled 'valid' in two steps, which is the same: a maximum (or a sum) over a box is
the maximum (sum) over depth of the maxima (sums) over each (height, width) plane, so
Max/AveragePooling2D over (h, w), then Max/AveragePooling1D over the depth.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from harness.backends.base import BuiltLayer
from harness.backends.keras._import import keras, tf
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.keras.translation import register_by_config
from harness.reference.layers import windows as win

POOLING_LAYERS = {name: getattr(keras.layers, name) for name in (
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D")}
GLOBAL_POOLING_LAYERS = {name: getattr(keras.layers, name) for name in (
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D")}


@builders.register(*POOLING_LAYERS)
def pooling(spec, ctx) -> BuiltLayer:
    layer_class = POOLING_LAYERS[spec.type]
    if max(spec.dilation) > 1:
        return dilated_max_pooling(spec, ctx)
    if spec.rank == 3 and pooling_3d_failure(spec.type, ctx.dtype):
        return padded_pooling(spec, ctx, layer_class, separable=True)
    if keras_can_pad(spec, ctx):
        layer = layer_class(pool_size=spec.window, strides=spec.stride, padding=spec.padding,
                            data_format=spec.data_format, dtype=ctx.dtype, name=ctx.layer_name)
        return BuiltLayer(call=layer, module=layer,
                          detail=f"keras.layers.{spec.type}(pool_size={list(spec.window)}, strides="
                                 f"{list(spec.stride)}, padding='{spec.padding}', data_format='{spec.data_format}')")
    return padded_pooling(spec, ctx, layer_class)


def keras_can_pad(spec, ctx) -> bool:
    """Whether Keras' own 'valid'/'same' is the case's padding (no explicit amounts, no
    ceil_mode, and no padding counted in an average)."""
    if not isinstance(spec.padding, str) or spec.ceil_mode:
        return False
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    padded = any(before or after for before, after in spec.paddings(spatial))
    return not (getattr(spec, "count_include_pad", False) and padded)


@functools.cache
def pooling_3d_failure(kind: str, dtype: str) -> str | None:
    """None if keras' 3-D pooling runs in this TensorFlow for `dtype`, else TF's message."""
    try:
        POOLING_LAYERS[kind](1, dtype=dtype, data_format="channels_last")(np.zeros((1, 1, 1, 1, 1), dtype=dtype))
    except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
        # MaxPool3D: "Value for attr 'T' of double is not in the list of allowed values: half,
        # bfloat16, float"; AvgPool3D: "Could not find device for node: {{node AvgPool3D}} ...".
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        lines = [line.strip() for line in message.splitlines()
                 if "allowed values" in line or "Could not find device" in line]
        return (lines or ["(no message)"])[0].split(" = ")[0]
    return None


def separable_pooling_3d(spec, ctx, kind: str, spatial: tuple[int, ...]):
    """A 'valid' 3-D pooling of the padded input (spatial sizes `spatial`, channels_last) as a
    2-D pooling over each (height, width) plane, then a 1-D pooling over the depth."""
    ops = keras.ops
    (_, depth_stride, *plane_stride), (depth_window, *plane_window) = (0, *spec.stride), spec.window
    plane = getattr(keras.layers, f"{kind}Pooling2D")(pool_size=plane_window, strides=plane_stride, padding="valid",
                                                      data_format="channels_last", dtype=ctx.dtype)
    along_depth = getattr(keras.layers, f"{kind}Pooling1D")(pool_size=depth_window, strides=depth_stride,
                                                            padding="valid", data_format="channels_last", dtype=ctx.dtype)
    depth, height, width = spatial
    out = [(n - k) // s + 1 for n, k, s in zip(spatial, spec.window, spec.stride)]

    def call(x):
        channels = x.shape[-1]
        y = plane(ops.reshape(x, (-1, height, width, channels)))  # (batch * depth, h', w', c)
        y = along_depth(ops.reshape(y, (-1, depth, out[1] * out[2] * channels)))
        return ops.reshape(y, (-1, *out, channels))

    return call


def padded_pooling(spec, ctx, layer_class, separable: bool = False) -> BuiltLayer:
    ops = keras.ops
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    amounts = [list(pair) for pair in spec.paddings(spatial)]
    widths = [[0, 0], *amounts, [0, 0]] if spec.data_format == "channels_last" else [[0, 0], [0, 0], *amounts]
    average = spec.type.startswith("Average")
    value = 0.0 if average else -np.inf
    if separable:
        padded = tuple(n + before + after for n, (before, after) in zip(spatial, spec.paddings(spatial)))
        layer = channels_last_call(separable_pooling_3d(spec, ctx, spec.type[:-len("Pooling3D")], padded),
                                   spec.data_format)
    else:
        layer = layer_class(pool_size=spec.window, strides=spec.stride, padding="valid",
                            data_format=spec.data_format, dtype=ctx.dtype, name=ctx.layer_name)
    scale = None
    if average:
        scale = (win.window_count(spec.window) / spec.divisors(spatial)).astype(ctx.dtype)  # (1, *out, 1)
        if spec.data_format == "channels_first":
            scale = np.moveaxis(scale, -1, 1)

    def call(x):
        y = layer(ops.pad(x, widths, constant_values=value))
        # ops.multiply, not `*`: a torch tensor times a NumPy array asks NumPy (keras-torch).
        return ops.multiply(y, ops.convert_to_tensor(scale)) if average else y

    then = " times k / count (each window's count by the case's count_include_pad)" if average else ""
    if separable:
        kind = spec.type[:-len("Pooling3D")]
        return BuiltLayer(call=call, implementation="composite",
                          detail=f"keras.layers.{kind}Pooling2D over each (height, width) plane, then "
                                 f"{kind}Pooling1D over the depth, 'valid' after ops.pad with "
                                 f"{'zeros' if average else '-inf'}{then}: TF's CPU has no {ctx.dtype} "
                                 f"{spec.type} kernel ({pooling_3d_failure(spec.type, ctx.dtype)})")
    return BuiltLayer(call=call, module=layer, implementation="composite",
                      detail=f"keras.layers.{spec.type}(padding='valid') after ops.pad with "
                             f"{'zeros' if average else '-inf'}{then}: Keras has no explicit padding, "
                             "ceil_mode or count_include_pad")


def dilated_max_pooling(spec, ctx) -> BuiltLayer:
    """Keras' MaxPooling has no dilation (keras/src/layers/pooling/base_pooling.py takes
    pool_size, strides, padding, data_format). Composed as the reference computes it: the input
    padded with -inf (every pad: 'same' or explicit amounts and ceil_mode's cells), then per
    window offset in C order the strided slice of cells it meets, reduced by ops.maximum one
    offset at a time. Why a chain and not ops.max over stacked slices: TF's gradient of
    Maximum gives a tie to its first argument (tensorflow/python/ops/math_grad.py
    `_MaximumGrad`: `greater_equal(x, y)`), so the earliest offset gets it, as a pooling's
    argmax; reduce_max would split it between the tied cells."""
    ops = keras.ops
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    pads = spec.paddings(spatial)
    out = win.output_sizes(spatial, spec.window, spec.stride, spec.dilation, pads)
    offsets = list(win.offset_cells(spec.window, spec.stride, spec.dilation, out))
    rank = spec.rank

    def call(x):
        if spec.data_format == "channels_first":
            x = ops.transpose(x, (0, *range(2, rank + 2), 1))
        x = ops.pad(x, [[0, 0], *[list(pair) for pair in pads], [0, 0]], constant_values=-np.inf)
        y = x[offsets[0]]
        for cells in offsets[1:]:
            y = ops.maximum(y, x[cells])
        return ops.transpose(y, (0, rank + 1, *range(1, rank + 1))) if spec.data_format == "channels_first" else y

    return BuiltLayer(call=call, implementation="composite",
                      detail="ops.pad with -inf, then ops.maximum over each window offset's strided slice, first "
                             "offset first: Keras' MaxPooling has no dilation")


@builders.register(*GLOBAL_POOLING_LAYERS)
def global_pooling(spec, ctx) -> BuiltLayer:
    layer = GLOBAL_POOLING_LAYERS[spec.type](data_format=spec.data_format, keepdims=spec.keepdims,
                                             dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, module=layer,
                      detail=f"keras.layers.{spec.type}(data_format='{spec.data_format}', keepdims={spec.keepdims})")


ADAPTIVE_LAYERS = {name: getattr(keras.layers, name) for name in (
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D")}


@builders.register(*ADAPTIVE_LAYERS)
def adaptive_pooling(spec, ctx) -> BuiltLayer:
    """Keras 3's adaptive average pooling: torch's window rule (keras/src/backend/tensorflow/nn.py
    `_compute_static_gather_indices`). Its adaptive max pooling's gradient is NaN for some
    shapes on this TensorFlow (found by running it: output 1 from a 4x4 input, float64), so the
    maximum is composed as chainer's is: each window sliced, its first maximum picked by a
    one-hot mask (ops.argmax, a constant under ops.stop_gradient), the cells stacked."""
    if spec.type.startswith("AdaptiveAverage"):
        layer = ADAPTIVE_LAYERS[spec.type](spec.out, data_format=spec.data_format, dtype=ctx.dtype,
                                           name=ctx.layer_name)
        return BuiltLayer(call=layer, module=layer,
                          detail=f"keras.layers.{spec.type}({list(spec.out)}, data_format='{spec.data_format}')")
    ops = keras.ops
    spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
    cells = list(spec.windows_of(spatial))
    rank = spec.rank

    def first_maximum(window):
        flat = ops.reshape(window, (ops.shape(window)[0], -1, ops.shape(window)[-1]))
        mask = ops.stop_gradient(ops.one_hot(ops.argmax(flat, axis=1), flat.shape[1], axis=1, dtype=flat.dtype))
        return ops.sum(flat * mask, axis=1)

    def call(x):
        if spec.data_format == "channels_first":
            x = ops.transpose(x, (0, *range(2, rank + 2), 1))
        every = slice(None)
        y = ops.stack([first_maximum(x[(every, *cut, every)]) for _, cut in cells], axis=1)
        y = ops.reshape(y, (-1, *spec.out, ops.shape(y)[-1]))
        return ops.transpose(y, (0, rank + 1, *range(1, rank + 1))) if spec.data_format == "channels_first" else y

    return BuiltLayer(call=call, implementation="composite",
                      detail="each output cell's window sliced, its first maximum picked by a one-hot mask, "
                             "ops.stack: keras.layers.AdaptiveMaxPooling's gradient is NaN for some shapes "
                             "(output 1 from 4x4)")


def channels_last_call(call, data_format: str):
    """`call` (on channels_last tensors) for a tensor in `data_format`."""
    if data_format == "channels_last":
        return call
    ops = keras.ops
    return lambda x: ops.transpose(call(ops.transpose(x, (0, 2, 3, 4, 1))), (0, 4, 1, 2, 3))


register_by_config(*POOLING_LAYERS, *GLOBAL_POOLING_LAYERS, *ADAPTIVE_LAYERS)
