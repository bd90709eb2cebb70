"""A Keras model object (not a saved file) in the case's terms, subclassed layers expanded.

keras.io's "Text classification with Transformer" defines TransformerBlock and
TokenAndPositionEmbedding as subclassed layers whose __init__ takes no **kwargs, so its saved
`.keras` file cannot be loaded back at all (harness/backends/keras/importer.py refuses it at
keras.saving.load_model). From the live model this importer

* walks the model's graph from its outputs through each KerasTensor's `_keras_history`
  (operation, node index, tensor index; keras/src/ops/node.py records the call's arguments);
* translates each built-in layer with the translation its family module registered
  (REGISTRY.imports, translation.py), a layer met again being a `Reuse` node;
* expands a layer it has no translation for, where it is a Sequential/Functional or a class of
  the user's own (its module outside `keras`), by calling its `call` on the KerasTensors it was
  called with: its built-in sublayers and Keras ops then record new nodes, which the walk
  follows (TransformerBlock becomes MultiHeadAttention, Dropout, Add, LayerNormalization and the
  nested Sequential's Dense layers);
* translates the Keras op `+` (keras/src/ops/numpy.py `Add`) to an Add node; a `+` of a
  constant is recognised as a PositionEmbedding where the constant is exactly the first rows of
  an Embedding the expanded layer holds (keras.io's `self.pos_emb(ops.arange(0, maxlen))`, which
  Keras computes eagerly, so only its value reaches the graph);
* reads the weights from the layer objects (not a file) into a canonical `.npz`.

Everything else (another op, a constant that is no Embedding's rows, a call argument) is an
ImportProblem naming the layer it sits in.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends.keras._import import keras
from harness.backends.keras.attention import SUBLAYERS
from harness.backends.keras.importer import recorded_default
from harness.backends.keras.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.keras.translation import translate
from harness.case.imported_model import ImportedModel, ImportProblem, fixed_input_shapes
from harness.common.errors import CaseError


def read_keras_builder(file: Path, name: str, input_shapes: list[tuple[int, ...]] | None = None) -> ImportedModel:
    """`python -m harness import keras:module.py:build_model`: the module file run, `name` called
    without arguments (a function or a Model class), the keras.Model it returns imported as an
    object. The weights are what that model holds: load trained ones inside the function."""
    if not file.is_file():
        raise CaseError(f"no module file {file}", field="MODEL", expected="keras:path/to/module.py:build_model")
    spec = importlib.util.spec_from_file_location(f"harness_import_{file.stem}", file)
    source = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = source  # classes defined there are looked up by module name
    spec.loader.exec_module(source)
    builder = getattr(source, name, None)
    if not callable(builder):
        raise CaseError(f"{file} has no function or class {name!r}", field="MODEL",
                        expected="keras:path/to/module.py:build_model, build_model() returning a keras.Model")
    model = builder()
    if not isinstance(model, keras.Model):
        raise CaseError(f"{name}() returned {type(model).__name__}, not a keras.Model", field="MODEL",
                        expected="a function or class returning a built keras.Model")
    return read_keras_object(model, input_shapes)


def read_keras_object(model, input_shapes: list[tuple[int, ...]] | None = None) -> ImportedModel:
    """`model`: a built keras.Model (Functional or Sequential); `input_shapes` as
    read_keras_model's (`--input-shape`)."""
    dtypes = {variable.dtype for variable in model.weights if "float" in str(variable.dtype)}
    dtype = dtypes.pop() if len(dtypes) == 1 else "float32"
    walk = GraphWalk(dtype)
    if dtype not in ("float32", "float64"):
        walk.problems.append(ImportProblem(model.name, type(model).__name__, f"weights of dtype {dtype}"))
    tensors = {tensor._keras_history[0].name: tensor for tensor in model.inputs}
    shapes, shape_problems, notes = fixed_input_shapes(
        {name: tuple(tensor.shape[1:]) for name, tensor in tensors.items()}, input_shapes)
    walk.problems += shape_problems
    for name, tensor in tensors.items():
        walk.names[id(tensor)] = name
        walk.taken.add(name)
    inputs = {name: (shapes[name], _input_dtype(tensor.dtype)) for name, tensor in tensors.items()}
    outputs = [walk.value(tensor, model.name) for tensor in model.outputs]

    def write_weights(stem: Path) -> Path:
        file = stem.with_name(stem.name + ".npz")
        with open(file, "wb") as handle:
            np.savez(handle, **walk.weights)
        return file

    def predict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        given = [arrays[name] for name in inputs]
        result = model(given if len(given) > 1 else given[0], training=False)
        results = result if isinstance(result, (list, tuple)) else [result]
        return {output: np.asarray(value) for output, value in zip(outputs, results)}

    return ImportedModel("keras", dtype, inputs, walk.nodes, outputs, walk.problems, write_weights, predict,
                         weights_format="npz", graph=True, notes=notes)


