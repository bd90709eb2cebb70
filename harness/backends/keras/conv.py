"""Keras builders for Conv1D, Conv2D, Conv3D, DepthwiseConv2D, SeparableConv2D and
Conv1DTranspose/Conv2DTranspose, their import translations (each Keras class by its config) and
the Conv1D/Conv2D reproducer template. Keras' layout is the canonical one: kernels as is.

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

from harness.backends.base import BuiltLayer, ExecutionPath, Unsupported, WeightBinding
from harness.backends.keras._import import BACKEND, keras, tf
from harness.backends.keras.registry import LAYER_BUILDERS as builders, REPRO_TEMPLATES as templates
from harness.backends.keras.repro import activation_source, shape_source
from harness.backends.keras.translation import register_by_config
from harness.backends.layout import AS_IS
from harness.reference.layers import windows as win

CONV_LAYERS = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}

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
    useful = [line for line in lines if "currently" in line or "support" in line]
    return (useful or lines or ["(no message)"])[0]


@builders.register("Conv1D", "Conv2D", "Conv3D")
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


TRANSPOSE_LAYERS = {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose}


@functools.cache
def transpose_failure(rank: int, dtype: str, data_format: str, dilated: bool) -> str | None:
    """None if keras' Conv*Transpose with this data_format (and dilation 2 if `dilated`) runs
    in this TensorFlow, else TF's message (on CPU: "Conv2DCustomBackpropInputOp only supports
    NHWC", "Current CPU implementations do not yet support dilation rates larger than 1")."""
    layer = TRANSPOSE_LAYERS[rank](1, 1, data_format=data_format, dilation_rate=2 if dilated else 1, dtype=dtype)
    try:
        layer(np.zeros((1, 1, *(2,) * rank), dtype=dtype))
    except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError) as exc:
        return tf_reason(str(exc))
    return None


@builders.register("Conv1DTranspose", "Conv2DTranspose")
def conv_transpose(spec, ctx) -> BuiltLayer:
    """keras.layers.Conv1DTranspose/Conv2DTranspose: kernel (*kernel, filters, in), the canonical
    layout, as is. 'valid' and 'same' (with output_padding) are Keras' own. torch's explicit
    padding p with output_padding op is Keras 'valid' with output_padding max(op - p, 0), the
    output sliced [p : p + N]. Refused: groups (Keras' transposed convolutions have none) and
    dilation where TF cannot run it (its CPU kernel has no dilated transposed convolution)."""
    if spec.groups > 1:
        raise Unsupported("Keras' Conv1DTranspose/Conv2DTranspose have no groups argument")
    if max(spec.dilation) > 1:
        failure = transpose_failure(spec.rank, ctx.dtype, "channels_last", True)
        if failure:
            raise Unsupported(f"dilation_rate > 1 fails in Keras' {spec.type} on this TensorFlow ({failure})")
        if max(spec.stride) > 1:
            raise Unsupported(f"Keras' {spec.type} refuses strides > 1 with dilation_rate > 1")
    activation, kind, activation_detail = ctx.activation(spec.activation)
    reasons = []
    if spec.data_format == "channels_first":
        failure = transpose_failure(spec.rank, ctx.dtype, "channels_first", False)
        if failure:
            reasons.append(f"between ops.transpose to channels_last and back: data_format='channels_first' "
                           f"fails on this TensorFlow ({failure})")
    spatial, channels = win.split_channels(ctx.input_shapes[0], spec.data_format)
    explicit = not isinstance(spec.padding, str)
    output_padding = spec.output_padding
    if explicit:
        output_padding = tuple(max((op or 0) - p, 0) for op, p in zip(spec.extra, spec.explicit_pads))
        if any(op >= s for op, s in zip(output_padding, spec.stride)):
            raise Unsupported(f"output_padding {list(spec.extra)} beyond padding {list(spec.explicit_pads)} reaches "
                              f"the stride {list(spec.stride)}: Keras' output_padding must be below the stride")
        reasons.append("with padding='valid' and output_padding max(output_padding - padding, 0), then sliced "
                       "[padding : padding + size]: Keras has only 'valid' and 'same'")
    data_format = "channels_last" if reasons else spec.data_format
    layer_class = TRANSPOSE_LAYERS[spec.rank]
    layer = layer_class(spec.filters, spec.kernel, strides=spec.stride, padding="valid" if explicit else spec.padding,
                        output_padding=output_padding, data_format=data_format, dilation_rate=spec.dilation,
                        use_bias=spec.use_bias, dtype=ctx.dtype, name=ctx.layer_name)
    layer.build((None, *win.join_channels(spatial, channels, data_format)))
    bindings = [WeightBinding("kernel", layer.kernel, f"{layer_class.__name__}.kernel", AS_IS)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", layer.bias, f"{layer_class.__name__}.bias", AS_IS))
    then = f", then {activation_detail}" if kind == "composite" else ""
    if not reasons:
        return BuiltLayer(call=lambda x: activation(layer(x)), bindings=bindings, implementation=kind,
                          detail=f"keras.layers.{layer_class.__name__}{then}", module=layer)
    window = (slice(None), *(slice(before, before + size) for before, size in spec.extents(spatial)), slice(None)) \
        if explicit else None
    rank, channels_first = spec.rank, spec.data_format == "channels_first"

    def call(x):
        if channels_first:
            x = keras.ops.transpose(x, (0, *range(2, rank + 2), 1))
        y = layer(x)
        if window is not None:
            y = y[window]
        if channels_first:
            y = keras.ops.transpose(y, (0, rank + 1, *range(1, rank + 1)))
        return activation(y)

    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=layer,
                      detail=f"keras.layers.{layer_class.__name__} " + "; ".join(reasons) + then)


register_by_config("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "SeparableConv2D", "Conv1DTranspose",
                   "Conv2DTranspose")


@templates.register("Conv1D", "Conv2D")
def conv_template(spec, input_shapes, dtype, training) -> str:
    if spec.data_format == "channels_first" or (max(spec.stride) > 1 and max(spec.dilation) > 1):
        raise Unsupported("the Keras builder composes this convolution (channels_first on TF's CPU "
                          "build, or strides with dilation)")
    name = f"Conv{spec.rank}D"
    return f'''
layer = keras.layers.{name}({spec.filters}, {spec.kernel}, strides={spec.stride}, padding={spec.padding!r},
    data_format={spec.data_format!r}, dilation_rate={spec.dilation}, groups={spec.groups},
    use_bias={spec.use_bias}, activation={activation_source(spec.activation)}, dtype=dtype)
layer.build({shape_source(input_shapes)})
params = {{"{name}.kernel": layer.kernel{f', "{name}.bias": layer.bias' if spec.use_bias else ''}}}
'''
