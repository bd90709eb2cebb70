"""Keras' Dense, Activation, Flatten and Rescaling: builders, import translations (each Keras
class by its config) and the Dense reproducer template."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.registry import (IMPORT_TRANSLATIONS as imports, LAYER_BUILDERS as builders,
    REPRO_TEMPLATES as templates)
from harness.backends.keras.repro import activation_source, shape_source
from harness.backends.keras.translation import by_config, register_by_config
from harness.backends.layout import AS_IS


def built(layer, ctx):
    """Create the layer's weights now, for the case's input shapes (Keras builds lazily)."""
    shapes = [(None, *shape) for shape in ctx.input_shapes]
    layer.build(shapes[0] if len(shapes) == 1 else shapes)
    return layer


@builders.register("Dense")
def dense(spec, ctx) -> BuiltLayer:
    """Keras' Dense is the canonical layout: kernel (in, units), bias (units,)."""
    activation, kind, detail = ctx.activation(spec.activation)
    layer = built(keras.layers.Dense(spec.units, activation=activation, use_bias=spec.use_bias,
                                     dtype=ctx.dtype, name=ctx.layer_name), ctx)
    bindings = [WeightBinding("kernel", layer.kernel, "Dense.kernel", AS_IS)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", layer.bias, "Dense.bias", AS_IS))
    return BuiltLayer(call=layer, bindings=bindings, implementation=kind,
                      detail=f"keras.layers.Dense(activation={detail})", module=layer)


@builders.register("Activation")
def activation(spec, ctx) -> BuiltLayer:
    function, kind, detail = ctx.activation(spec.activation)
    layer = keras.layers.Activation(function, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, implementation=kind, detail=f"keras.layers.Activation({detail})")


@builders.register("Flatten")
def flatten(spec, ctx) -> BuiltLayer:
    # data_format is passed even for the default: left out, Keras reads image_data_format().
    layer = keras.layers.Flatten(data_format=spec.data_format, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Flatten(data_format='{spec.data_format}')")


@builders.register("Rescaling")
def rescaling(spec, ctx) -> BuiltLayer:
    layer = keras.layers.Rescaling(spec.scale, offset=spec.offset, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.Rescaling({spec.scale}, offset={spec.offset})")


register_by_config("Dense", "Flatten", "Rescaling")
IMPORTED_ACTIVATIONS = ("elu", "linear", "log_softmax", "relu", "selu", "sigmoid", "silu", "softmax", "softplus",
                        "softsign", "tanh")
"""The activations an `Activation` layer's config names as the harness's activation spec takes them
(tests/test_import_activations.py tries every one). Not gelu, hard_sigmoid, leaky_relu: their
spec wants the hyper-parameter (approximate, slope, negative_slope) that Keras' config leaves
implicit; not hard_swish: Keras names it hard_silu; swish: Keras saves it as silu."""
imports.register("Activation", produces=("Activation", *(f"Activation:{name}" for name in IMPORTED_ACTIVATIONS)))(
    by_config("Activation"))


@templates.register("Dense")
def dense_template(spec, input_shapes, dtype, training) -> str:
    return f'''
layer = keras.layers.Dense({spec.units}, activation={activation_source(spec.activation)}, use_bias={spec.use_bias},
    dtype=dtype)
layer.build({shape_source(input_shapes)})
params = {{"Dense.kernel": layer.kernel{', "Dense.bias": layer.bias' if spec.use_bias else ''}}}
'''
