"""A saved Keras model (`.keras`) in the case's terms, for `python -m harness import`.

The model is loaded with `keras.saving.load_model(path, safe_mode=True)` (no lambda code runs).
The case's layer types are Keras' own, with Keras' option names, so each layer's `get_config()`
translates key by key:

* a key that is a field of the harness's layer spec is copied (`units`, `activation`,
  `kernel_size`, `padding`, `return_sequences`, `reset_after`, ...);
* `name`, `dtype` (checked against the model's), `*_initializer` (the weights come from the
  file) and `build_config` carry no meaning the case needs;
* a regularizer, constraint or activity regularizer that is set, `trainable: false`, and any
  other key whose value differs from the layer class's own default
  (`inspect.signature(cls.__init__)`) is an `ImportProblem`: the harness cannot express it.

Sequential models become the `sequential` form; Functional ones the graph form, read from the
model's config (`inbound_nodes` with `keras_history` [layer, node index, tensor index], as
keras/src/models/functional.py `functional_from_config` reads them): a layer applied again is a
`Reuse` node; call arguments Keras records by itself at inference defaults (`training: false`,
`mask: None`) are not the user's (`RECORDED_DEFAULTS`), other call arguments are problems; dict
outputs name their output layers' nodes, in the dict's order. The weights are written with Keras' own `model.save_weights`, which the case's
model reads back (harness/backends/keras/native.py) with the layer names and order the
case keeps.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends.keras._import import keras
from harness.case.bounded_reading import check_archive, ratio_limit
from harness.common.errors import CaseError
from harness.case.imported_model import ImportedModel, ImportProblem
from harness.reference.layers import LAYERS

CARRIES_NOTHING = {"name", "dtype", "build_config", "seed"}
"""`seed`: Dropout's mask generator seed; the harness's Dropout states its own mask rule."""
RECORDED_DEFAULTS = {"training": (False, None), "mask": (None,), "initial_state": (None,)}
"""Call arguments Keras itself records on every call of a layer that takes them (a Functional
model's config writes `training: false` for each Dropout and RNN call and `mask: None` for each
layer that takes a mask): at these values they are the inference call the harness compares, not
a choice of the user's. Any other value (`training=True`, a mask tensor) is still a problem."""
SETTINGS = {
    # The harness's spec requires what Keras leaves implicit: Keras' own behaviour, stated.
    "BatchNormalization": {"moving_variance": "biased"},  # keras/src/layers/normalization/batch_normalization.py: ops.moments (biased)
}


def read_keras_model(path: Path) -> ImportedModel:
    try:
        check_archive(path, ratio_limit(path))  # before Keras inflates any member
    except ValueError as exc:
        raise CaseError(f"refused: {exc}", file=str(path)) from None
    try:
        model = keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError alike for a bad file
        raise CaseError(f"keras.saving.load_model cannot load it: {exc}", file=str(path)) from None
    # The floating variables only: a Dropout's seed generator state (uint32) is a weight too, and
    # would make a float64 model's set of dtypes {float64, uint32}, imported as float32.
    dtypes = {variable.dtype for variable in model.weights if "float" in str(variable.dtype)}
    dtype = dtypes.pop() if len(dtypes) == 1 else "float32"
    problems: list[ImportProblem] = []
    if dtype not in ("float32", "float64"):
        problems.append(ImportProblem(model.name, type(model).__name__, f"weights of dtype {dtype}"))
    names = input_names(model)
    inputs = {name: (tuple(tensor.shape[1:]), _input_dtype(tensor.dtype)) for name, tensor in zip(names, model.inputs)}
    for name, (shape, _) in inputs.items():
        if any(d is None for d in shape):
            problems.append(ImportProblem(name, "Input", f"shape {shape} has an unknown size; a case's data "
                                                         "has fixed sizes"))
    by_name = {layer.name: layer for layer in model.layers}
    if isinstance(model, keras.Sequential):
        layers = [translate(layer, dtype, problems) for layer in model.layers
                  if not isinstance(layer, keras.layers.InputLayer)]
        outputs, graph, keys = [layers[-1]["name"]], False, []
    else:
        layers, outputs = functional_nodes(model.get_config(), by_name, dtype, problems)
        keys = list(declared_outputs(model.get_config()))
        graph = True

    def write_weights(stem: Path) -> Path:
        file = stem.with_name(stem.name + ".weights.h5")
        model.save_weights(str(file))
        return file

    def write_cut_weights(stem: Path, outputs: list[str]) -> Path | None:
        """`--partial` on a graph: the weights of the sub-model that ends at the kept outputs.
        A .weights.h5 keys layers by their place in the model, not by name, so the full model's
        file would bind the cut model's layers to the wrong tensors; the sub-model's file holds
        exactly the kept layers in their order. None where an output is not a layer's own."""
        if not all(name in by_name for name in outputs):
            return None
        sub = keras.Model(model.inputs, [by_name[name].output for name in outputs])
        file = stem.with_name(stem.name + ".weights.h5")
        sub.save_weights(str(file))
        return file

    def predict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = model([arrays[name] for name in inputs] if len(inputs) > 1 else arrays[next(iter(inputs))],
                       training=False)
        if isinstance(result, dict):  # dict outputs: by the config's keys, whatever order Keras keeps
            results = [result[key] for key in keys]
        else:
            results = result if isinstance(result, (list, tuple)) else [result]
        return {output: np.asarray(value) for output, value in zip(outputs, results)}

    return ImportedModel("keras", dtype, inputs, layers, outputs, problems, write_weights, predict,
                         weights_format="keras", graph=graph, write_cut_weights=write_cut_weights)


