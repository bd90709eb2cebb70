"""A torch module (`module.py:ClassName` plus its state_dict) in the case's terms, for
`python -m harness import`: the machinery (load, walk or trace, dispatch, collect the problems);
the translations themselves sit in the family modules, registered in REGISTRY.imports.

The class is imported from the file and built with no arguments (or a function of no arguments
called: `torchvision.models.resnet18(weights=None)` in a wrapper), the state_dict loaded into it
with `torch.load(weights_only=True)` and `load_state_dict(strict=True)`. An nn.Sequential is
walked child by child (nested nn.Sequential children too, named `features.0` as in the
state_dict): its forward is exactly the children in order (torch/nn/modules/container.py
`Sequential.forward`). Another module's forward is traced with torch.fx into the graph form
(`trace`): submodule calls, the functions and methods with a translation, a submodule called
again as a Reuse node, the indexing after a call that returns a tuple (nn.LSTM/GRU) read onto its
layer (`tuple_getitem`); a forward torch.fx cannot trace (data-dependent control flow) or a call
it has no translation for is refused with the reason.

Each child module translates into a case layer by the translation registered for its class in
REGISTRY.imports (registry.py; one function per module class in the family module of the kinds
it `produces`, the torch option -> the case field, citing the module's source in
torch/nn/modules/); an option the case cannot express is an `ImportProblem`. A torch.fx call
node (a function, or a method by its name) translates by the one registered for its target. Convolutions, pooling and BatchNorm act on
channels_first data, so the case states `data_format: channels_first` / `axis: 1`; nn.Flatten
flattens the array as it is, which is the case's Flatten with `data_format: channels_last`
(no permutation). The weights file is the module's own state_dict, saved with torch.save.
"""

from __future__ import annotations

import importlib.util
import operator
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from harness.backends.torch.import_options import BLOCK_INPUT, tensor_arguments
from harness.backends.torch.registry import REGISTRY
from harness.case.bounded_reading import check_archive, ratio_limit
from harness.common.errors import CaseError
from harness.case.imported_model import ImportedModel, ImportProblem

nn = torch.nn


def read_torch_module(file: Path, class_name: str, state_dict: Path, shapes: list[tuple[int, ...]]) -> ImportedModel:
    module = instantiate(file, class_name)
    try:
        check_archive(state_dict, ratio_limit(state_dict))  # before torch reads any record
    except ValueError as exc:
        raise CaseError(f"refused: {exc}", file=str(state_dict), field="--weights") from None
    try:
        state = torch.load(state_dict, map_location="cpu", weights_only=True)
        module.load_state_dict(state, strict=True)
    except Exception as exc:  # unpickling refusals, missing or unexpected keys, shapes
        raise CaseError(f"the state_dict does not load into {class_name}(): {' '.join(str(exc).split())}",
                        file=str(state_dict), field="--weights") from None
    module.eval()
    dtypes = {parameter.dtype for parameter in module.state_dict().values() if parameter.is_floating_point()}
    dtype = str(dtypes.pop()).replace("torch.", "") if len(dtypes) == 1 else "float32"
    problems: list[ImportProblem] = []
    layers: list[dict[str, Any]] = []
    graph = not isinstance(module, nn.Sequential)
    in_case: set[str] = set()  # buffers whose value the case holds as a layer field (an attention mask)
    if graph:
        names, outputs = trace(module, class_name, layers, problems, in_case)
    else:
        walk(module, "", layers, problems)
        names, outputs = ["x"], [layers[-1]["name"]] if layers else []
    if len(shapes) != len(names):
        problems.append(ImportProblem(class_name, type(module).__name__,
                                      f"{len(shapes)} input shape(s) for {len(names)} input(s) {names}"))
    embedded = {source for layer in layers if layer["type"] == "Embedding" for source in layer.get("inputs", ["x"])}
    if layers and not graph and layers[0]["type"] != "Embedding":
        embedded.discard("x")
    inputs = {name: (tuple(shape), "int64" if name in embedded else dtype) for name, shape in zip(names, shapes)}

    def write_weights(stem: Path) -> Path:
        path = stem.with_name(stem.name + ".pt")
        # A mask buffer is the case's `mask` field, not a tensor of the case's model.
        torch.save({key: value for key, value in module.state_dict().items() if key not in in_case}, path)
        return path

    def predict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            result = module(*[torch.from_numpy(np.ascontiguousarray(arrays[name])) for name in inputs])
        results = result if isinstance(result, (tuple, list)) else [result]
        return {output: value.numpy() for output, value in zip(outputs, results)}

    return ImportedModel("torch", dtype, inputs, layers, outputs, problems, write_weights, predict,
                         weights_format="torch", graph=graph)


