"""Defaults of chainer's activation functions (chainer.functions).

Sources: chainer/functions/activation/leaky_relu.py, hard_sigmoid.py (clip(0.2 x + 0.5, 0, 1)),
softmax.py (axis=1), elu.py.
"""

from __future__ import annotations

import numpy as np

from harness.backends.chainer._import import F
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default


def at(function, x) -> np.ndarray:
    """`function` evaluated on a float64 array."""
    return function(np.asarray(x, dtype=np.float64)).array


@readers.register("leaky_relu.negative_slope")
def leaky_relu(context):
    effective, probe = probes.leaky_relu_slope(float(at(F.leaky_relu, [-1.0])[0]))
    return [Reading("chainer.functions.leaky_relu", "slope", signature_default(F.leaky_relu, "slope"),
                    "inspect.signature", effective, probe=probe, used=True)]


@readers.register("LeakyReLU.negative_slope")
def leaky_relu_layer(context):
    # chainer has no LeakyReLU link (chainer/links has none): the builder uses the function.
    (reading,) = leaky_relu(context)
    reading.api += " (no LeakyReLU link)"
    return [reading]


@readers.register("hard_sigmoid.slope")
def hard_sigmoid(context):
    slope, formula, probe = probes.hard_sigmoid_formula(at(F.hard_sigmoid, probes.HARD_SIGMOID_POINTS).tolist())
    return [Reading.fixed("chainer.functions.hard_sigmoid", slope, formula, probe,
                    used=True)]


@readers.register("gelu.approximate")
def gelu(context):
    function = getattr(F, "gelu", None)
    if function is None:
        import chainer

        return [Reading("chainer.functions.gelu", "approximate", used=True,
                        missing=f"chainer {chainer.__version__} has no gelu (chainer.functions.gelu does not exist)")]
    form, meaning, probe = probes.gelu_form(float(at(function, [1.0])[0]))
    return [Reading("chainer.functions.gelu", "", None, "probe", form, meaning, probe, used=True)]


@readers.register("softmax.axis")
def softmax(context):
    axis, meaning, probe = probes.softmax_default_axis(lambda x: at(F.softmax, x), context.rank)
    return [Reading("chainer.functions.softmax", "axis", signature_default(F.softmax, "axis"),
                    "inspect.signature", axis, meaning, probe, used=True)]


@readers.register("elu.alpha")
def elu(context):
    effective, probe = probes.elu_alpha(float(at(F.elu, [-1.0])[0]))
    return [Reading("chainer.functions.elu", "alpha", signature_default(F.elu, "alpha"),
                    "inspect.signature", effective, probe=probe, used=True)]