def input_names(model) -> list[str]:
    """The input layers' names (a Functional config's `input_layers`); a Sequential model's one
    input is `x` where Keras gave it only a generated tensor name."""
    config = model.get_config()
    if isinstance(model, keras.Sequential):
        first = config["layers"][0]
        return [first["config"]["name"] if first["class_name"] == "InputLayer" else "x"]
    declared = config["input_layers"]
    declared = [declared] if declared and isinstance(declared[0], str) else declared
    return [name for name, _, _ in declared]


def _input_dtype(dtype: str) -> str:
    return dtype if dtype in ("float32", "float64", "int32", "int64") else "float32"


def translate(layer, dtype: str, problems: list[ImportProblem], ignored: frozenset = frozenset()) -> dict[str, Any]:
    """The layer's config as the harness's layer spec; problems for what it cannot express.
    `ignored`: keys a wrapper sets on the layers it wraps, with no effect on a case."""
    kind = type(layer).__name__
    spec_class = LAYERS.get(kind)
    if spec_class is None or kind == "Reuse":
        problems.append(ImportProblem(layer.name, kind, "the harness has no layer of this type"
                                      + ("" if type(layer).__module__.startswith("keras") else " (a custom layer)")))
        return {"name": layer.name, "type": kind}
    if kind in WRAPPERS:
        return WRAPPERS[kind](layer, dtype, problems)
    config = IMPLIED_CONFIG.get(kind, lambda c: c)(layer.get_config())
    fields = spec_class.model_fields
    defaults = {name: parameter.default for name, parameter in inspect.signature(type(layer).__init__).parameters.items()}
    spec: dict[str, Any] = {"name": layer.name, "type": kind, **SETTINGS.get(kind, {})}
    for key, value in config.items():
        if key in fields and key not in ("name", "type", "inputs"):
            spec[key] = _plain(value)
        elif key == "dtype":
            policy = value.get("config", {}).get("name") if isinstance(value, dict) else value
            if policy not in (None, dtype):
                problems.append(ImportProblem(layer.name, kind, f"dtype policy {policy!r} where the model's "
                                                                f"weights are {dtype}"))
        elif key in CARRIES_NOTHING or key in ignored or key.endswith("_initializer"):
            continue
        elif key == "trainable":
            if value is not True:
                problems.append(ImportProblem(layer.name, kind, "trainable: false; the case trains every "
                                                                "parameter but moving statistics"))
        elif key.endswith(("_regularizer", "_constraint")):
            if value is not None:
                problems.append(ImportProblem(layer.name, kind, f"{key} is set; the harness has no {key}"))
        elif key not in defaults and value in (False, None, 0):
            # A switch that is off and that __init__ takes through **kwargs (LSTM's
            # zero_output_for_mask, which acts on masks only; LayerNormalization's rms_scaling).
            continue
        elif key not in defaults or not _same(value, defaults[key]):
            problems.append(ImportProblem(layer.name, kind, f"option {key}={value!r} differs from Keras' "
                                                            f"default and the harness's {kind} has no such field"))
    return spec


def translate_bidirectional(layer, dtype: str, problems: list[ImportProblem]) -> dict[str, Any]:
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


MASK_ONLY = frozenset({"zero_output_for_mask"})
WRAPPERS = {"Bidirectional": translate_bidirectional}
"""Layers whose config holds another layer's serialized config: translated from the layer
objects they wrap."""


