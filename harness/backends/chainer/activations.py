"""chainer versions of the harness's activations: (callable, native|composite, detail), and the
readers of chainer's activation defaults.

Defaults sources: chainer/functions/activation/leaky_relu.py, hard_sigmoid.py
(clip(0.2 x + 0.5, 0, 1)), softmax.py (axis=1), elu.py.
"""

from __future__ import annotations

import math

import numpy as np

from harness.backends.chainer._import import F, chainer
from harness.backends.chainer.defaults.helpers import at
from harness.backends.chainer.registry import ACTIVATION_BUILDERS as builders
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default


@builders.register("linear")
def linear(spec):
    return (lambda x: x), "native", "identity"


@builders.register("relu")
def relu(spec):
    return F.relu, "native", "F.relu"


@builders.register("leaky_relu")
def leaky_relu(spec):
    return (lambda x: F.leaky_relu(x, slope=spec.negative_slope)), "native", \
        f"F.leaky_relu(slope={spec.negative_slope})"


@builders.register("tanh")
def tanh(spec):
    return F.tanh, "native", "F.tanh"


@builders.register("sigmoid")
def sigmoid(spec):
    return F.sigmoid, "native", "F.sigmoid"


@builders.register("hard_sigmoid")
def hard_sigmoid(spec):
    # chainer's hard_sigmoid is clip(0.2 x + 0.5, 0, 1) (chainer/functions/activation/hard_sigmoid.py).
    if spec.slope == 0.2 and spec.offset == 0.5:
        return F.hard_sigmoid, "native", "F.hard_sigmoid (slope 0.2)"
    return (lambda x: F.clip(spec.slope * x + spec.offset, 0.0, 1.0)), "composite", \
        f"F.clip({spec.slope} x + {spec.offset}, 0, 1): F.hard_sigmoid's slope is fixed at 0.2"


@builders.register("softmax")
def softmax(spec):
    # chainer's default axis is 1; the case's axis (default -1) is passed explicitly.
    return (lambda x: F.softmax(x, axis=spec.axis % x.ndim)), "native", f"F.softmax(axis={spec.axis})"


@builders.register("elu")
def elu(spec):
    return (lambda x: F.elu(x, alpha=spec.alpha)), "native", f"F.elu(alpha={spec.alpha})"


@builders.register("selu")
def selu(spec):
    return F.selu, "native", "F.selu"


@builders.register("softplus")
def softplus(spec):
    return (lambda x: F.softplus(x, beta=spec.beta)), "native", f"F.softplus(beta={spec.beta})"


@builders.register("softsign")
def softsign(spec):
    return (lambda x: x / (1 + F.absolute(x))), "composite", "x / (1 + |x|): chainer has no softsign"


@builders.register("gelu")
def gelu(spec):
    if spec.approximate == "none":
        return (lambda x: 0.5 * x * (1 + F.erf(x / math.sqrt(2)))), "composite", \
            "0.5 x (1 + F.erf(x / sqrt 2)): chainer 7.8.1 has no gelu"
    c = math.sqrt(2 / math.pi)
    return (lambda x: 0.5 * x * (1 + F.tanh(c * (x + 0.044715 * x ** 3)))), "composite", \
        "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): chainer 7.8.1 has no gelu"


@builders.register("swish", "silu")
def swish(spec):
    # F.swish needs beta as an array shaped like one sample (chainer/functions/activation/swish.py).
    def call(x):
        return F.swish(x, np.full(x.shape[1:], spec.beta, dtype=x.dtype))
    return call, "native", f"F.swish(beta={spec.beta})"


@builders.register("log_softmax")
def log_softmax(spec):
    # chainer's default axis is 1 (chainer/functions/activation/log_softmax.py): always passed.
    return (lambda x: F.log_softmax(x, axis=spec.axis % x.ndim)), "native", f"F.log_softmax(axis={spec.axis})"


@builders.register("hard_swish")
def hard_swish(spec):
    # chainer has no hard swish: x * clipped_relu(x + 3, 6) / 6.
    return (lambda x: x * F.clipped_relu(x + 3.0, z=6.0) / 6.0), "composite", \
        "x * F.clipped_relu(x + 3, 6) / 6: chainer has no hard swish"


@readers.register("leaky_relu.negative_slope")
def read_leaky_relu(context):
    effective, probe = probes.leaky_relu_slope(float(at(F.leaky_relu, [-1.0])[0]))
    return [Reading("chainer.functions.leaky_relu", "slope", signature_default(F.leaky_relu, "slope"),
                    "inspect.signature", effective, probe=probe, used=True)]


@readers.register("hard_sigmoid.slope")
def read_hard_sigmoid(context):
    slope, formula, probe = probes.hard_sigmoid_formula(at(F.hard_sigmoid, probes.HARD_SIGMOID_POINTS).tolist())
    return [Reading.fixed("chainer.functions.hard_sigmoid", slope, formula, probe,
                    used=True)]


@readers.register("gelu.approximate")
def read_gelu(context):
    function = getattr(F, "gelu", None)
    if function is None:
        return [Reading("chainer.functions.gelu", "approximate", used=True,
                        missing=f"chainer {chainer.__version__} has no gelu (chainer.functions.gelu does not exist)")]
    form, meaning, probe = probes.gelu_form(float(at(function, [1.0])[0]))
    return [Reading("chainer.functions.gelu", "", None, "probe", form, meaning, probe, used=True)]


@readers.register("softmax.axis")
def read_softmax(context):
    axis, meaning, probe = probes.softmax_default_axis(lambda x: at(F.softmax, x), context.rank)
    return [Reading("chainer.functions.softmax", "axis", signature_default(F.softmax, "axis"),
                    "inspect.signature", axis, meaning, probe, used=True)]


@readers.register("elu.alpha")
def read_elu(context):
    effective, probe = probes.elu_alpha(float(at(F.elu, [-1.0])[0]))
    return [Reading("chainer.functions.elu", "alpha", signature_default(F.elu, "alpha"),
                    "inspect.signature", effective, probe=probe, used=True)]
