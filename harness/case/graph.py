"""The model of a case as a graph: nodes in evaluation order, shapes, and canonical parameters.

Sequential models become a chain. A node has one output tensor, named as the node, unless its
layer has further outputs (`LayerSpec.further_outputs`: a recurrent layer's final states with
`return_state`): those are the tensors `<node>.<output>` (`lstm.h`, `lstm.c`), which later
nodes, `outputs` and losses name like any other tensor. A `Reuse` node becomes a second application of an earlier
layer: same layer name, so the same parameters. Nodes must come after the nodes they read, so
the file order is the evaluation order (and the order of the summary).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.reference.activations import ActivationSpec
from harness.case.loader import LoadedCase
from harness.case.schema import ModelSpec
from harness.reference.layers.base import LayerSpec
from harness.reference.layers.core import Reuse
from harness.reference.spec import Shape


@dataclass
class Node:
    """One application of a layer."""

    name: str
    layer: str
    """Name of the layer object applied here: the node's own name, or the reused node's."""
    spec: LayerSpec
    inputs: list[str]
    output_shape: Shape
    input_shapes: list[Shape]
    outputs: list[str] = field(default_factory=list)
    """The tensors this application produces: its own name, then `<name>.<output>` for each of
    the layer's further outputs (a recurrent layer's final states with `return_state`)."""

    @property
    def reused(self) -> bool:
        return self.layer != self.name

    def store(self, tensors: dict, value) -> None:
        """Put what the layer's call returned under this node's output names: the value itself,
        or, with further outputs, its parts (main, *further) in order."""
        if len(self.outputs) == 1:
            tensors[self.name] = value
        else:
            tensors.update(zip(self.outputs, value, strict=True))


@dataclass
class Graph:
    inputs: dict[str, Shape]
    nodes: list[Node]
    outputs: list[str]
    layers: dict[str, LayerSpec] = field(default_factory=dict)
    """Each layer object once, by name, in order of first use."""
    layer_input_shapes: dict[str, list[Shape]] = field(default_factory=dict)
    parameter_shapes: dict[str, Shape] = field(default_factory=dict)
    """Canonical `<layer>/<parameter>` -> shape, in layer order."""
    shapes: dict[str, Shape] = field(default_factory=dict)
    """Every tensor (inputs and node outputs) -> shape without batch axis."""

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def parameters_of(self, layer: str) -> dict[str, Shape]:
        prefix = layer + "/"
        return {key[len(prefix):]: shape for key, shape in self.parameter_shapes.items()
                if key.startswith(prefix)}


def build_graph(loaded: LoadedCase, input_shapes: dict[str, Shape]) -> Graph:
    model: ModelSpec = loaded.spec.model
    if model.sequential is not None:
        if len(input_shapes) != 1:
            raise loaded.error("a sequential model reads exactly one input",
                               ("model", "sequential"), expected="one entry under `inputs`",
                               found=sorted(input_shapes), hint="use the graph form (`nodes`) for several inputs")
        specs, form = model.sequential, "sequential"
    else:
        specs, form = model.nodes, "nodes"
    graph = Graph(inputs=dict(input_shapes), nodes=[], outputs=[], shapes=dict(input_shapes))
    names = _assign_names(loaded, specs, form, set(input_shapes))
    previous = next(iter(input_shapes))
    for index, (spec, name) in enumerate(zip(specs, names)):
        path = ("model", form, index)
        if form == "sequential":
            if spec.inputs is not None:
                raise loaded.error("`inputs` belongs to the graph form", (*path, "inputs"),
                                   hint="in a sequential list each layer reads the one before")
            inputs = [previous]
        else:
            if not spec.inputs:
                raise loaded.error("a graph node must name its inputs", (*path, "inputs"),
                                   expected="a list of input or earlier node names")
            inputs = spec.inputs
        _add_node(loaded, graph, spec, name, inputs, path)
        previous = name
    graph.outputs = _outputs(loaded, model, graph, previous)
    return graph


def _assign_names(loaded, specs, form, taken: set[str]) -> list[str]:
    """Explicit names, else Keras' scheme (dense, dense_1, ...); every name unique."""
    explicit = {spec.name for spec in specs if spec.name}
    counters: dict[str, int] = {}
    names = []
    for index, spec in enumerate(specs):
        name = spec.name
        if name is None:
            stem = type(spec).default_name_stem()
            while True:
                count = counters.get(stem, 0)
                counters[stem] = count + 1
                name = stem if count == 0 else f"{stem}_{count}"
                if name not in explicit and name not in taken:
                    break
        if name in taken or "/" in name:
            problem = "is used twice" if name in taken else "may not contain '/'"
            raise loaded.error(f"layer name {name!r} {problem}", ("model", form, index, "name"),
                               hint="give every layer and input a distinct name")
        taken.add(name)
        names.append(name)
    return names