def instantiate(file: Path, class_name: str) -> nn.Module:
    if not file.is_file():
        raise CaseError(f"no module file {file}", field="MODEL", expected="path/to/module.py:ClassName")
    spec = importlib.util.spec_from_file_location(f"harness_import_{file.stem}", file)
    source = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = source  # dataclasses and pickling look classes up by module name
    spec.loader.exec_module(source)
    cls = getattr(source, class_name, None)
    if cls is not None and not isinstance(cls, type) and callable(cls):
        return built_by_function(cls, class_name)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise CaseError(f"{file} has no nn.Module class {class_name!r}", field="MODEL",
                        expected="one of " + ", ".join(n for n, v in vars(source).items()
                                                      if isinstance(v, type) and issubclass(v, nn.Module)))
    try:
        return cls()
    except TypeError as exc:
        raise CaseError(f"{class_name}() cannot be built without arguments: {exc}", field="MODEL",
                        hint="give the class defaults for its arguments, or a subclass that passes them") from None


def built_by_function(function: Callable, name: str) -> nn.Module:
    """`module.py:resnet18_random` where that is a function of no arguments returning the module:
    how a library builds its named models (`torchvision.models.resnet18(weights=None)`), so the
    module file calls the library's own constructor instead of re-typing its arguments."""
    try:
        module = function()
    except TypeError as exc:
        raise CaseError(f"{name}() cannot be called without arguments: {exc}", field="MODEL",
                        hint="wrap it in a function of no arguments") from None
    if not isinstance(module, nn.Module):
        raise CaseError(f"{name}() returned {type(module).__name__}, not an nn.Module", field="MODEL",
                        expected="a function of no arguments returning an nn.Module")
    return module


