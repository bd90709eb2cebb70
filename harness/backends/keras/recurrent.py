"""Keras' LSTM, GRU, SimpleRNN and Bidirectional: builders, import translations and the readers
of their defaults.

Keras' layers are the canonical ones (keras/src/layers/rnn/{lstm,gru,simple_rnn}.py): weights go
in as they are, and they take any activation, so they are native whatever the case asks (unless
an activation itself is composite in Keras). LSTM and GRU get `use_cudnn=False`: the cuDNN
kernel exists only on a GPU and only for the standard cell; the generic cell is the same
computation on every machine (SimpleRNN has no cuDNN path).

Defaults: get_config() for the values, probes on fresh float64 layers for what they mean
(keras/src/layers/rnn/lstm.py and gru.py: kernel columns [i,f,c,o] and [z,r,h]; GRU bias (2, 3u)
when reset_after).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.gates import GateLayout, gate_transform
from harness.backends.keras._import import keras
from harness.backends.keras.core import built
from harness.backends.keras.defaults import numpy
from harness.backends.keras.registry import (DEFAULT_READERS as readers, IMPORT_TRANSLATIONS as imports,
    LAYER_BUILDERS as builders)
from harness.backends.keras.translation import by_config, translate
from harness.case.imported_model import ImportProblem
from harness.defaults import probes
from harness.defaults.reading import Reading


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
    if spec.return_state:
        settings["return_state"] = True  # the call returns [output, h(, c)]: the node's further outputs
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
    layer = built(layer, replace(ctx, input_shapes=ctx.input_shapes[:1]))  # built for x; states follow units
    call = layer
    if spec.initial_state:
        # Keras' own argument (keras/src/layers/rnn/rnn.py RNN.call): a list [h] or [h, c].
        def call(x, *states):
            return layer(x, initial_state=list(states))
        detail += ", called with initial_state=[h" + (", c]" if spec.type == "LSTM" else "]")
    return BuiltLayer(call=call, bindings=bind(spec, ctx, layer), implementation=kind, module=layer,
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


def import_initial_state(name: str, histories: list, kwargs: dict, problems: list) -> tuple[list, dict]:
    """`layer(x, initial_state=[h, c])` in a Functional config (kwargs `initial_state`, a list
    of Keras tensors): the case layer with initial_state reads [x, h(, c)]."""
    given = kwargs.pop("initial_state", None)
    if not given:
        return histories, {}
    states: list = []
    for tensor in given:
        layer, node, index = tensor["config"]["keras_history"]
        states.append((layer, node, index))
    return [*histories, *states], {"initial_state": True}


for kind in KERAS_LAYERS:
    imports.register(kind, produces=(kind,), call=import_initial_state)(by_config(kind))
MASK_ONLY = frozenset({"zero_output_for_mask"})
"""What Bidirectional sets on the layers it wraps, with no effect on a case (below)."""


@imports.register("Bidirectional", produces=("Bidirectional",))
def import_bidirectional(layer, dtype: str, problems: list[ImportProblem],
                         ignored: frozenset = frozenset()) -> dict[str, Any]:
    """keras.layers.Bidirectional: its `layer` config is a serialized Keras layer, so the wrapped
    layer is translated from `forward_layer` itself. Its `backward_layer` must be the wrapped
    layer with go_backwards negated (what Keras builds when none is given; the harness's
    Bidirectional builds only that one); merge_mode None (two outputs) cannot be one case layer."""
    # Bidirectional sets zero_output_for_mask=True on both layers (force_zero_output_for_mask in
    # keras/src/layers/rnn/bidirectional.py): it acts on masked steps only, and a case has no mask.
    forward = translate(layer.forward_layer, dtype, problems, MASK_ONLY)
    backward = translate(layer.backward_layer, dtype, problems, MASK_ONLY)

    def settings(spec):
        return {k: v for k, v in spec.items() if k not in ("name", "go_backwards")}

    if settings(forward) != settings(backward) or \
            bool(forward.get("go_backwards")) == bool(backward.get("go_backwards")):
        problems.append(ImportProblem(layer.name, "Bidirectional", "its backward_layer is not the wrapped layer "
                                                                   "with go_backwards negated"))
    if layer.merge_mode is None:
        problems.append(ImportProblem(layer.name, "Bidirectional", "merge_mode None returns two outputs; a "
                                                                   "case's layer has one"))
    if not layer.trainable:
        problems.append(ImportProblem(layer.name, "Bidirectional", "trainable: false; the case trains every "
                                                                   "parameter but moving statistics"))
    forward.pop("name", None)
    return {"name": layer.name, "type": "Bidirectional", "layer": forward, "merge_mode": layer.merge_mode}


@cache
def lstm_probe() -> tuple:
    config, outputs = keras.layers.LSTM(1).get_config(), []
    for b in probes.LSTM_PROBE_BIASES:
        layer = keras.layers.LSTM(1, dtype="float64")
        layer.build((None, 1, 1))
        cell = layer.cell
        cell.kernel.assign(np.zeros(cell.kernel.shape))
        cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape))
        cell.bias.assign(np.full(cell.bias.shape, b))  # one bias: every gate's total bias is b
        outputs.append(float(numpy(layer(np.zeros((1, 1, 1))))[0, 0]))
    return config, probes.lstm_activations(tuple(outputs))


@readers.register("LSTM.activation")
def lstm_activation(context):
    config, (act, _, probe) = lstm_probe()
    return [Reading("keras.layers.LSTM", "activation", config["activation"], "get_config()", act, probe=probe,
                    used=True)]


@readers.register("LSTM.recurrent_activation")
def lstm_recurrent_activation(context):
    config, (_, rec, probe) = lstm_probe()
    return [Reading("keras.layers.LSTM", "recurrent_activation", config["recurrent_activation"], "get_config()",
                    rec, probe=probe, used=True)]


@cache
def gru_probe() -> tuple:
    config, outputs = keras.layers.GRU(1).get_config(), []
    for h0, w, b in probes.GRU_PROBE_POINTS:
        layer = keras.layers.GRU(1, dtype="float64")
        layer.build((None, 1, 1))
        cell = layer.cell
        cell.kernel.assign(np.zeros(cell.kernel.shape))
        cell.recurrent_kernel.assign(np.full(cell.recurrent_kernel.shape, w))
        # reset_after=True: bias (2, 3u) = [input bias; recurrent bias]; else one bias (3u,).
        bias = np.zeros(cell.bias.shape)
        bias[-1] = b
        cell.bias.assign(bias if bias.ndim == 2 else np.full(cell.bias.shape, b))
        outputs.append(float(numpy(layer(np.zeros((1, 1, 1)), initial_state=[np.full((1, 1), h0)]))[0, 0]))
    return config, probes.gru_formula(tuple(outputs))


def gru_reading(field: str, parameter: str) -> Reading:
    config, (formula, probe) = gru_probe()
    value = formula[field] if formula else None
    meaning = probes.RESET_MEANINGS[value] if field == "reset_after" and formula else ""
    return Reading("keras.layers.GRU", parameter, config.get(parameter) if parameter else None,
                   "get_config()" if parameter else "fixed (no parameter)", value, meaning, probe, used=True)


@readers.register("GRU.activation")
def gru_activation(context):
    return [gru_reading("activation", "activation")]


@readers.register("GRU.recurrent_activation")
def gru_recurrent_activation(context):
    return [gru_reading("recurrent_activation", "recurrent_activation")]


@readers.register("GRU.reset_after")
def gru_reset_after(context):
    return [gru_reading("reset_after", "reset_after")]


@readers.register("GRU.update_gate")
def gru_update_gate(context):
    return [gru_reading("update", "")]
