"""A saved Keras model (`.keras`) in the case's terms, for `python -m harness import`.

The model is loaded with `keras.saving.load_model(path, safe_mode=True)` (no lambda code runs).
Each layer becomes the case's layer spec through the import translation its family module
registered for its class (REGISTRY.imports; harness/backends/keras/translation.py has the
dispatch and the key-by-key config rule most of them share); a class nothing registered is an
`ImportProblem`, as is every option a translation cannot express.

Sequential models become the `sequential` form; Functional ones the graph form, read from the
model's config (`inbound_nodes` with `keras_history` [layer, node index, tensor index], as
keras/src/models/functional.py `functional_from_config` reads them): a layer applied again is a
`Reuse` node; call arguments Keras records by itself at inference defaults (`training: false`,
`mask: None`) are not the user's (`RECORDED_DEFAULTS`), other call arguments are problems; dict
outputs name their output layers' nodes, in the dict's order. An input whose size the saved model
leaves open (`keras.Input(shape=(None,))`, a variable length) takes it from `--input-shape` or is
a problem that asks for it (harness/case/imported_model.py `fixed_input_shapes`); the case's
description states the length chosen. The weights are written with
Keras' own `model.save_weights`, which the case's model reads back
(harness/backends/keras/native.py) with the layer names and order the case keeps.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends.keras._import import keras
from harness.backends.keras.translation import SUBCLASSED_ADVICE, call_translation, translate
from harness.case.bounded_reading import check_archive, ratio_limit
from harness.common.errors import CaseError
from harness.reference.layers import LAYERS
from harness.case.imported_model import ImportedModel, ImportProblem, fixed_input_shapes

RECORDED_DEFAULTS = {"training": (False, None), "mask": (None,), "initial_state": (None,)}
"""Call arguments Keras itself records on every call of a layer that takes them (a Functional
model's config writes `training: false` for each Dropout and RNN call and `mask: None` for each
layer that takes a mask): at these values they are the inference call the harness compares, not
a choice of the user's. Any other value (`training=True`, a mask tensor) is still a problem."""


def read_keras_model(path: Path, input_shapes: list[tuple[int, ...]] | None = None) -> ImportedModel:
    """`input_shapes` (`--input-shape`, one per input in the model's order): the sizes a saved
    input leaves open (`keras.Input(shape=(None,))`, a variable length); the case states them."""
    try:
        check_archive(path, ratio_limit(path))  # before Keras inflates any member
    except ValueError as exc:
        raise CaseError(f"refused: {exc}", file=str(path)) from None
    try:
        model = keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError alike for a bad file
        raise CaseError(f"keras.saving.load_model cannot load it: {exc}", file=str(path),
                        hint=unregistered_class_hint(str(exc))) from None
    # The floating variables only: a Dropout's seed generator state (uint32) is a weight too, and
    # would make a float64 model's set of dtypes {float64, uint32}, imported as float32.
    dtypes = {variable.dtype for variable in model.weights if "float" in str(variable.dtype)}
    dtype = dtypes.pop() if len(dtypes) == 1 else "float32"
    problems: list[ImportProblem] = []
    if dtype not in ("float32", "float64"):
        problems.append(ImportProblem(model.name, type(model).__name__, f"weights of dtype {dtype}"))
    names = input_names(model)
    by_name = {layer.name: layer for layer in model.layers}
    # Each input by its layer's name: model.inputs flattens a dict of inputs in sorted key order
    # (keras.tree.flatten), not the order the config (and so --input-shape) declares.
    tensors = {name: by_name[name].output for name in names} if not isinstance(model, keras.Sequential) \
        else dict(zip(names, model.inputs))
    shapes, shape_problems, notes = fixed_input_shapes(
        {name: tuple(tensor.shape[1:]) for name, tensor in tensors.items()}, input_shapes)
    problems += shape_problems
    inputs = {name: (shapes[name], _input_dtype(tensor.dtype)) for name, tensor in tensors.items()}
    keyed_inputs = input_keys(model)
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
        if keyed_inputs:  # keras.Model(inputs={key: tensor}): called with a dict by the same keys
            given = {key: arrays[name] for key, name in keyed_inputs.items()}
        else:
            given = [arrays[name] for name in inputs] if len(inputs) > 1 else arrays[next(iter(inputs))]
        result = model(given, training=False)
        if isinstance(result, dict):  # dict outputs: by the config's keys, whatever order Keras keeps
            results = [result[key] for key in keys]
        else:
            results = result if isinstance(result, (list, tuple)) else [result]
        return {output: np.asarray(value) for output, value in zip(outputs, results)}

    return ImportedModel("keras", dtype, inputs, layers, outputs, problems, write_weights, predict,
                         weights_format="keras", graph=graph, write_cut_weights=write_cut_weights, notes=notes)