def _add_node(loaded, graph: Graph, spec: LayerSpec, name: str, inputs: list[str], path) -> None:
    if name in graph.shapes:
        raise loaded.error(f"layer name {name!r} is an earlier layer's output", (*path, "name"),
                           hint="give every layer a name no other tensor has")
    for source in inputs:
        if source not in graph.shapes:
            raise loaded.error(f"unknown input {source!r}", (*path, "inputs"),
                               expected="a model input or a node defined above this one",
                               found=source, hint="known so far: " + ", ".join(graph.shapes))
    shapes = [graph.shapes[source] for source in inputs]
    layer = name
    if isinstance(spec, Reuse):
        if spec.layer not in graph.layers:
            raise loaded.error(f"Reuse names unknown layer {spec.layer!r}", (*path, "layer"),
                               expected="the name of a layer defined above", found=spec.layer)
        layer = spec.layer
        spec = graph.layers[layer]
    arity = spec.input_count()
    if arity is None and len(inputs) < 2 or arity is not None and len(inputs) != arity:
        wanted = "two or more" if arity is None else str(arity)
        raise loaded.error(f"{spec.type} takes {wanted} inputs, got {len(inputs)}", (*path, "inputs"))
    try:
        output_shape = tuple(spec.output_shape([tuple(s) for s in shapes]))
        further = {f"{name}.{output}": tuple(shape)
                   for output, shape in spec.further_outputs([tuple(s) for s in shapes]).items()}
        parameters = spec.parameter_shapes([tuple(s) for s in shapes])
    except ValueError as exc:
        raise loaded.error(f"{spec.type} cannot take input shape(s) {[list(s) for s in shapes]}: {exc}",
                           path) from None
    for field_name in type(spec).model_fields:
        activation = getattr(spec, field_name)
        if isinstance(activation, ActivationSpec):
            try:
                activation.check_rank(spec.activation_rank(output_shape))
            except ValueError as exc:
                raise loaded.error(f"{spec.type} {field_name}: {exc}", (*path, field_name)) from None
    if layer in graph.layers:
        if parameters != graph.parameters_of(layer):
            raise loaded.error(f"reusing layer {layer!r} on inputs of another shape changes its weights",
                               path, expected=str(graph.parameters_of(layer)), found=str(parameters))
    else:
        graph.layers[layer] = spec
        graph.layer_input_shapes[layer] = shapes
        for parameter, shape in parameters.items():
            graph.parameter_shapes[f"{layer}/{parameter}"] = tuple(shape)
    for tensor in further:
        if tensor in graph.shapes:
            raise loaded.error(f"{spec.type} {name!r} outputs {tensor!r}, a name already taken", path,
                               hint="rename the layer or the input of that name")
    graph.nodes.append(Node(name=name, layer=layer, spec=spec, inputs=list(inputs),
                            output_shape=output_shape, input_shapes=shapes, outputs=[name, *further]))
    graph.shapes[name] = output_shape
    graph.shapes.update(further)


def _outputs(loaded, model: ModelSpec, graph: Graph, last: str) -> list[str]:
    if model.outputs is None:
        return [last]
    for index, output in enumerate(model.outputs):
        if output not in graph.shapes or output in graph.inputs:
            raise loaded.error(f"unknown output {output!r}", ("model", "outputs", index),
                               expected="a node name", found=output)
    return list(model.outputs)
