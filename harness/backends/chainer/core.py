"""chainer's Dense, Activation, Flatten and Rescaling: builders, the import translations of
L.Linear and of the activation functions (as a chainer.Sequential holds them and as a traced
forward records them), and the Dense reproducer template."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.chainer.registry import REPRO_TEMPLATES as templates
from harness.backends.chainer.repro import activation as activation_source
from harness.backends.layout import AS_IS, DENSE_KERNEL_TO_OUT_IN


def combined(layer_kind: str, activation_kind: str) -> str:
    return "composite" if "composite" in (layer_kind, activation_kind) else "native"


@builders.register("Dense")
def dense(spec, ctx) -> BuiltLayer:
    """L.Linear stores W (out, in): transposed. It flattens all axes after the first unless told
    otherwise, so n_batch_axes = ndim - 1 makes it act on the last axis, as Dense does."""
    linear = L.Linear(ctx.input_shapes[0][-1], spec.units, nobias=not spec.use_bias)
    activation, kind, detail = ctx.activation(spec.activation)
    bindings = [WeightBinding("kernel", linear.W, "Linear.W", DENSE_KERNEL_TO_OUT_IN)]
    if spec.use_bias:
        bindings.append(WeightBinding("bias", linear.b, "Linear.b", AS_IS))
    return BuiltLayer(call=lambda x: activation(linear(x, n_batch_axes=x.ndim - 1)), bindings=bindings,
                      implementation=combined("native", kind),
                      detail=f"chainer.links.Linear(n_batch_axes=ndim-1), then {detail}", module=linear)


@builders.register("Activation")
def activation(spec, ctx) -> BuiltLayer:
    function, kind, detail = ctx.activation(spec.activation)
    return BuiltLayer(call=function, implementation=kind, detail=detail)


@builders.register("Flatten")
def flatten(spec, ctx) -> BuiltLayer:
    if spec.data_format == "channels_last" or len(ctx.input_shapes[0]) < 2:
        return BuiltLayer(call=lambda x: F.reshape(x, (x.shape[0], -1)), detail="F.reshape(x, (batch, -1))")
    # Keras' Flatten(data_format='channels_first') flattens in channels-last order
    # (keras/src/layers/reshaping/flatten.py); a reshape flattens as laid out.
    return BuiltLayer(call=lambda x: F.reshape(F.moveaxis(x, 1, -1), (x.shape[0], -1)),
                      implementation="composite",
                      detail="F.moveaxis(x, 1, -1), then F.reshape(x, (batch, -1)): chainer flattens as "
                             "laid out, Keras' channels_first Flatten moves the channels last first")


@builders.register("Rescaling")
def rescaling(spec, ctx) -> BuiltLayer:
    """chainer has no rescaling link: Variable arithmetic."""
    return BuiltLayer(call=lambda x: x * spec.scale + spec.offset, implementation="composite",
                      detail=f"x * {spec.scale} + {spec.offset}: chainer has no rescaling link")


@imports.register(L.Linear, produces=("Dense", "Flatten"))
def import_linear(link, shape, reasons) -> list[dict]:
    """chainer/links/connection/linear.py: L.Linear flattens every axis but the batch axis
    before its product (chainer/functions/connection/linear.py, `n_batch_axes=1`), so a Linear
    on a rank > 2 input becomes a Flatten (the array as it is) and a Dense."""
    flatten = [{"type": "Flatten", "data_format": "channels_last"}] if len(shape) > 1 else []
    return [*flatten, {"type": "Dense", "units": link.out_size, "use_bias": link.b is not None}]


def import_activation(name: str):
    return lambda function, shape, reasons: [{"type": "Activation", "activation": name}]


_activation = chainer.functions.activation
for _function, _node, _name in ((F.relu, _activation.relu.ReLU, "relu"), (F.tanh, _activation.tanh.Tanh, "tanh"),
                                (F.sigmoid, _activation.sigmoid.Sigmoid, "sigmoid")):
    # The function, as a chainer.Sequential holds it; its FunctionNode, as a traced forward records it.
    imports.register(_function, _node, produces=(f"Activation:{_name}",))(import_activation(_name))


@templates.register("Dense")
def dense_template(spec, input_shapes, dtype, training) -> str:
    # Built outside the f-string: an f-string nesting ''' parses only from Python 3.12 (PEP 701),
    # and the project runs on 3.11 (tests/test_imports.py compiles every module).
    bias_cast = "\nlinear.b.array = linear.b.array.astype(dtype)" if spec.use_bias else ""
    bias_param = ', "Linear.b": linear.b' if spec.use_bias else ""
    return f'''
linear = L.Linear({input_shapes[0][-1]}, {spec.units}, nobias={not spec.use_bias})
linear.W.array = linear.W.array.astype(dtype){bias_cast}
params = {{"Linear.W": linear.W{bias_param}}}
layer = lambda x: {activation_source(spec.activation, "linear(x, n_batch_axes=x.ndim - 1)")}
'''
