"""Keras builders for Conv1D, Conv2D, DepthwiseConv2D and SeparableConv2D. Keras' layout is the
canonical one: kernels as is.

Two settings the native layer cannot run here, found out by running it, not assumed:

* channels_first on TensorFlow's CPU build. keras/src/backend/tensorflow/nn.py `conv` calls
  tf.nn.convolution with data_format NCHW/NCW, and TF's CPU kernel refuses it at run time
  ("The Conv2D op currently only supports the NHWC tensor format on the CPU"); only grouped
  convolutions, which Keras compiles with XLA there, run. `channels_first_failure` tries a tiny
  layer once per (rank, grouped, dtype) and process; where it fails the same keras layer runs
  channels_last between two transposes (marked composite, with TF's message). On a GPU build
  the native layer is used.
* strides > 1 together with dilation_rate > 1: keras/src/layers/convolutional/base_conv.py
  raises "`strides > 1` not supported in conjunction with `dilation_rate > 1`". A dilated
  convolution at stride s is the stride-1 one sampled every s cells, so the layer runs with
  stride 1 on the input padded by TF's 'same' rule for stride s (padding 'valid' then), and the
  output is sliced [::s]. Keras decomposes its depthwise convolutions the same way
  (nn.py `_depthwise_conv_stride_dilation_decomposition`).

* explicit padding amounts: Keras has only 'valid' and 'same' (keras.applications writes
  ZeroPadding2D before a 'valid' convolution), so the input is padded with ops.pad and the layer
  runs 'valid'.

The activation is applied after the layout is restored, so a softmax acts on the case's axis.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from harness.adapters.base import BuiltLayer, ExecutionPath, WeightBinding
from harness.adapters.keras_backend._import import BACKEND, keras, tf
from harness.adapters.keras_backend.registry import LAYER_BUILDERS as builders
from harness.adapters.layout import AS_IS
from harness.layers import windows as win

CONV_LAYERS = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D}

# Keras runs grouped convolutions on CPU through a tf.function(jit_compile=True) that it defines
# inside every call (nn.py `conv`, `_conv_xla`), so TF warns about retracing from the sixth call
# on. That is Keras' own cost (about 0.5 s of XLA compilation per grouped layer and call), not
# something a case can change: the warning alone is filtered, narrowly.
tf.get_logger().addFilter(lambda record: "triggered tf.function retracing" not in record.getMessage())


@functools.cache
def channels_first_failure(rank: int, grouped: bool, dtype: str) -> str | None:
    """None if keras' channels_first convolution runs in this TensorFlow, else TF's message
    (None on Keras' other backends: their kernels take NCHW)."""
    if BACKEND != "tensorflow":
        return None
    groups = 2 if grouped else 1
    layer = CONV_LAYERS[rank](groups, 1, data_format="channels_first", groups=groups, dtype=dtype)
    try:
        layer(np.zeros((1, groups, *(2,) * rank), dtype=dtype))
    except tf.errors.UnimplementedError as exc:
        return tf_reason(str(exc))
    return None


def onednn_enabled() -> bool:
    """Whether TF's oneDNN custom operations are on (TF_ENABLE_ONEDNN_OPTS, or the build's
    default for this CPU): tensorflow/python/util/_pywrap_util_port.pyi `IsMklEnabled`."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def channels_first_route(name: str, spec, dtype: str) -> ExecutionPath:
    """How this channels_first convolution runs here: `native` (Keras' own NCHW call: through
    XLA for grouped ones, keras/src/backend/tensorflow/nn.py `conv`; else TF's NCHW kernel, which
    the CPU has only with oneDNN) or `transposes` (where TF refuses NCHW)."""
    grouped = spec.groups > 1
    failure = channels_first_failure(spec.rank, grouped, dtype)
    label = f"{spec.type} channels_first" + (" grouped" if grouped else "")
    if BACKEND != "tensorflow":  # keras-torch: Keras' own NCHW call on that backend's kernel
        return ExecutionPath(name, "native", f"{label} native (Keras' {BACKEND} backend)")
    if failure:
        return ExecutionPath(name, "transposes", f"{label} between transposes ({failure})")
    how = "XLA" if grouped else ("oneDNN" if onednn_enabled() else "TensorFlow's NCHW kernel")
    return ExecutionPath(name, "native", f"{label} native ({how})")


def tf_reason(message: str) -> str:
    """The sentence of TF's error that says what is unsupported, without Keras' wrapping
    ("Exception encountered when calling ...", terminal colours, the op's node name)."""
    message = re.sub(r"\x1b\[[0-9;]*m|\{\{[^}]*\}\}|\[Op:[^\]]*\]( name:[^\n]*)?", "", message)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    useful = [line for line in lines if "currently" in line or "supports" in line]
    return (useful or lines or ["(no message)"])[0]


@builders.register("Conv1D", "Conv2D")
def conv(spec, ctx) -> BuiltLayer:
    layer_class = CONV_LAYERS[spec.rank]
    activation, kind, activation_detail = ctx.activation(spec.activation)
    reasons = []
    if spec.data_format == "channels_first":
        route = channels_first_route(ctx.layer_name, spec, ctx.dtype)
        if route.path == "transposes":
            reasons.append(f"between ops.transpose to channels_last and back: data_format='channels_first' "
                           f"fails on this TensorFlow ({channels_first_failure(spec.rank, spec.groups > 1, ctx.dtype)})")
    strided_dilation = max(spec.stride) > 1 and max(spec.dilation) > 1
    if strided_dilation:
        reasons.append("with stride 1 on the input padded by ops.pad for the real stride, output sliced "
                       "[::stride]: Keras refuses strides > 1 with dilation_rate > 1")
    explicit = not isinstance(spec.padding, str)
    if explicit:
        reasons.append("after ops.pad with the case's amounts, padding='valid': Keras has only 'valid' and 'same'")
    pad_first = strided_dilation or explicit
    data_format = "channels_last" if reasons else spec.data_format
    strides = (1,) * spec.rank if strided_dilation else spec.stride
    padding = "valid" if pad_first else spec.padding
    layer = layer_class(
        spec.filters, spec.kernel, strides=strides, padding=padding, data_format=data_format,
        dilation_rate=spec.dilation, groups=spec.groups, use_bias=spec.use_bias,
        dtype=ctx.dtype, name=ctx.layer_name)
    spatial, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    # Built for the input it will see: with strided dilation the padded one. Keras' build checks
    # the output size, and the unpadded input can be shorter than the dilated kernel ("Computed
    # output size would be zero or negative"; found by a generated case).
    seen = tuple(n + before + after for n, (before, after) in zip(spatial, spec.paddings(spatial))) \
        if pad_first else spatial
    layer.build((None, *win.join_channels(seen, channels, data_format)))
    bindings = [WeightBinding("kernel", layer.kernel, f"{layer_class.__name__}.kernel", AS_IS)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", layer.bias, f"{layer_class.__name__}.bias", AS_IS))
    then = f", then {activation_detail}" if kind == "composite" else ""
    if not reasons:
        return BuiltLayer(call=lambda x: activation(layer(x)), bindings=bindings, implementation=kind,
                          detail=f"keras.layers.{layer_class.__name__}{then}", module=layer)
    call = composite_call(spec, layer, activation, spatial, pad_first, strided_dilation)
    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=layer,
                      detail=f"keras.layers.{layer_class.__name__} " + "; ".join(reasons) + then)


def composite_call(spec, layer, activation, spatial, pad_first: bool, strided_dilation: bool):
    ops = keras.ops
    channels_first = spec.data_format == "channels_first"
    rank = spec.rank
    pads = [[0, 0], *map(list, spec.paddings(spatial)), [0, 0]]
    sample = (slice(None), *(slice(None, None, s) for s in spec.stride), slice(None))

    def call(x):
        if channels_first:
            x = ops.transpose(x, (0, *range(2, rank + 2), 1))
        if pad_first:
            x = ops.pad(x, pads)
        y = layer(x)
        if strided_dilation:
            y = y[sample]
        if channels_first:
            y = ops.transpose(y, (0, rank + 1, *range(1, rank + 1)))
        return activation(y)

    return call


@functools.cache
def depthwise_channels_first_failure(kind: str, dtype: str) -> str | None:
    """None if keras' channels_first DepthwiseConv2D / SeparableConv2D runs in this TensorFlow,
    else TF's message."""
    layer = (keras.layers.DepthwiseConv2D(1, data_format="channels_first", dtype=dtype) if kind == "DepthwiseConv2D"
             else keras.layers.SeparableConv2D(1, 1, data_format="channels_first", dtype=dtype))
    try:
        layer(np.zeros((1, 1, 2, 2), dtype=dtype))
    except tf.errors.UnimplementedError as exc:
        return tf_reason(str(exc))
    return None


@builders.register("DepthwiseConv2D", "SeparableConv2D")
def depthwise_conv(spec, ctx) -> BuiltLayer:
    """keras.layers.DepthwiseConv2D, kernel (kh, kw, in, multiplier), and SeparableConv2D
    (depthwise_kernel, pointwise_kernel (1, 1, in * multiplier, filters), bias): the canonical
    layouts. The same three compositions as Conv2D where the native layer cannot run the case
    (module docstring); Keras refuses strides > 1 with dilation_rate > 1 here too
    (keras/src/layers/convolutional/base_depthwise_conv.py, base_separable_conv.py)."""
    activation, kind, activation_detail = ctx.activation(spec.activation)
    reasons = []
    if spec.data_format == "channels_first":
        failure = depthwise_channels_first_failure(spec.type, ctx.dtype)
        if failure:
            reasons.append(f"between ops.transpose to channels_last and back: data_format='channels_first' "
                           f"fails on this TensorFlow ({failure})")
    strided_dilation = max(spec.stride) > 1 and max(spec.dilation) > 1
    if strided_dilation:
        reasons.append("with stride 1 on the input padded by ops.pad for the real stride, output sliced "
                       "[::stride]: Keras refuses strides > 1 with dilation_rate > 1")
    explicit = not isinstance(spec.padding, str)
    if explicit:
        reasons.append("after ops.pad with the case's amounts, padding='valid': Keras has only 'valid' and 'same'")
    pad_first = strided_dilation or explicit
    data_format = "channels_last" if reasons else spec.data_format
    options = dict(strides=(1, 1) if strided_dilation else spec.stride, padding="valid" if pad_first else spec.padding,
                   depth_multiplier=spec.depth_multiplier, data_format=data_format, dilation_rate=spec.dilation,
                   use_bias=spec.use_bias, dtype=ctx.dtype, name=ctx.layer_name)
    separable = spec.type == "SeparableConv2D"
    layer = (keras.layers.SeparableConv2D(spec.filters, spec.kernel, **options) if separable
             else keras.layers.DepthwiseConv2D(spec.kernel, **options))
    spatial, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    seen = tuple(n + before + after for n, (before, after) in zip(spatial, spec.paddings(spatial))) \
        if pad_first else spatial
    layer.build((None, *win.join_channels(seen, channels, data_format)))
    if separable:
        bindings = [WeightBinding("depthwise_kernel", layer.depthwise_kernel, "SeparableConv2D.depthwise_kernel", AS_IS),
                    WeightBinding("pointwise_kernel", layer.pointwise_kernel, "SeparableConv2D.pointwise_kernel", AS_IS)]
    else:
        bindings = [WeightBinding("kernel", layer.kernel, "DepthwiseConv2D.kernel", AS_IS)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", layer.bias, f"{spec.type}.bias", AS_IS))
    then = f", then {activation_detail}" if kind == "composite" else ""
    if not reasons:
        return BuiltLayer(call=lambda x: activation(layer(x)), bindings=bindings, implementation=kind,
                          detail=f"keras.layers.{spec.type}{then}", module=layer)
    call = composite_call(spec, layer, activation, spatial, pad_first, strided_dilation)
    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=layer,
                      detail=f"keras.layers.{spec.type} " + "; ".join(reasons) + then)
