"""Keras' LeakyReLU, ReLU and PReLU layers: builders, import translations (each class by its config)
and the reader of the LeakyReLU layer's default slope (0.3, keras/src/layers/activations/leaky_relu.py;
keras.activations.leaky_relu's is 0.2, read in activations.py)."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.core import built
from harness.backends.keras.defaults import at
from harness.backends.keras.registry import DEFAULT_READERS as readers, LAYER_BUILDERS as builders
from harness.backends.keras.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.keras.translation import by_config, register_by_config
from harness.backends.layout import AS_IS
from harness.defaults import probes
from harness.defaults.reading import Reading


@builders.register("LeakyReLU")
def leaky_relu(spec, ctx) -> BuiltLayer:
    # The slope is passed: the layer's default (0.3) is not keras.activations.leaky_relu's (0.2).
    layer = keras.layers.LeakyReLU(negative_slope=spec.negative_slope, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, detail=f"keras.layers.LeakyReLU(negative_slope={spec.negative_slope})",
                      module=layer)


@builders.register("ReLU")
def relu(spec, ctx) -> BuiltLayer:
    # keras.layers.ReLU is the layer the case describes (its formula is the reference's); every
    # argument is passed, so no Keras default stands in for the case's value.
    layer = keras.layers.ReLU(max_value=spec.max_value, negative_slope=spec.negative_slope,
                              threshold=spec.threshold, dtype=ctx.dtype, name=ctx.layer_name)
    return BuiltLayer(call=layer, module=layer,
                      detail=f"keras.layers.ReLU(max_value={spec.max_value}, "
                             f"negative_slope={spec.negative_slope}, threshold={spec.threshold})")


register_by_config("LeakyReLU", "ReLU")


@builders.register("PReLU")
def prelu(spec, ctx) -> BuiltLayer:
    """keras.layers.PReLU is the canonical layout: alpha shaped like the input without the batch
    axis, size 1 along each shared axis (keras/src/layers/activations/prelu.py, build)."""
    layer = built(keras.layers.PReLU(shared_axes=spec.shared_axes or None, dtype=ctx.dtype,
                                     name=ctx.layer_name), ctx)
    return BuiltLayer(call=layer, bindings=[WeightBinding("alpha", layer.alpha, "PReLU.alpha", AS_IS)],
                      module=layer, detail=f"keras.layers.PReLU(shared_axes={spec.shared_axes or None})")


# Keras saves `shared_axes: None` for no shared axis; the case writes an empty list.
imports.register("PReLU", produces=("PReLU",))(
    by_config("PReLU", implied=lambda config: {**config, "shared_axes": config.get("shared_axes") or []}))


@readers.register("LeakyReLU.negative_slope")
def leaky_relu_layer(context):
    layer = keras.layers.LeakyReLU(dtype="float64")
    effective, probe = probes.leaky_relu_slope(float(at(layer, [-1.0])[0]))
    return [Reading("keras.layers.LeakyReLU", "negative_slope", layer.get_config()["negative_slope"],
                    "get_config()", effective, probe=probe, used=True)]
