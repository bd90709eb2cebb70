"""Reproducer templates: how each layer kind is written in plain chainer, beside its builder.

A template returns the source that builds the layer the way this package's builder does (its
native form), defines `layer` (called on the input variables) and `params` (native parameter
name -> chainer Parameter, as the builder's WeightBindings name them), and loads each from `W`.
`DRIVER` wraps it into the reproducer's `run_chainer` (harness/discovery/repro/); tests/test_repro_templates.py
renders every template and runs the Dense and Conv2D reproducers against the float64 reference.
"""

from __future__ import annotations

from harness.backends.base import Unsupported
from harness.backends.chainer.registry import REPRO_TEMPLATES
from harness.backends.repro_sources import activation_source

TEMPLATES = REPRO_TEMPLATES  # this package's one registry (registry.py)

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


@TEMPLATES.register("Dense")
def dense(spec, input_shapes, dtype, training) -> str:
    # Built outside the f-string: an f-string nesting ''' parses only from Python 3.12 (PEP 701),
    # and the project runs on 3.11 (tests/test_imports.py compiles every module).
    bias_cast = "\nlinear.b.array = linear.b.array.astype(dtype)" if spec.use_bias else ""
    bias_param = ', "Linear.b": linear.b' if spec.use_bias else ""
    return f'''
linear = L.Linear({input_shapes[0][-1]}, {spec.units}, nobias={not spec.use_bias})
linear.W.array = linear.W.array.astype(dtype){bias_cast}
params = {{"Linear.W": linear.W{bias_param}}}
layer = lambda x: {activation(spec.activation, "linear(x, n_batch_axes=x.ndim - 1)")}
'''


@TEMPLATES.register("Conv1D", "Conv2D")
def conv(spec, input_shapes, dtype, training) -> str:
    from harness.reference.layers import windows as win

    spatial, channels = win.split_channels(input_shapes[0], spec.data_format)
    pads = spec.paddings(spatial)
    if any(before != after for before, after in pads):
        raise Unsupported("'same' padding that TF makes uneven here (the builder pads explicitly)")
    link = f"Convolution{spec.rank}D"
    move_in, move_out = ("F.moveaxis(x, -1, 1)", "F.moveaxis({y}, 1, -1)") \
        if spec.data_format == "channels_last" else ("x", "{y}")
    bias = f', "{link}.b": conv.b' if spec.use_bias else ""
    return f'''
conv = L.{link}({channels}, {spec.filters}, {spec.kernel}, stride={spec.stride},
    pad={tuple(before for before, _ in pads)}, nobias={not spec.use_bias}, dilate={spec.dilation},
    groups={spec.groups})
for parameter in conv.params():
    parameter.array = parameter.array.astype(dtype)
params = {{"{link}.W": conv.W{bias}}}
layer = lambda x: {activation(spec.activation, move_out.format(y=f"conv({move_in})"))}
'''