def _plain(value: Any) -> Any:
    """Tuples as lists, as a case file writes them (the specs take lists, strictly)."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _same(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return value == default


def functional_nodes(config: dict, by_name: dict, dtype: str,
                     problems: list[ImportProblem]) -> tuple[list[dict], list[str]]:
    """Graph-form nodes in a topological order that follows the config's layer order."""
    inputs = {entry["name"] for entry in config["layers"] if entry["class_name"] == "InputLayer"}
    applications = []  # (layer name, node index, [(layer, node, tensor) it reads])
    call_fields: dict[tuple[str, int], dict[str, Any]] = {}  # fields a call argument sets (CALL_TRANSLATORS)
    for entry in config["layers"]:
        if entry["class_name"] == "InputLayer":
            continue
        for index, node in enumerate(entry["inbound_nodes"]):
            histories = []
            _histories(node.get("args", []), histories)
            kwargs = dict(node.get("kwargs", {}))
            if entry["class_name"] in CALL_TRANSLATORS:
                histories, fields = CALL_TRANSLATORS[entry["class_name"]](entry["name"], histories, kwargs, problems)
                call_fields[(entry["name"], index)] = fields
            given = sorted(key for key, value in kwargs.items() if not recorded_default(key, value))
            if given:
                problems.append(ImportProblem(entry["name"], entry["class_name"],
                                              f"called with keyword arguments {given}"))
            applications.append((entry["name"], index, histories))
    node_names: dict[tuple[str, int], str] = {(name, 0): name for name in inputs}
    done, nodes, specs = set(), [], {}
    taken = set(inputs) | {entry["name"] for entry in config["layers"]}
    while len(done) < len(applications):
        for position, (layer, index, histories) in enumerate(applications):
            ready = all((source, node) in node_names for source, node, _ in histories)
            if position in done or not ready:
                continue
            for source, node, tensor in histories:
                if tensor != 0:
                    problems.append(ImportProblem(layer, type(by_name[layer]).__name__,
                                                  f"reads output {tensor} of {source}: the harness's layers have "
                                                  "one output"))
            sources = [node_names[(source, node)] for source, node, _ in histories]
            if layer not in specs:
                specs[layer] = {**translate(by_name[layer], dtype, problems), **call_fields.get((layer, index), {})}
                nodes.append({**specs[layer], "inputs": sources})
                node_names[(layer, index)] = layer
            else:
                name, count = f"{layer}_{index}", index
                while name in taken:
                    count += 1
                    name = f"{layer}_{count}"
                taken.add(name)
                nodes.append({"name": name, "type": "Reuse", "layer": layer, "inputs": sources})
                node_names[(layer, index)] = name
            done.add(position)
            break
        else:
            raise CaseError("the model's config has a cycle or reads a layer that is not in it")
    outputs = [node_names[(layer, node)] for layer, node, _ in declared_outputs(config).values()]
    return nodes, outputs


def declared_outputs(config: dict) -> dict[Any, list]:
    """The config's `output_layers` as {key: [layer, node, tensor]}: a dict's own keys where the
    model was built with `outputs={name: tensor}` (keras.io's multi-input example; the model
    then returns a dict by these keys), else the positions 0, 1, ... (a list, or one output, which
    Keras does not nest)."""
    declared = config["output_layers"]
    if isinstance(declared, dict):
        return dict(declared)
    declared = [declared] if declared and isinstance(declared[0], str) else declared
    return dict(enumerate(declared))


def recorded_default(key: str, value: Any) -> bool:
    """A call argument Keras records by itself, at its inference default (RECORDED_DEFAULTS);
    any other argument at None is an argument not given."""
    return value is None or any(value is default for default in RECORDED_DEFAULTS.get(key, ()))


def _histories(value: Any, found: list) -> None:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        layer, node, tensor = value["config"]["keras_history"]
        found.append((layer, node, tensor))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _histories(item, found)


# --- layers whose config or call the case states differently ------------------------------------

def _attention_config(config: dict) -> dict:
    """keras.layers.MultiHeadAttention records what it filled in itself (keras/src/layers/attention/
    multi_head_attention.py, `__init__` and `_build_attention`): `value_dim` = key_dim when not
    given, `attention_axes` = (1,) for a (batch, length, features) input. At those values they
    are the harness's self-attention; other values stay options the case cannot express."""
    config = dict(config)
    if config.get("value_dim") == config.get("key_dim"):
        config.pop("value_dim")
    if list(config.get("attention_axes") or []) == [1]:
        config.pop("attention_axes")
    return config


def _attention_call(name: str, histories: list, kwargs: dict, problems: list[ImportProblem]) -> tuple[list, dict]:
    """MultiHeadAttention is called (query, value[, key]): the harness's layer is self-attention,
    so all must be one tensor; `use_causal_mask=True` is its `causal` field."""
    fields = {}
    if kwargs.pop("use_causal_mask", False):
        fields["causal"] = True
    for flag in ("return_attention_scores",):
        if kwargs.get(flag) is False:
            kwargs.pop(flag)
    if len(set(histories)) > 1:
        problems.append(ImportProblem(name, "MultiHeadAttention", "called with separate query, value or key "
                                      "tensors; the harness's MultiHeadAttention is self-attention only"))
    return histories[:1], fields


IMPLIED_CONFIG = {"MultiHeadAttention": _attention_config}
"""Layer class -> its config with the values the layer filled in itself removed."""
CALL_TRANSLATORS = {"MultiHeadAttention": _attention_call}
"""Layer class -> (layer name, tensors read, call kwargs (consumed in place), problems) ->
(the tensors the case's node reads, fields the call sets)."""
