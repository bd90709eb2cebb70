"""Keras versions of the harness's activations: (callable, native|composite, detail), and the
readers of Keras' activation defaults.

keras.activations functions are used (not keras.ops, whose gelu defaults to the tanh form).

Defaults sources: keras/src/activations/activations.py (leaky_relu 0.2, gelu approximate=False),
keras/src/ops/nn.py (keras.ops.gelu approximate=True; hard_sigmoid's docstring), the TF code they
run in keras/src/backend/tensorflow/nn.py.
"""

from __future__ import annotations

from harness.backends.keras._import import keras
from harness.backends.keras.defaults import at
from harness.backends.keras.registry import ACTIVATION_BUILDERS as builders, DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

A = keras.activations
ops = keras.ops


@builders.register("linear")
def linear(spec):
    return A.linear, "native", "keras.activations.linear"


@builders.register("relu")
def relu(spec):
    return A.relu, "native", "keras.activations.relu"


@builders.register("leaky_relu")
def leaky_relu(spec):
    # keras.activations.leaky_relu defaults to 0.2, the LeakyReLU layer to 0.3: pass the slope.
    # TF keeps the slope as a float32 op attribute, even in float64 (tensorflow/python/ops/gen_nn_ops.py, LeakyRelu: `alpha` is a float attribute).
    return (lambda x: A.leaky_relu(x, negative_slope=spec.negative_slope)), "native", \
        f"keras.activations.leaky_relu(negative_slope={spec.negative_slope})"


@builders.register("tanh")
def tanh(spec):
    return A.tanh, "native", "keras.activations.tanh"


@builders.register("sigmoid")
def sigmoid(spec):
    return A.sigmoid, "native", "keras.activations.sigmoid"


@builders.register("hard_sigmoid")
def hard_sigmoid(spec):
    # Keras 3: relu6(x + 3) / 6 (keras/src/backend/tensorflow/nn.py), slope 1/6, despite the
    # keras.ops docstring's 0.2 x + 0.5.
    if spec.slope == 1 / 6 and spec.offset == 0.5:
        return A.hard_sigmoid, "native", "keras.activations.hard_sigmoid (slope 1/6)"
    return (lambda x: ops.clip(spec.slope * x + spec.offset, 0.0, 1.0)), "composite", \
        f"ops.clip({spec.slope} x + {spec.offset}, 0, 1): Keras 3's hard_sigmoid has slope 1/6"


@builders.register("softmax")
def softmax(spec):
    return (lambda x: A.softmax(x, axis=spec.axis)), "native", f"keras.activations.softmax(axis={spec.axis})"


@builders.register("elu")
def elu(spec):
    return (lambda x: A.elu(x, alpha=spec.alpha)), "native", f"keras.activations.elu(alpha={spec.alpha})"


@builders.register("selu")
def selu(spec):
    return A.selu, "native", "keras.activations.selu"


@builders.register("softplus")
def softplus(spec):
    if spec.beta == 1.0:
        return A.softplus, "native", "keras.activations.softplus"
    return (lambda x: A.softplus(spec.beta * x) / spec.beta), "composite", \
        f"softplus({spec.beta} x) / {spec.beta}: Keras' softplus has no beta"


@builders.register("softsign")
def softsign(spec):
    return A.softsign, "native", "keras.activations.softsign"


@builders.register("gelu")
def gelu(spec):
    approximate = spec.approximate == "tanh"
    return (lambda x: A.gelu(x, approximate=approximate)), "native", \
        f"keras.activations.gelu(approximate={approximate})"


@builders.register("swish", "silu")
def swish(spec):
    if spec.beta == 1.0:
        return A.silu, "native", "keras.activations.silu"
    return (lambda x: x * A.sigmoid(spec.beta * x)), "composite", \
        f"x * sigmoid({spec.beta} x): Keras' silu has no beta"


@builders.register("log_softmax")
def log_softmax(spec):
    return (lambda x: A.log_softmax(x, axis=spec.axis)), "native", \
        f"keras.activations.log_softmax(axis={spec.axis})"


@builders.register("hard_swish")
def hard_swish(spec):
    # keras/src/activations/activations.py: hard_silu(x) = x * hard_sigmoid(x), relu6(x + 3) / 6.
    return A.hard_silu, "native", "keras.activations.hard_silu"


@readers.register("leaky_relu.negative_slope")
def leaky_relu_default(context):
    found = []
    for api, function, used in (("keras.activations.leaky_relu", A.leaky_relu, True),
                                ("keras.ops.leaky_relu", ops.leaky_relu, False)):
        effective, probe = probes.leaky_relu_slope(float(at(function, -1.0)))
        found.append(Reading(api, "negative_slope", signature_default(function, "negative_slope"),
                             "inspect.signature", effective, probe=probe, used=used))
    return found


@readers.register("hard_sigmoid.slope")
def hard_sigmoid_default(context):
    # Neither has a slope parameter; the keras.ops docstring says 0.2 x + 0.5, the code computes
    # relu6(x + 3) / 6 (keras/src/backend/tensorflow/nn.py): the probe reads what runs.
    found = []
    for api, function, used in (("keras.activations.hard_sigmoid", A.hard_sigmoid, True),
                                ("keras.ops.hard_sigmoid", ops.hard_sigmoid, False)):
        slope, formula, probe = probes.hard_sigmoid_formula(at(function, probes.HARD_SIGMOID_POINTS).tolist())
        found.append(Reading.fixed(api, slope, formula, probe, used=used))
    return found


@readers.register("gelu.approximate")
def gelu_default(context):
    found = []
    for api, function, used in (("keras.activations.gelu", A.gelu, True), ("keras.ops.gelu", ops.gelu, False)):
        form, meaning, probe = probes.gelu_form(float(at(function, 1.0)))
        found.append(Reading(api, "approximate", signature_default(function, "approximate"),
                             "inspect.signature", form, meaning, probe, used=used))
    return found


@readers.register("softmax.axis")
def softmax_default(context):
    axis, meaning, probe = probes.softmax_default_axis(lambda x: at(A.softmax, x), context.rank)
    return [Reading("keras.activations.softmax", "axis", signature_default(A.softmax, "axis"),
                    "inspect.signature", axis, meaning, probe, used=True)]


@readers.register("elu.alpha")
def elu_default(context):
    effective, probe = probes.elu_alpha(float(at(A.elu, -1.0)))
    return [Reading("keras.activations.elu", "alpha", signature_default(A.elu, "alpha"),
                    "inspect.signature", effective, probe=probe, used=True)]
