"""Keras builders for LSTM, GRU and SimpleRNN.

Keras' layers are the canonical ones (keras/src/layers/rnn/{lstm,gru,simple_rnn}.py): weights go
in as they are, and they take any activation, so they are native whatever the case asks (unless
an activation itself is composite in Keras). LSTM and GRU get `use_cudnn=False`: the cuDNN
kernel exists only on a GPU and only for the standard cell; the generic cell is the same
computation on every machine (SimpleRNN has no cuDNN path).
"""

from __future__ import annotations

from dataclasses import replace

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.gates import GateLayout, gate_transform
from harness.backends.keras._import import keras
from harness.backends.keras.core import built
from harness.backends.keras.registry import LAYER_BUILDERS as builders


def bind(spec, ctx, layer) -> list[WeightBinding]:
    """The cell's kernel, recurrent_kernel and bias, as they are; the descriptions say which
    columns hold which gate."""
    features, u = ctx.input_shapes[0][-1], spec.units
    width = len(spec.gates) * u
    same = GateLayout(spec.gates, spec.gates, transposed=False)
    cell, kind = layer.cell, type(layer).__name__
    bias_shape = tuple(cell.bias.shape)
    bias_intro = "row 0 input bias, row 1 recurrent bias" if len(bias_shape) == 2 else ""
    return [
        WeightBinding("kernel", cell.kernel, f"{kind}.cell.kernel",
                      gate_transform(same, u, (features, width), intro="as is")),
        WeightBinding("recurrent_kernel", cell.recurrent_kernel, f"{kind}.cell.recurrent_kernel",
                      gate_transform(same, u, (u, width), intro="as is")),
        WeightBinding("bias", cell.bias, f"{kind}.cell.bias",
                      gate_transform(same, u, bias_shape, intro="as is" + (f", {bias_intro}" if bias_intro else ""))),
    ]


def activations(spec, ctx) -> tuple[dict, str, str]:
    """Keyword arguments for the layer, the implementation kind and the description."""
    kwargs, kinds, details = {}, [], []
    for field in ("activation", "recurrent_activation"):
        if hasattr(spec, field):
            function, kind, detail = ctx.activation(getattr(spec, field))
            kwargs[field] = function
            kinds.append(kind)
            details.append(f"{field}={detail}")
    return kwargs, "composite" if "composite" in kinds else "native", ", ".join(details)


def unbuilt(spec, ctx, name: str | None = None):
    """The Keras layer for a recurrent spec, not yet built, with its implementation kind and
    description (Bidirectional wraps it before it is built)."""
    layer_class, settings = KERAS_LAYERS[spec.type]
    settings = settings(spec)
    if spec.go_backwards:  # Keras' own meaning is the canonical one (harness/reference/layers/recurrent.py)
        settings["go_backwards"] = True
    kwargs, kind, described = activations(spec, ctx)
    layer = layer_class(spec.units, return_sequences=spec.return_sequences, dtype=ctx.dtype,
                        name=name or ctx.layer_name, **kwargs, **settings)
    options = "".join(f"{k}={v}, " for k, v in settings.items())
    return layer, kind, f"keras.layers.{layer_class.__name__}({options}{described})"


KERAS_LAYERS = {
    # LSTM and GRU get use_cudnn=False: see the module's docstring.
    "LSTM": (keras.layers.LSTM, lambda spec: {"unit_forget_bias": spec.unit_forget_bias, "use_cudnn": False}),
    "GRU": (keras.layers.GRU, lambda spec: {"reset_after": spec.reset_after, "use_cudnn": False}),
    "SimpleRNN": (keras.layers.SimpleRNN, lambda spec: {}),
}


@builders.register(*KERAS_LAYERS)
def recurrent(spec, ctx) -> BuiltLayer:
    layer, kind, detail = unbuilt(spec, ctx)
    layer = built(layer, ctx)
    return BuiltLayer(call=layer, bindings=bind(spec, ctx, layer), implementation=kind, module=layer,
                      detail=detail)


@builders.register("Bidirectional")
def bidirectional(spec, ctx) -> BuiltLayer:
    """keras.layers.Bidirectional itself, the canonical one: its forward_layer and
    backward_layer (the wrapped config with go_backwards negated) hold forward/... and
    backward/... as they are."""
    inner, kind, detail = unbuilt(spec.layer, ctx, name=f"{ctx.layer_name}_layer")
    layer = built(keras.layers.Bidirectional(inner, merge_mode=spec.merge_mode, dtype=ctx.dtype,
                                             name=ctx.layer_name), ctx)
    bindings = []
    for direction in ("forward", "backward"):
        part = getattr(layer, f"{direction}_layer")
        bindings += [replace(b, parameter=f"{direction}/{b.parameter}",
                             native_name=f"Bidirectional.{direction}_layer.{b.native_name.split('.', 1)[1]}")
                     for b in bind(spec.layer, ctx, part)]
    return BuiltLayer(call=layer, bindings=bindings, implementation=kind, module=layer,
                      detail=f"keras.layers.Bidirectional({detail}, merge_mode={spec.merge_mode!r})")
