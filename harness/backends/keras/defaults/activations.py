"""Defaults of Keras' activation functions (keras.activations, keras.ops) and LeakyReLU layer.

Sources: keras/src/activations/activations.py (leaky_relu 0.2, gelu approximate=False),
keras/src/ops/nn.py (keras.ops.gelu approximate=True; hard_sigmoid's docstring), the TF code they
run in keras/src/backend/tensorflow/nn.py, keras/src/layers/activations/leaky_relu.py (0.3).
"""

from __future__ import annotations

import numpy as np

from harness.backends.keras._import import keras
from harness.backends.keras.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

A, ops = keras.activations, keras.ops


def at(function, x) -> np.ndarray:
    """`function` evaluated on a float64 tensor (Keras keeps float64 inputs in float64)."""
    return keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(np.asarray(x, dtype=np.float64))))


@readers.register("leaky_relu.negative_slope")
def leaky_relu(context):
    found = []
    for api, function, used in (("keras.activations.leaky_relu", A.leaky_relu, True),
                                ("keras.ops.leaky_relu", ops.leaky_relu, False)):
        effective, probe = probes.leaky_relu_slope(float(at(function, -1.0)))
        found.append(Reading(api, "negative_slope", signature_default(function, "negative_slope"),
                             "inspect.signature", effective, probe=probe, used=used))
    return found


@readers.register("LeakyReLU.negative_slope")
def leaky_relu_layer(context):
    layer = keras.layers.LeakyReLU(dtype="float64")
    effective, probe = probes.leaky_relu_slope(float(at(layer, [-1.0])[0]))
    return [Reading("keras.layers.LeakyReLU", "negative_slope", layer.get_config()["negative_slope"],
                    "get_config()", effective, probe=probe, used=True)]


@readers.register("hard_sigmoid.slope")
def hard_sigmoid(context):
    # Neither has a slope parameter; the keras.ops docstring says 0.2 x + 0.5, the code computes
    # relu6(x + 3) / 6 (keras/src/backend/tensorflow/nn.py): the probe reads what runs.
    found = []
    for api, function, used in (("keras.activations.hard_sigmoid", A.hard_sigmoid, True),
                                ("keras.ops.hard_sigmoid", ops.hard_sigmoid, False)):
        slope, formula, probe = probes.hard_sigmoid_formula(at(function, probes.HARD_SIGMOID_POINTS).tolist())
        found.append(Reading.fixed(api, slope, formula, probe, used=used))
    return found


@readers.register("gelu.approximate")
def gelu(context):
    found = []
    for api, function, used in (("keras.activations.gelu", A.gelu, True), ("keras.ops.gelu", ops.gelu, False)):
        form, meaning, probe = probes.gelu_form(float(at(function, 1.0)))
        found.append(Reading(api, "approximate", signature_default(function, "approximate"),
                             "inspect.signature", form, meaning, probe, used=used))
    return found


@readers.register("softmax.axis")
def softmax(context):
    axis, meaning, probe = probes.softmax_default_axis(lambda x: at(A.softmax, x), context.rank)
    return [Reading("keras.activations.softmax", "axis", signature_default(A.softmax, "axis"),
                    "inspect.signature", axis, meaning, probe, used=True)]


@readers.register("elu.alpha")
def elu(context):
    effective, probe = probes.elu_alpha(float(at(A.elu, -1.0)))
    return [Reading("keras.activations.elu", "alpha", signature_default(A.elu, "alpha"),
                    "inspect.signature", effective, probe=probe, used=True)]
