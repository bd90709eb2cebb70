"""Reproducer machinery: the driver that wraps a layer's template into `run_chainer`, and the
activation sources the templates share.

The templates themselves live beside their builders, in the family modules (core.py: Dense,
conv.py: Conv1D/Conv2D), registered in REGISTRY.templates. A template returns the source that
builds the layer the way this package's builder does (its native form), defines `layer` (called
on the input variables) and `params` (native parameter name -> chainer Parameter, as the
builder's WeightBindings name them), and loads each from `W`. `DRIVER` wraps it into the
reproducer's `run_chainer` (harness/discovery/repro/); tests/test_repro_templates.py renders
every template and runs the Dense and Conv2D reproducers against the float64 reference.

Importing this module imports the package (harness/backends/chainer/__init__.py), which imports
every family module: `TEMPLATES` is then complete.
"""

from __future__ import annotations

from harness.backends.chainer.registry import REPRO_TEMPLATES
from harness.backends.repro_sources import activation_source

TEMPLATES = REPRO_TEMPLATES  # the name harness/discovery/repro/ reads; REGISTRY.templates itself

DRIVER = '''
def run_{framework}(inputs, W, upstream):
    try:  # chainer 7.8.1's import needs the stdlib distutils, not setuptools' shim of it
        import _distutils_hack
        _distutils_hack.remove_shim()
    except (ImportError, AttributeError):
        pass
    import chainer
    import chainer.functions as F
    import chainer.links as L

    dtype = np.{dtype}
{build}
    for name, parameter in params.items():
        parameter.array[...] = W[name]
        parameter.cleargrad()  # a chainer Parameter's grad starts as NaN, and backward adds to it
    xs = [chainer.Variable(a) for a in inputs]
    with chainer.using_config("train", {training}), chainer.using_config("enable_backprop", True):
        y = layer(*xs)
    y.grad = upstream
    y.backward()
    return (y.array, {{name: p.grad for name, p in params.items()}},
            [x.grad if a.dtype.kind == "f" else None for x, a in zip(xs, inputs)])
'''

ACTIVATIONS = {
    "linear": "{x}", "relu": "F.relu({x})", "tanh": "F.tanh({x})", "sigmoid": "F.sigmoid({x})",
    "selu": "F.selu({x})", "elu": "F.elu({x}, alpha={spec.alpha!r})",
    "softplus": "F.softplus({x}, beta={spec.beta!r})", "leaky_relu": "F.leaky_relu({x}, slope={spec.negative_slope!r})",
    "softmax": "F.softmax({x}, axis={spec.axis!r} % {x}.ndim)", "hard_sigmoid": "F.hard_sigmoid({x})",
}


NATIVE_ONLY_WHEN = {"hard_sigmoid": lambda spec: spec.slope == 0.2 and spec.offset == 0.5}
"""Activations whose native function has a fixed option: other values are composite in the
builder and have no template here."""


def activation(spec, x: str) -> str:
    return activation_source("chainer", ACTIVATIONS, NATIVE_ONLY_WHEN, spec, x)