class GraphWalk:
    """The case's nodes, weights and problems, gathered from the output tensors backwards."""

    def __init__(self, dtype: str):
        self.dtype = dtype
        self.nodes: list[dict[str, Any]] = []
        self.weights: dict[str, np.ndarray] = {}
        self.problems: list[ImportProblem] = []
        self.names: dict[int, str] = {}  # id(KerasTensor) -> its node's name
        self.layer_nodes: dict[int, str] = {}  # id(layer) -> the node of its first application
        self.taken: set[str] = set()
        self.kept: list[Any] = []  # tensors made by expansions, alive while their ids are keys
        self.owners: dict[str, Any] = {}  # expanded layer's name -> the layer (position_table's search)
        self.expanding: list[str] = []  # the expanded layers whose call is being walked, innermost last

    def value(self, tensor, within: str) -> str:
        """The node that computes `tensor`; `within`: the layer it was met in (for problems)."""
        if id(tensor) in self.names:
            return self.names[id(tensor)]
        operation, node_index, tensor_index = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        if tensor_index != 0:
            self.problems.append(ImportProblem(operation.name, type(operation).__name__,
                                               f"output {tensor_index} is read; the harness's layers have one output"))
        name = self.application(operation, node, within)
        self.names[id(tensor)] = name
        return name

    def application(self, operation, node, within: str) -> str:
        kind = type(operation).__name__
        within = self.expanding[-1] if self.expanding else within
        args, kwargs = node.arguments.args, node.arguments.kwargs
        if isinstance(operation, keras.layers.Layer) and imports.get(kind) is not None:
            return self.layer(operation, args, kwargs)
        if isinstance(operation, keras.layers.Layer) and expandable(operation):
            return self.expand(operation, args, kwargs)
        if kind in PASS_THROUGH and not isinstance(operation, keras.layers.Layer):
            (tensor,) = [a for a in keras.tree.flatten(args) if isinstance(a, keras.KerasTensor)][:1] or [None]
            if tensor is not None:
                return self.value(tensor, within)
        if kind == "Add" and not isinstance(operation, keras.layers.Layer):
            return self.add(operation, args, within)
        reason = (f"a Keras op inside {within}; the importer translates the ops `+` only"
                  if not isinstance(operation, keras.layers.Layer)
                  else "a built-in Keras layer the harness has no layer for")
        self.problems.append(ImportProblem(operation.name, kind, reason))
        return self.fresh(operation.name)

    def layer(self, layer, args, kwargs) -> str:
        tensors = [t for t in keras.tree.flatten(args) if isinstance(t, keras.KerasTensor)]
        kind = type(layer).__name__
        fields: dict[str, Any] = {}
        given = dict(kwargs)
        if kind == "MultiHeadAttention":  # (query, value[, key]): self-attention only
            if given.pop("use_causal_mask", False):
                fields["causal"] = True
            given.pop("return_attention_scores", None)
            if len({id(t) for t in tensors}) > 1:
                self.problems.append(ImportProblem(layer.name, kind, "called with separate query, value or key "
                                                   "tensors; the harness's MultiHeadAttention is self-attention only"))
            tensors = tensors[:1]
        set_kwargs = sorted(key for key, value in given.items() if not recorded_default(key, value))
        if set_kwargs:
            self.problems.append(ImportProblem(layer.name, kind, f"called with keyword arguments {set_kwargs}"))
        sources = [self.value(t, layer.name) for t in tensors]
        if id(layer) in self.layer_nodes:
            name = self.fresh(layer.name)
            self.nodes.append({"name": name, "type": "Reuse", "layer": self.layer_nodes[id(layer)], "inputs": sources})
            return name
        spec = {**translate(layer, self.dtype, self.problems), **fields}
        name = self.fresh(layer.name)
        spec["name"] = name
        self.layer_nodes[id(layer)] = name
        self.nodes.append({**spec, "inputs": sources})
        for parameter, array in layer_parameters(layer).items():
            self.weights[f"{name}/{parameter}"] = array
        return name

    def expand(self, layer, args, kwargs) -> str:
        """The layer's own `call` on the tensors it was called with, recorded as new nodes."""
        call_kwargs = {key: value for key, value in kwargs.items() if not recorded_default(key, value)}
        for tensor in keras.tree.flatten(args):  # the outer graph first: the walk below stays inside the call
            if isinstance(tensor, keras.KerasTensor):
                self.value(tensor, layer.name)
        self.owners[layer.name] = layer
        try:
            result = layer.call(*args, **call_kwargs)
        except Exception as exc:  # the user's call may fail symbolically in any way
            self.problems.append(ImportProblem(layer.name, type(layer).__name__,
                                               f"its call could not run on symbolic tensors: {exc}"))
            return self.fresh(layer.name)
        if not isinstance(result, keras.KerasTensor):
            self.problems.append(ImportProblem(layer.name, type(layer).__name__, "its call returns no single "
                                               "tensor; the harness's layers have one output"))
            return self.fresh(layer.name)
        self.kept.append(result)
        self.expanding.append(layer.name)
        try:
            return self.value(result, layer.name)
        finally:
            self.expanding.pop()

    def add(self, operation, args, within: str) -> str:
        tensors = [a for a in args if isinstance(a, keras.KerasTensor)]
        if len(args) == 2 and len(tensors) == 2:
            sources = [self.value(t, within) for t in tensors]
            name = self.fresh("add")
            self.nodes.append({"name": name, "type": "Add", "inputs": sources})
            return name
        if len(args) == 2 and len(tensors) == 1:
            constant = np.asarray(keras.ops.convert_to_numpy(next(a for a in args if a is not tensors[0])))
            table = self.position_table(constant, within)
            source = self.value(tensors[0], within)
            if table is None:
                self.problems.append(ImportProblem(operation.name, "Add", f"adds a constant of shape "
                                                   f"{constant.shape} inside {within} that is not the first rows of an "
                                                   "Embedding that layer holds (a position embedding over arange)"))
                return self.fresh("add")
            name = self.fresh(table.name)
            self.nodes.append({"name": name, "type": "PositionEmbedding", "sequence_length": table.input_dim,
                               "inputs": [source]})
            self.weights[f"{name}/embeddings"] = np.asarray(table.embeddings)
            return name
        self.problems.append(ImportProblem(operation.name, "Add", f"`+` of {len(args)} arguments inside {within}"))
        return self.fresh("add")

    def position_table(self, constant: np.ndarray, within: str):
        """The Embedding of the layer `within` whose rows 0..T-1 are `constant` (T, dim) exactly."""
        owner = self.owners.get(within)
        if owner is None or constant.ndim != 2:
            return None
        for sub in owner._flatten_layers(include_self=False):
            if isinstance(sub, keras.layers.Embedding) and sub.built and sub.input_dim >= constant.shape[0]:
                rows = np.asarray(sub.embeddings)[: constant.shape[0]]
                if rows.shape == constant.shape and np.array_equal(rows, constant):
                    return sub
        return None

    def fresh(self, stem: str) -> str:
        name, count = stem, 0
        while name in self.taken:
            count += 1
            name = f"{stem}_{count}"
        self.taken.add(name)
        return name


