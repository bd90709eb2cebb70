"""The Keras reproducer's driver and the Keras source of each activation (harness/discovery/repro/).

The templates themselves (how each layer kind is written in plain Keras) sit in the family
modules beside their builders, registered in REGISTRY.templates: a template returns the source
that builds the layer the way its builder does (its native form), defines `layer` (called on
the input tensors) and `params` (native parameter name -> variable, as the builder's
WeightBindings name them), and loads each from `W`. `DRIVER` wraps it into the reproducer's
`run_keras`; tests/test_discovery.py runs the templates (Dense, Conv2D, LayerNormalization)
against the float64 reference.
"""

from __future__ import annotations

from harness.backends.base import Unsupported
from harness.backends.keras.registry import REPRO_TEMPLATES

TEMPLATES = REPRO_TEMPLATES
"""The name harness/discovery/repro/ reads templates by: REGISTRY.templates itself (registry.py)."""

DRIVER = '''
def run_{framework}(inputs, W, upstream):
    import os
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    dtype = "{dtype}"
{build}
    for name, variable in params.items():
        variable.assign(W[name])
    xs = [tf.constant(a) for a in inputs]
    with tf.GradientTape() as tape:
        for x in xs:
            if x.dtype.is_floating:
                tape.watch(x)
        y = layer(*xs)
    watched = [x for x in xs if x.dtype.is_floating]
    grads = tape.gradient(y, [*params.values(), *watched], output_gradients=tf.constant(upstream))
    parameter_grads = dict(zip(params, (np.asarray(g) for g in grads[:len(params)])))
    input_grads = iter(grads[len(params):])
    return (np.asarray(y), parameter_grads,
            [np.asarray(next(input_grads)) if x.dtype.is_floating else None for x in xs])
'''

ACTIVATIONS = {
    "linear": "linear", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "selu": "selu",
    "softsign": "softsign", "silu": "silu", "swish": "silu", "hard_sigmoid": "hard_sigmoid",
    "softplus": "softplus",
}
WITH_OPTIONS = {
    "elu": "lambda x: keras.activations.elu(x, alpha={spec.alpha!r})",
    "leaky_relu": "lambda x: keras.activations.leaky_relu(x, negative_slope={spec.negative_slope!r})",
    "softmax": "lambda x: keras.activations.softmax(x, axis={spec.axis!r})",
    "gelu": "lambda x: keras.activations.gelu(x, approximate={approximate})",
}


NATIVE_ONLY_WHEN = {"hard_sigmoid": lambda spec: abs(spec.slope - 1 / 6) < 1e-12 and spec.offset == 0.5, "swish": lambda spec: spec.beta == 1.0, "silu": lambda spec: spec.beta == 1.0, "softplus": lambda spec: spec.beta == 1.0}
"""Activations whose native function has a fixed option: other values are composite in the
builder and have no template here."""


def activation_source(spec) -> str:
    if spec.name in NATIVE_ONLY_WHEN and not NATIVE_ONLY_WHEN[spec.name](spec):
        raise Unsupported(f"{spec.describe()} is composed from primitives by the builder; no template")
    if spec.name in ACTIVATIONS:
        return repr(ACTIVATIONS[spec.name])
    if spec.name in WITH_OPTIONS:
        return WITH_OPTIONS[spec.name].format(spec=spec, approximate=getattr(spec, "approximate", "") == "tanh")
    raise Unsupported(f"no Keras source for activation {spec.name}")


def shape_source(input_shapes) -> str:
    """The Keras input shape a template builds the layer for: batch size left open."""
    return repr((None, *input_shapes[0]))