def unregistered_class_hint(message: str) -> str | None:
    """keras.saving's "Could not locate class 'X'" (keras/src/saving/serialization_lib.py
    `_retrieve_class_or_fn`): a class the file names but only the user's script defines, as
    keras.io's Transformer example leaves its TransformerBlock and TokenAndPositionEmbedding
    unregistered. What the user can do, in the order it gets further."""
    found = re.search(r"Could not locate class '([^']+)'", message)
    if found is None:
        return None
    return (f"{found.group(1)} is a class of the script that saved the model (a subclassed layer): "
            f"keras.saving rebuilds it only where it is registered "
            f"(@keras.saving.register_keras_serializable(), with **kwargs passed on to super().__init__ "
            f"and a get_config returning its arguments). Even then, {SUBCLASSED_ADVICE}.")


def input_names(model) -> list[str]:
    """The input layers' names (a Functional config's `input_layers`); a Sequential model's one
    input is `x` where Keras gave it only a generated tensor name."""
    config = model.get_config()
    if isinstance(model, keras.Sequential):
        first = config["layers"][0]
        return [first["config"]["name"] if first["class_name"] == "InputLayer" else "x"]
    declared = config["input_layers"]
    if isinstance(declared, dict):  # keras.Model(inputs={key: tensor}): the dict's order
        return [name for name, _, _ in declared.values()]
    declared = [declared] if declared and isinstance(declared[0], str) else declared
    return [name for name, _, _ in declared]


def input_keys(model) -> dict[str, str]:
    """A model built with `inputs={key: tensor}` (keras.io's functional API guide passes its
    ticket model's inputs so) is called with a dict by those keys: {key: input layer name};
    empty for list or single inputs."""
    if isinstance(model, keras.Sequential):
        return {}
    declared = model.get_config()["input_layers"]
    return {key: name for key, (name, _, _) in declared.items()} if isinstance(declared, dict) else {}


def _input_dtype(dtype: str) -> str:
    return dtype if dtype in ("float32", "float64", "int32", "int64") else "float32"


def functional_nodes(config: dict, by_name: dict, dtype: str,
                     problems: list[ImportProblem]) -> tuple[list[dict], list[str]]:
    """Graph-form nodes in a topological order that follows the config's layer order."""
    inputs = {entry["name"] for entry in config["layers"] if entry["class_name"] == "InputLayer"}
    applications = []  # (layer name, node index, [(layer, node, tensor) it reads])
    call_fields: dict[tuple[str, int], dict[str, Any]] = {}  # fields a call argument sets (translation.call_translation)
    for entry in config["layers"]:
        if entry["class_name"] == "InputLayer":
            continue
        for index, node in enumerate(entry["inbound_nodes"]):
            histories = []
            _histories(node.get("args", []), histories)
            kwargs = dict(node.get("kwargs", {}))
            call = call_translation(entry["class_name"])
            if call is not None:
                histories, fields = call(entry["name"], histories, kwargs, problems)
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
            sources = [tensor_name(node_names, specs, history, layer, by_name, problems) for history in histories]
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
    outputs = [tensor_name(node_names, specs, history, "outputs", by_name, problems)
               for history in declared_outputs(config).values()]
    return nodes, outputs


def tensor_name(node_names: dict, specs: dict, history, reader: str, by_name: dict, problems: list) -> str:
    """The case tensor a Keras history [layer, node, tensor] names: the node's output, or for
    tensor k > 0 of a recurrent layer with return_state ([output, h, c]) its further output
    `<node>.<state>` (harness/reference/layers/recurrent.py); other layers have one output."""
    source, node, tensor = history
    name = node_names[(source, node)]
    if tensor == 0:
        return name
    spec = specs.get(source, {})
    states = getattr(LAYERS.get(spec.get("type", "")), "state_names", ())
    if spec.get("return_state") and tensor <= len(states):
        return f"{name}.{states[tensor - 1]}"
    kind = type(by_name[reader]).__name__ if reader in by_name else "model"
    problems.append(ImportProblem(reader, kind, f"reads output {tensor} of {source}: the harness's layers have "
                                                "one output (a recurrent layer's return_state states aside)"))
    return name


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