PASS_THROUGH = {"ConvertToTensor", "Cast"}
"""Ops that change a tensor's dtype only (keras/src/ops/core.py): Embedding casts float token ids
to int32 (keras/src/layers/core/embedding.py `call`), as the case's int32 token inputs are already."""


def expandable(layer) -> bool:
    """A layer whose `call` is a graph of other layers: a Sequential or Functional, or a class of
    the user's own (a Keras built-in without a translation is refused, not opened)."""
    return isinstance(layer, (keras.Sequential, keras.Model)) or not type(layer).__module__.startswith("keras")


def layer_parameters(layer) -> dict[str, np.ndarray]:
    """The canonical parameters of a translated built-in layer, read from its variables: Keras'
    layouts are the canonical ones, its variable names the canonical names (Dense kernel/bias,
    LayerNormalization gamma/beta, Embedding embeddings); MultiHeadAttention's sit on its four
    EinsumDense sublayers (attention.py SUBLAYERS). Non-float variables (a Dropout's seed
    generator state) are no parameters."""
    if isinstance(layer, keras.layers.MultiHeadAttention):
        found = {}
        for name, attribute in SUBLAYERS.items():
            dense = getattr(layer, attribute)
            found[f"{name}_kernel"] = np.asarray(dense.kernel)
            if dense.bias is not None:
                found[f"{name}_bias"] = np.asarray(dense.bias)
        return found
    return {variable.name: np.asarray(variable) for variable in layer.weights if "float" in str(variable.dtype)}


def _input_dtype(dtype: str) -> str:
    return dtype if dtype in ("float32", "float64", "int32", "int64") else "float32"
