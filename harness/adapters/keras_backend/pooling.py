"""Keras builders for the poolings: the native layers, whose meaning is the canonical one.

data_format is always passed: left out, Keras reads keras.config.image_data_format().
For channels_first Keras transposes to channels_last itself, because TF's pooling kernels
take only NHWC (keras/src/backend/tensorflow/nn.py `max_pool`, `average_pool`); average
pooling with 'same' divides by the real cells only (tf.nn.avg_pool).
"""

from __future__ import annotations

from harness.adapters.base import BuiltLayer
from harness.adapters.keras_backend._import import keras
from harness.adapters.keras_backend.registry import LAYER_BUILDERS as builders

POOLING_LAYERS = {name: getattr(keras.layers, name) for name in (
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D")}
GLOBAL_POOLING_LAYERS = {name: getattr(keras.layers, name) for name in (
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D")}


@builders.register(*POOLING_LAYERS)
def pooling(spec, ctx) -> BuiltLayer:
    layer_class = POOLING_LAYERS[spec.type]
    layer = layer_class(pool_size=spec.window, strides=spec.stride, padding=spec.padding,
                        data_format=spec.data_format, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, module=layer,
                      detail=f"keras.layers.{spec.type}(pool_size={list(spec.window)}, strides="
                             f"{list(spec.stride)}, padding='{spec.padding}', data_format='{spec.data_format}')")


@builders.register(*GLOBAL_POOLING_LAYERS)
def global_pooling(spec, ctx) -> BuiltLayer:
    layer = GLOBAL_POOLING_LAYERS[spec.type](data_format=spec.data_format, keepdims=spec.keepdims,
                                             dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, module=layer,
                      detail=f"keras.layers.{spec.type}(data_format='{spec.data_format}', keepdims={spec.keepdims})")