def trace(module: nn.Module, class_name: str, layers: list, problems: list,
          in_case: set[str] | None = None) -> tuple[list[str], list[str]]:
    """Another module's forward, traced with torch.fx.symbolic_trace (torch/fx/_symbolic_trace.py:
    each submodule call, function and method call becomes a graph node) into graph-form case
    nodes: a submodule through its class's translation (named by its path, as in the state_dict; a
    second call is a Reuse node), a function or method through its target's. Returns the input
    names (the forward's parameters) and the output node names; `in_case` receives the names of
    the buffers a call translation read into a layer's fields (an attention mask)."""
    from torch import fx

    try:
        graph = fx.symbolic_trace(module).graph
    except Exception as exc:  # data-dependent control flow and the like
        problems.append(ImportProblem(class_name, type(module).__name__, "torch.fx cannot trace its forward: "
                                      + " ".join(str(exc).split())[:300]))
        return [], []
    names: dict[Any, str] = {}
    taken = {path for path, _ in module.named_modules()}
    inputs, outputs, called = [], [], set()
    tuples: dict[Any, tuple] = {}  # a call returning a tuple (nn.LSTM's (output, states)) -> (case layer, about)
    sequences: dict[Any, tuple] = {}  # that tuple's [0]: the output, still the same case layer
    finals: dict[Any, tuple] = {}  # that tuple's [1] and what indexes it: (case layer, state or None)
    blocks: set[str] = set()  # modules translated into several layers
    order = AxisOrder(problems)
    constants = ModuleConstants(module)
    attributes: list = []  # get_attr nodes, refused unless a call translation read them

    def unique(name: str) -> str:
        candidate, count = name, 1
        while candidate in taken:
            candidate, count = f"{name}_{count}", count + 1
        taken.add(candidate)
        return candidate

    for node in graph.nodes:
        tensors = [argument for argument in node.args if isinstance(argument, fx.Node)]
        if node.op == "placeholder":
            names[node] = unique(node.name)
            inputs.append(names[node])
        elif node.op == "call_module":
            child = module.get_submodule(node.target)
            about = REGISTRY.imports.about.get(type(child), {})
            reasons: list[str] = []
            fields: dict[str, dict] = {}
            if "call" in about:  # a module called with more than its tensor (nn.MultiheadAttention)
                arguments, fields = about["call"](node, reasons, constants)
            else:
                arguments = tensors
                if len(tensors) != len(node.args) or node.kwargs:
                    reasons.append("called with other arguments than tensors")
            sources = [names.get(argument, "?") for argument in arguments]
            if node.target in called:
                problems.extend(ImportProblem(node.target, type(child).__name__, reason) for reason in reasons)
                names[node] = unique(f"{node.target}_again")
                if node.target in blocks:
                    problems.append(ImportProblem(node.target, type(child).__name__, "called again: it is several "
                                                  "case layers, and a Reuse node repeats one layer"))
                    continue
                layers.append({"name": names[node], "type": "Reuse", "layer": node.target, "inputs": sources})
                continue
            called.add(node.target)
            translator = module_translation(child)
            spec = (translator(child, reasons) if translator is not None else {"type": type(child).__name__})
            if translator is None:
                reasons.append("the importer has no translation for this module class")
            problems.extend(ImportProblem(node.target, type(child).__name__, reason) for reason in reasons)
            spec = with_call_fields(spec, fields)
            if isinstance(spec, list):  # a block of several layers (nn.TransformerEncoderLayer)
                block = expand_block(node.target, spec, sources)
                taken.update(layer["name"] for layer in block)
                layers.extend(block)
                names[node] = block[-1]["name"]
                blocks.add(node.target)
            else:
                names[node] = node.target
                layers.append({"name": node.target, **spec, "inputs": sources})
                if "others_used" in about:
                    tuples[node] = (layers[-1], about)
            order.follow(node, arguments, about["time_major"](child) if "time_major" in about else None,
                         layers[-1] if not isinstance(spec, list) else None, node.target, type(child).__name__)
        elif node.op == "call_function" and node.target is operator.getitem:
            if not final_state(node, names, tuples, finals, problems):
                tuple_getitem(node, names, tuples, sequences, problems)
            order.carry(node, node.args[0])
        elif node.op in ("call_function", "call_method") and swaps_batch_and_time(node):
            names[node] = names.get(node.args[0], "?")  # no layer: the case's tensors keep (batch, time, ...)
            order.swap(node, node.args[0])
        elif node.op in ("call_function", "call_method"):
            label = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
            translator = call_translation(node.target)
            reasons = []
            spec = translator(node, reasons) if translator is not None else {"type": label}
            if translator is None:
                reasons.append(f"the importer has no translation for {node.op} {label}")
            names[node] = unique(node.name)
            problems.extend(ImportProblem(names[node], label, reason) for reason in reasons)
            sources = [names.get(argument, "?") for argument in tensor_arguments(node)]
            layers.append({"name": names[node], **spec, "inputs": sources})
            order.follow(node, tensor_arguments(node), None, layers[-1], names[node], label)
        elif node.op == "output":
            result = node.args[0]
            for item in (result if isinstance(result, (tuple, list)) else [result]):
                if isinstance(item, fx.Node) and item in names:
                    outputs.append(names[item])
                    order.check_output(item, names[item])
                else:
                    problems.append(ImportProblem(class_name, "output", f"returns {item!r}, not a tensor"))
        else:  # get_attr: a parameter or buffer used directly in forward (unless a call reads it, below)
            attributes.append(node)
    problems.extend(ImportProblem(str(node.target), node.op, "a tensor attribute used directly in forward; "
                                  "the case's layers own their parameters")
                    for node in attributes if node not in constants.read)
    if in_case is not None:
        in_case.update(str(node.target) for node in constants.read)
    return inputs, outputs


