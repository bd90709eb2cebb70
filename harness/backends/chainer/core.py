"""chainer builders for Dense, Activation, Flatten and Rescaling."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.chainer._import import F, L
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
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