class ModuleConstants:
    """The values of a traced forward's get_attr nodes (a buffer or a tensor attribute of the
    module), for a call translation that accepts a constant argument (an attention mask held as
    a buffer); every one read is remembered, so that it is not also refused as a tensor
    attribute used directly in forward."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.read: set = set()

    def __call__(self, argument):
        """The tensor of a get_attr node; a Python literal as it is; None for any other node
        (a tensor computed in forward is not a constant of the module)."""
        from torch import fx

        if not isinstance(argument, fx.Node):
            return argument
        if argument.op != "get_attr":
            return None
        self.read.add(argument)
        value = self.module
        for part in str(argument.target).split("."):
            value = getattr(value, part)
        return value


def with_call_fields(spec, fields: dict[str, dict]):
    """A call translation's fields (a mask given at the call) on the module's layer (key ""),
    or on the named layers of its block."""
    if not fields:
        return spec
    if isinstance(spec, list):
        return [{**layer, **fields.get(layer["name"], {})} for layer in spec]
    return {**spec, **fields.get("", {})}


def expand_block(path: str, spec: list[dict], sources: list[str]) -> list[dict]:
    """A module's block of layers (its translation returned a list) under the module's path:
    `enc.self_attn`, `enc.norm1`, ... (its submodules' state_dict names), BLOCK_INPUT -> its input."""
    source = sources[0] if sources else "?"
    return [{**layer, "name": f"{path}.{layer['name']}",
             "inputs": [source if name == BLOCK_INPUT else f"{path}.{name}" for name in layer["inputs"]]}
            for layer in spec]


SWAPS = {"transpose", "swapaxes", "swapdims", torch.transpose, torch.swapaxes, torch.swapdims}


def swaps_batch_and_time(node) -> bool:
    """`x.transpose(0, 1)` (and torch.transpose, swapaxes, swapdims) or `x.permute(1, 0, 2, ...)`:
    the batch and time axes swapped, as a model around batch_first=False modules does."""
    dims = [argument for argument in node.args[1:]]
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = list(dims[0])
    if node.target in SWAPS:
        return sorted(dims) == [0, 1] and not node.kwargs
    if node.target in ("permute", torch.permute):
        return len(dims) >= 2 and dims[:2] == [1, 0] and dims[2:] == list(range(2, len(dims))) and not node.kwargs
    return False


PER_POSITION = {"Dense", "Activation", "Dropout", "Add", "Multiply", "ReLU", "LeakyReLU", "Embedding",
                "LayerNormalization"}
"""Case layers that act on each (batch, time) position alike, so on a tensor with the two axes
swapped too (LayerNormalization and Activation only along the last axis)."""


def per_position(layer: dict) -> bool:
    if layer["type"] not in PER_POSITION:
        return False
    axis = layer.get("axis", -1) if layer["type"] == "LayerNormalization" else (
        layer["activation"].get("axis", -1) if isinstance(layer.get("activation"), dict) else -1)
    return axis == -1


class AxisOrder:
    """Which traced tensors are time-major: (time, batch, ...) after a swap of the first two axes
    (`swaps_batch_and_time`). The case's tensors are (batch, time, ...) throughout, so a swap is
    no layer: a module registered with `time_major` (nn.MultiheadAttention or
    nn.TransformerEncoderLayer with batch_first=False) translates as batch-first where its input
    is time-major, position-wise layers pass either order through, and anything else on a
    time-major tensor, a batch_first=False module on a batch-major one, or a time-major output,
    is a problem."""

    def __init__(self, problems: list) -> None:
        self.problems, self.time_major = problems, set()

    def swap(self, node, source) -> None:
        if source not in self.time_major:
            self.time_major.add(node)

    def carry(self, node, source) -> None:
        if source in self.time_major:
            self.time_major.add(node)

    def follow(self, node, arguments: list, wants: bool | None, layer: dict | None, name: str, label: str) -> None:
        """`wants`: the module's own order (True: time-major), None where it has none."""
        found = [argument in self.time_major for argument in arguments]
        if wants is not None:
            if wants and not all(found):
                self.problems.append(ImportProblem(name, label, "batch_first=False: it takes (time, batch, "
                                                   "features), the case's tensors are (batch, time, features); swap "
                                                   "the axes before it (x.transpose(0, 1)) and back after it"))
            elif not wants and any(found):
                self.problems.append(ImportProblem(name, label, "its input has the batch and time axes swapped "
                                                   "(time-major) and it takes (batch, time, features)"))
            if wants:
                self.time_major.add(node)
        elif any(found):
            if all(found) and layer is not None and per_position(layer):
                self.time_major.add(node)
            else:
                self.problems.append(ImportProblem(name, label, "its input has the batch and time axes swapped "
                                                   "(time-major); the case's layers take (batch, time, ...)"))

    def check_output(self, node, name: str) -> None:
        if node in self.time_major:
            self.problems.append(ImportProblem(name, "output", "returns a tensor with the batch and time axes "
                                               "swapped (time-major); swap them back: the case's outputs are "
                                               "(batch, ...)"))


def module_translation(child: nn.Module) -> Callable | None:
    """The translation registered for this module's class (its family module, REGISTRY.imports)."""
    return REGISTRY.imports.get(type(child))


def call_translation(target) -> Callable | None:
    """The translation registered for a torch.fx call's target: a function, or a method's name
    (`x.relu()`). A module class is not a call's target here (those translate the module)."""
    if isinstance(target, type):
        return None
    try:
        return REGISTRY.imports.get(target)
    except TypeError:  # an unhashable target
        return None


ONLY_AFTER_TUPLES = ("the importer translates only the indexing after an nn.LSTM/GRU/MultiheadAttention call "
                     "(`out, _ = lstm(x)`, and `out[:, -1]` after a recurrent one)")


def final_state(node, names: dict, tuples: dict, finals: dict, problems: list) -> bool:
    """The final states of a one-direction nn.LSTM / nn.GRU, read as the case layer's further
    outputs (`return_state`, harness/reference/layers/recurrent.py): `out, (h_n, c_n) =
    self.lstm(x)` (nn.GRU: `out, h_n = ...`), then `h_n[-1]` or `h_n[0]`, which drops torch's
    layer axis (num_layers * directions, 1 here; torch/nn/modules/rnn.py), becomes the tensor
    `<layer>.h` (`<layer>.c` for c_n). False: not such an indexing (tuple_getitem reads it)."""
    source, index = node.args[0], node.args[1]
    if source in tuples and index == 1 and node.users and tuples[source][0]["type"] in STATES:
        layer = tuples[source][0]
        states = STATES[layer["type"]]
        finals[node] = (layer, states[0] if len(states) == 1 else None)
    elif source in finals and finals[source][1] is None and index in (0, 1):
        layer = finals[source][0]
        finals[node] = (layer, STATES[layer["type"]][index])
    elif source in finals and finals[source][1] is not None and index in (0, -1):
        layer, state = finals[source]
        layer["return_state"] = True
        names[node] = f"{layer['name']}.{state}"
        return True
    elif source in finals:
        problems.append(ImportProblem(names.get(source, "?"), f"getitem {index!r}", "a final state is read as "
                                      "h_n[-1] or h_n[0] (its one layer); the case has no other indexing of it"))
    else:
        return False
    names[node] = "?"  # torch's (h_n, c_n) or a state with its layer axis: no case tensor
    if any(user.op != "call_function" or user.target is not operator.getitem for user in node.users):
        problems.append(ImportProblem(names.get(source, "?"), "final states", "used with torch's layer axis; "
                                      "the importer reads a final state as h_n[-1] or h_n[0]"))
    return True


STATES = {"LSTM": ("h", "c"), "GRU": ("h",)}
"""The case layers whose final states the importer reads, and their states in torch's order."""


def tuple_getitem(node, names: dict, tuples: dict, sequences: dict, problems: list) -> None:
    """The indexing that follows a call returning a tuple (registered with `others_used`, the
    reason a use of its other items is refused: nn.LSTM/GRU's final states), read onto the case
    layer instead of becoming a layer of its own:

    * `out, _ = self.lstm(x)`: torch.fx records `getitem(lstm, 0)` (the output, which is the case
      layer's) and `getitem(lstm, 1)`; an unused one is dropped, a used one is a problem (the
      case's layer returns its output only);
    * an indexing of that output: the translation's own `indexing` (recurrent.py `last_step`:
      `out[:, -1]`), or a problem.
    """
    source, index = node.args[0], node.args[1]
    label = f"getitem {index!r}"
    if source in tuples and index == 0:
        names[node], sequences[node] = names[source], tuples[source]
    elif source in tuples and not node.users:
        return  # `out, _ = ...`: the other items, unused
    elif source in tuples:
        problems.append(ImportProblem(names.get(source, "?"), label, tuples[source][1]["others_used"]))
    elif source in sequences and "indexing" in sequences[source][1]:
        layer, about = sequences[source]
        if not about["indexing"](node, source, names.get(source, "?"), layer, problems):
            problems.append(ImportProblem(node.name, label, ONLY_AFTER_TUPLES))
    else:
        problems.append(ImportProblem(node.name, label, ONLY_AFTER_TUPLES))
    names.setdefault(node, names.get(source, "?"))


def walk(module: nn.Sequential, prefix: str, layers: list, problems: list) -> None:
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            walk(child, f"{path}.", layers, problems)
            continue
        if isinstance(child, nn.Identity):
            continue  # computes nothing and holds nothing
        translator = module_translation(child)
        if translator is None:
            problems.append(ImportProblem(path, type(child).__name__, "the importer has no translation for this "
                                          "module class" + ("" if type(child).__module__.startswith("torch.")
                                                            else " (a custom module)")))
            layers.append({"name": path, "type": type(child).__name__})
            continue
        reasons: list[str] = []
        spec = translator(child, reasons)
        if isinstance(spec, list):  # a block with residual connections: a sequential case cannot hold it
            reasons.append("several layers with residual connections: the importer reads it called from a "
                           "module's forward (traced), not as a child of an nn.Sequential")
            spec = {"type": type(child).__name__}
        layers.append({"name": path, **spec})
        problems.extend(ImportProblem(path, type(child).__name__, reason) for reason in reasons)
