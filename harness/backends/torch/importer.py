"""A torch module (`module.py:ClassName` plus its state_dict) in the case's terms, for
`python -m harness import`.

The class is imported from the file and built with no arguments (or a function of no arguments
called: `torchvision.models.resnet18(weights=None)` in a wrapper), the state_dict loaded into it
with `torch.load(weights_only=True)` and `load_state_dict(strict=True)`. An nn.Sequential is
walked child by child (nested nn.Sequential children too, named `features.0` as in the
state_dict): its forward is exactly the children in order (torch/nn/modules/container.py
`Sequential.forward`). Another module's forward is traced with torch.fx into the graph form
(`trace`): submodule calls, the functions and methods of `FX_FUNCTIONS`, a submodule called
again as a Reuse node, the indexing after an nn.LSTM/GRU call read onto its layer
(`recurrent_getitem`); a forward torch.fx cannot trace (data-dependent control flow) or a call
it has no translation for is refused with the reason.

Each child module translates into a case layer by `TRANSLATORS` (one function per module class,
the torch option -> the case field, citing the module's source in torch/nn/modules/); an option
the case cannot express is an `ImportProblem`. Convolutions, pooling and BatchNorm act on
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
    if graph:
        names, outputs = trace(module, class_name, layers, problems)
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
        torch.save(module.state_dict(), path)
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


def trace(module: nn.Module, class_name: str, layers: list, problems: list) -> tuple[list[str], list[str]]:
    """Another module's forward, traced with torch.fx.symbolic_trace (torch/fx/_symbolic_trace.py:
    each submodule call, function and method call becomes a graph node) into graph-form case
    nodes: a submodule through `TRANSLATORS` (named by its path, as in the state_dict; a second
    call is a Reuse node), a function or method through `FX_FUNCTIONS`. Returns the input names
    (the forward's parameters) and the output node names."""
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
    tuples: dict[Any, dict] = {}  # an nn.LSTM/GRU call (its (output, state) tuple) -> its case layer
    sequences: dict[Any, dict] = {}  # that tuple's [0]: the sequence, still the same case layer

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
            if len(tensors) != len(node.args) or node.kwargs:
                problems.append(ImportProblem(node.target, type(child).__name__, "called with other arguments "
                                              "than tensors"))
            sources = [names.get(argument, "?") for argument in tensors]
            if node.target in called:
                names[node] = unique(f"{node.target}_again")
                layers.append({"name": names[node], "type": "Reuse", "layer": node.target, "inputs": sources})
                continue
            called.add(node.target)
            translator = TRANSLATORS.get(type(child))
            reasons: list[str] = []
            spec = (translator(child, reasons) if translator is not None else {"type": type(child).__name__})
            if translator is None:
                reasons.append("the importer has no translation for this module class")
            problems.extend(ImportProblem(node.target, type(child).__name__, reason) for reason in reasons)
            names[node] = node.target
            layers.append({"name": node.target, **spec, "inputs": sources})
            if isinstance(child, RECURRENT):
                tuples[node] = layers[-1]
        elif node.op == "call_function" and node.target is operator.getitem:
            recurrent_getitem(node, names, tuples, sequences, problems)
        elif node.op in ("call_function", "call_method"):
            label = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
            translator = FX_FUNCTIONS.get(node.target)
            reasons = []
            spec = translator(node, reasons) if translator is not None else {"type": label}
            if translator is None:
                reasons.append(f"the importer has no translation for {node.op} {label}")
            names[node] = unique(node.name)
            problems.extend(ImportProblem(names[node], label, reason) for reason in reasons)
            sources = [names.get(argument, "?") for argument in _tensor_arguments(node)]
            layers.append({"name": names[node], **spec, "inputs": sources})
        elif node.op == "output":
            result = node.args[0]
            for item in (result if isinstance(result, (tuple, list)) else [result]):
                if isinstance(item, fx.Node) and item in names:
                    outputs.append(names[item])
                else:
                    problems.append(ImportProblem(class_name, "output", f"returns {item!r}, not a tensor"))
        else:  # get_attr: a parameter or buffer used directly in forward
            problems.append(ImportProblem(str(node.target), node.op, "a tensor attribute used directly in forward; "
                                          "the case's layers own their parameters"))
    return inputs, outputs


LAST_STEP = [(slice(None), -1), (slice(None), -1, slice(None)), (slice(None), -1, Ellipsis)]
"""`out[:, -1]` and its spellings on a batch_first sequence: the last step."""


def recurrent_getitem(node, names: dict, tuples: dict, sequences: dict, problems: list) -> None:
    """The indexing that follows an nn.LSTM/GRU call in a torch text model, mapped onto the
    case's recurrent layer instead of becoming a layer of its own:

    * `out, _ = self.lstm(x)`: torch.fx records `getitem(lstm, 0)` (the sequence, which is the
      case layer's output with return_sequences) and `getitem(lstm, 1)` (the final states); an
      unused one is dropped, a used one is a problem (the case's layer returns its output only);
    * `out[:, -1]` on that sequence, its only use: the last step, which is the case layer with
      return_sequences false (the same value: a forward recurrence's last output). Another
      index, or a sequence also used whole, is a problem; so is `out[:, -1]` of a
      bidirectional module (`bidirectional=True` is the case's Bidirectional concat), whose
      reverse half at the last step is not the reverse direction's final state.
    """
    source, index = node.args[0], node.args[1]
    label = f"getitem {index!r}"
    if source in tuples and index == 0:
        names[node], sequences[node] = names[source], tuples[source]
    elif source in tuples and not node.users:
        return  # `out, _ = ...`: the states, unused
    elif source in tuples:
        problems.append(ImportProblem(names.get(source, "?"), label, "uses the final states; the case's "
                                      "recurrent layer returns its output only"))
    elif source in sequences and index in LAST_STEP and sequences[source]["type"] == "Bidirectional":
        problems.append(ImportProblem(names.get(source, "?"), label, "the last step of a bidirectional output: "
                                      "its reverse half there has read only that step (Keras' Bidirectional "
                                      "without return_sequences takes the reverse direction's state after "
                                      "step 0, h_n[1]); the case has no slice layer for it"))
    elif source in sequences and index in LAST_STEP and len(source.users) == 1:
        sequences[source]["return_sequences"] = False
        names[node] = names[source]
    elif source in sequences and index in LAST_STEP:
        problems.append(ImportProblem(names.get(source, "?"), label, "the last step of a sequence that is also "
                                      "used whole; the case's layer outputs one or the other"))
    else:
        problems.append(ImportProblem(node.name, label, "the importer translates only the indexing after an "
                                      "nn.LSTM/GRU call (`out, _ = lstm(x)`, `out[:, -1]`)"))
    names.setdefault(node, names.get(source, "?"))


def _tensor_arguments(node) -> list:
    from torch import fx

    found = []
    for argument in node.args:
        if isinstance(argument, fx.Node):
            found.append(argument)
        elif isinstance(argument, (tuple, list)):
            found.extend(item for item in argument if isinstance(item, fx.Node))
    return found


def _fx_activation(name: str) -> Callable:
    def translate(node, reasons) -> dict:
        if len(_tensor_arguments(node)) != 1:
            reasons.append("not one tensor argument")
        return {"type": "Activation", "activation": name}
    return translate


def _fx_merge(kind: str) -> Callable:
    def translate(node, reasons) -> dict:
        if len(_tensor_arguments(node)) != len(node.args) or node.kwargs:
            reasons.append("an argument that is not a tensor of the model (a constant)")
        return {"type": kind}
    return translate


def _fx_flatten(node, reasons) -> dict:  # torch.flatten(x, start_dim=0, end_dim=-1); Tensor.flatten alike
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
    if (start, end) != (1, -1):
        reasons.append(f"flatten(start_dim={start}, end_dim={end}); the case flattens every axis but the batch")
    return {"type": "Flatten", "data_format": "channels_last"}


def _fx_cat(node, reasons) -> dict:  # torch.cat(tensors, dim=0)
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    if dim == 0:
        reasons.append("cat along the batch axis")
    return {"type": "Concatenate", "axis": dim}


FX_FUNCTIONS: dict[Any, Callable] = {
    torch.relu: _fx_activation("relu"), torch.nn.functional.relu: _fx_activation("relu"),
    "relu": _fx_activation("relu"), torch.tanh: _fx_activation("tanh"), "tanh": _fx_activation("tanh"),
    torch.sigmoid: _fx_activation("sigmoid"), "sigmoid": _fx_activation("sigmoid"),
    operator.add: _fx_merge("Add"), torch.add: _fx_merge("Add"), operator.mul: _fx_merge("Multiply"),
    torch.mul: _fx_merge("Multiply"), torch.flatten: _fx_flatten, "flatten": _fx_flatten, torch.cat: _fx_cat,
}


def walk(module: nn.Sequential, prefix: str, layers: list, problems: list) -> None:
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            walk(child, f"{path}.", layers, problems)
            continue
        if isinstance(child, nn.Identity):
            continue  # computes nothing and holds nothing
        translator = TRANSLATORS.get(type(child))
        if translator is None:
            problems.append(ImportProblem(path, type(child).__name__, "the importer has no translation for this "
                                          "module class" + ("" if type(child).__module__.startswith("torch.")
                                                            else " (a custom module)")))
            layers.append({"name": path, "type": type(child).__name__})
            continue
        reasons: list[str] = []
        layers.append({"name": path, **translator(child, reasons)})
        problems.extend(ImportProblem(path, type(child).__name__, reason) for reason in reasons)


def _pair(value) -> list[int]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _option(value):
    """An int stays an int (the case reads it for every axis), a tuple becomes a list."""
    return list(value) if isinstance(value, (tuple, list)) else value


def _padding(module, reasons: list[str]):
    """torch's padding as the case writes it: 'valid'/'same', or the explicit amount (an int,
    or one per axis), which the case's convolutions and poolings take (both sides alike)."""
    padding = module.padding
    if padding in ("valid", "same"):
        return padding
    rank = len(_pair(module.kernel_size))
    pads = _pair(padding) * (rank if len(_pair(padding)) == 1 else 1)
    if all(p == 0 for p in pads):
        return "valid"
    # 'same' pads (k - 1) d / 2 on each side where that is whole and the stride 1: equal to it,
    # and Keras runs 'same' natively.
    if isinstance(module, nn.modules.conv._ConvNd) and all(s == 1 for s in _pair(module.stride)) and all(
            (k - 1) * d == 2 * p for k, d, p in zip(_pair(module.kernel_size), _pair(module.dilation) * len(pads), pads)):
        return "same"
    return pads[0] if len(set(pads)) == 1 else list(pads)


def linear(m: nn.Linear, reasons) -> dict:  # torch/nn/modules/linear.py
    return {"type": "Dense", "units": m.out_features, "use_bias": m.bias is not None}


def conv(m, reasons) -> dict:  # torch/nn/modules/conv.py
    if m.padding_mode != "zeros":
        reasons.append(f"padding_mode={m.padding_mode!r}; the case pads with zeros")
    rank = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(m)]
    if rank == 2 and m.groups == m.in_channels > 1 and m.out_channels % m.in_channels == 0:
        return depthwise(m, reasons)
    return {"type": f"Conv{rank}D", "filters": m.out_channels, "kernel_size": _option(m.kernel_size),
            "strides": _option(m.stride), "padding": _padding(m, reasons), "dilation_rate": _option(m.dilation),
            "groups": m.groups, "use_bias": m.bias is not None, "data_format": "channels_first"}


def conv_transpose(m, reasons) -> dict:  # torch/nn/modules/conv.py ConvTranspose1d/2d
    """The case's Conv1DTranspose/Conv2DTranspose with torch's explicit padding and
    output_padding (both crop and extend the full output as torch does: harness/reference/layers/
    transpose.py). padding 0 is written 'valid' with the output_padding stated, the same window
    (F + output_padding cells), which Keras then runs natively."""
    if m.padding_mode != "zeros":
        reasons.append(f"padding_mode={m.padding_mode!r}; the case pads with zeros")
    rank = 1 if isinstance(m, nn.ConvTranspose1d) else 2
    pads, extra = _pair(m.padding), _pair(m.output_padding)
    padding = "valid" if not any(pads) else (pads[0] if len(set(pads)) == 1 else pads)
    layer = {"type": f"Conv{rank}DTranspose", "filters": m.out_channels, "kernel_size": _option(m.kernel_size),
             "strides": _option(m.stride), "padding": padding, "dilation_rate": _option(m.dilation),
             "groups": m.groups, "use_bias": m.bias is not None, "data_format": "channels_first"}
    if any(extra) or padding == "valid":
        layer["output_padding"] = extra[0] if len(set(extra)) == 1 else extra
    return layer


def depthwise(m: nn.Conv2d, reasons) -> dict:
    """Conv2d(groups=in_channels, out=in * K): torch's depthwise convolution ("also known as a
    depthwise convolution", torch/nn/modules/conv.py), MobileNet's. The case's DepthwiseConv2D,
    whose kernel (kh, kw, in, K) the state_dict's weight (in * K, 1, kh, kw) becomes: output
    channel c * K + m in both. (As a grouped Conv2D it would run too, but Keras compiles grouped
    convolutions with XLA on CPU, and the case would not say what the model is.)"""
    return {"type": "DepthwiseConv2D", "kernel_size": _option(m.kernel_size),
            "depth_multiplier": m.out_channels // m.in_channels, "strides": _option(m.stride),
            "padding": _padding(m, reasons), "dilation_rate": _option(m.dilation),
            "use_bias": m.bias is not None, "data_format": "channels_first"}


def batch_norm(m, reasons) -> dict:  # torch/nn/modules/batchnorm.py
    if m.momentum is None:
        reasons.append("momentum=None (a cumulative average); the case's moving statistics use a momentum")
    if not m.track_running_stats:
        reasons.append("track_running_stats=False: batch statistics in eval mode too")
    return {"type": "BatchNormalization", "axis": 1, "epsilon": m.eps, "momentum": 1 - (m.momentum or 0.1),
            "moving_variance": "unbiased", "center": m.affine, "scale": m.affine}


def layer_norm(m: nn.LayerNorm, reasons) -> dict:  # torch/nn/modules/normalization.py
    if m.elementwise_affine and m.bias is None:
        reasons.append("bias=False with elementwise_affine: the case's center goes with scale here")
    axes = list(range(-len(m.normalized_shape), 0))
    return {"type": "LayerNormalization", "axis": axes if len(axes) > 1 else axes[0], "epsilon": m.eps,
            "center": m.elementwise_affine, "scale": m.elementwise_affine}


def embedding(m: nn.Embedding, reasons) -> dict:  # torch/nn/modules/sparse.py
    for option in ("padding_idx", "max_norm"):
        if getattr(m, option) is not None:
            reasons.append(f"{option}={getattr(m, option)!r}")
    return {"type": "Embedding", "input_dim": m.num_embeddings, "output_dim": m.embedding_dim}


def activation(name: str) -> Callable:  # torch/nn/modules/activation.py
    return lambda m, reasons: {"type": "Activation", "activation": name}


def along(name: str) -> Callable:  # torch/nn/modules/activation.py: Softmax, LogSoftmax
    def translate(m, reasons) -> dict:
        if m.dim is None:
            reasons.append("dim=None: torch picks the axis from the input's rank (a legacy rule); "
                           "give the module its dim")
            return {"type": "Activation", "activation": name}
        return {"type": "Activation", "activation": {"name": name, "axis": int(m.dim)}}
    return translate


def gelu(m: nn.GELU, reasons) -> dict:
    return {"type": "Activation", "activation": {"name": "gelu", "approximate": m.approximate}}


def relu6(m: nn.ReLU6, reasons) -> dict:  # torch/nn/modules/activation.py: Hardtanh(0, 6)
    return {"type": "ReLU", "max_value": 6.0}


def hardtanh(m: nn.Hardtanh, reasons) -> dict:
    if m.min_val != 0:
        reasons.append(f"min_val={m.min_val}: the case's ReLU clips below at 0 (a Hardtanh with "
                       "another lower bound has no layer here)")
    return {"type": "ReLU", "max_value": float(m.max_val)}


def threshold(m: nn.Threshold, reasons) -> dict:
    if m.value != 0 or m.threshold < 0:
        reasons.append(f"Threshold({m.threshold}, {m.value}): the case's ReLU maps x <= threshold "
                       "to 0 and needs threshold >= 0")
    return {"type": "ReLU", "threshold": float(m.threshold)}


def leaky_relu(m: nn.LeakyReLU, reasons) -> dict:
    return {"type": "LeakyReLU", "negative_slope": float(m.negative_slope)}


def flatten(m: nn.Flatten, reasons) -> dict:  # torch/nn/modules/flatten.py
    if (m.start_dim, m.end_dim) != (1, -1):
        reasons.append(f"start_dim={m.start_dim}, end_dim={m.end_dim}: the case flattens every axis but the batch")
    return {"type": "Flatten", "data_format": "channels_last"}  # the array as it is: no permutation


def recurrent(kind: str) -> Callable:  # torch/nn/modules/rnn.py: LSTM, GRU
    """One forward layer, batch_first, with biases: the case's layer with every step's output
    (`return_sequences`; `out[:, -1]` after it turns that off, see `recurrent_getitem`). The
    weights stay the state_dict's: the case's torch mapping reorders nn.LSTM's [i, f, g, o] and
    nn.GRU's [r, z, n] rows and folds bias_hh_l0 into the case's bias (harness/weights/native_weights.py).
    nn.GRU computes the reset-after form only."""
    def translate(m, reasons) -> dict:
        if not m.batch_first:
            reasons.append("batch_first=False: time-major input; the case's sequences are (batch, time, features)")
        if m.num_layers != 1:
            reasons.append(f"num_layers={m.num_layers}: stacked layers in one module; write one module per layer")
        if getattr(m, "proj_size", 0):
            reasons.append(f"proj_size={m.proj_size}: a projected LSTM")
        if not m.bias:
            reasons.append("bias=False: the case's recurrent layers have a bias")
        spec = {"type": kind, "units": m.hidden_size, "return_sequences": True}
        spec = {**spec, "reset_after": True} if kind == "GRU" else spec
        if m.bidirectional:
            # The output [forward, reverse], the reverse half in forward time: Keras'
            # Bidirectional concat with return_sequences (harness/reference/layers/bidirectional.py).
            return {"type": "Bidirectional", "layer": spec, "merge_mode": "concat"}
        return spec
    return translate


def dropout(m: nn.Dropout, reasons) -> dict:  # torch/nn/modules/dropout.py
    return {"type": "Dropout", "rate": m.p}


def pooling(kind: str) -> Callable:  # torch/nn/modules/pooling.py
    def translate(m, reasons) -> dict:
        if getattr(m, "dilation", 1) not in (1, (1, 1)):
            reasons.append(f"dilation={m.dilation!r}: the case's poolings are not dilated")
        if getattr(m, "divisor_override", None) is not None:
            reasons.append(f"divisor_override={m.divisor_override}: the case divides by the window's count")
        if getattr(m, "return_indices", False):
            reasons.append("return_indices=True: a second output the case has no layer for")
        rank = int(type(m).__name__[-2])  # MaxPool1d ... AvgPool3d
        spec = {"type": f"{kind}Pooling{rank}D", "pool_size": _option(m.kernel_size),
                "strides": _option(m.stride if m.stride is not None else m.kernel_size),
                "padding": _padding(m, reasons), "data_format": "channels_first"}
        if m.ceil_mode:
            spec["ceil_mode"] = True
        if kind == "Average":  # torch's default counts the padding; TF's (the case's) does not
            spec["count_include_pad"] = bool(m.count_include_pad)
        return spec
    return translate


def adaptive(kind: str) -> Callable:  # torch/nn/modules/pooling.py: AdaptiveAvgPool*, AdaptiveMaxPool*
    def translate(m, reasons) -> dict:
        rank = 1 if "1d" in type(m).__name__ else 2
        if getattr(m, "return_indices", False):
            reasons.append("return_indices=True: a second output the case has no layer for")
        return _adaptive_spec(kind, rank, m.output_size, reasons)
    return translate


def _adaptive_spec(kind: str, rank: int, output_size, reasons) -> dict:
    if any(size is None for size in _pair(output_size)):
        reasons.append(f"output_size={output_size!r}: None (keep the input's size) has no case field; "
                       "give every size")
    return {"type": f"Adaptive{kind}Pooling{rank}D", "output_size": _option(output_size),
            "data_format": "channels_first"}


def _fx_adaptive(kind: str, rank: int) -> Callable:  # F.adaptive_avg_pool2d(x, output_size) and alike
    def translate(node, reasons) -> dict:
        size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
        if node.kwargs.get("return_indices") or (len(node.args) > 2 and node.args[2]):
            reasons.append("return_indices=True: a second output the case has no layer for")
        return _adaptive_spec(kind, rank, size, reasons)
    return translate


def zero_pad(m, reasons) -> dict:  # torch/nn/modules/padding.py: (left, right[, top, bottom])
    """ZeroPad1d/2d and ConstantPad1d/2d (whose value the case's `value` keeps)."""
    pads = list(m.padding)
    if any(p < 0 for p in pads):
        reasons.append(f"padding={tuple(pads)}: negative padding crops; give it as a cropping")
    value = {"value": float(m.value)} if getattr(m, "value", 0) else {}
    if len(pads) == 4:
        left, right, top, bottom = pads
        return {"type": "ZeroPadding2D", "padding": [[top, bottom], [left, right]], "data_format": "channels_first",
                **value}
    return {"type": "ZeroPadding1D", "padding": pads, "data_format": "channels_first", **value}



RECURRENT = (nn.LSTM, nn.GRU)
TRANSLATORS: dict[type, Callable[[Any, list[str]], dict]] = {
    nn.LSTM: recurrent("LSTM"), nn.GRU: recurrent("GRU"),
    nn.Linear: linear, nn.Conv1d: conv, nn.Conv2d: conv, nn.Conv3d: conv,
    nn.MaxPool3d: pooling("Max"), nn.AvgPool3d: pooling("Average"),
    nn.ConvTranspose1d: conv_transpose, nn.ConvTranspose2d: conv_transpose,
    nn.BatchNorm1d: batch_norm, nn.BatchNorm2d: batch_norm, nn.LayerNorm: layer_norm,
    nn.Embedding: embedding, nn.Flatten: flatten, nn.Dropout: dropout,
    nn.ReLU: activation("relu"), nn.ReLU6: relu6, nn.Hardtanh: hardtanh, nn.Threshold: threshold,
    nn.LeakyReLU: leaky_relu, nn.Hardswish: activation("hard_swish"), nn.GELU: gelu,
    nn.Softmax: along("softmax"), nn.LogSoftmax: along("log_softmax"), nn.Tanh: activation("tanh"), nn.Sigmoid: activation("sigmoid"),
    nn.MaxPool1d: pooling("Max"), nn.MaxPool2d: pooling("Max"),
    nn.AvgPool1d: pooling("Average"), nn.AvgPool2d: pooling("Average"),
    nn.ZeroPad1d: zero_pad, nn.ZeroPad2d: zero_pad, nn.ConstantPad1d: zero_pad, nn.ConstantPad2d: zero_pad,
    nn.AdaptiveAvgPool1d: adaptive("Average"), nn.AdaptiveAvgPool2d: adaptive("Average"),
    nn.AdaptiveMaxPool1d: adaptive("Max"), nn.AdaptiveMaxPool2d: adaptive("Max"),
}

FX_FUNCTIONS.update({
    # `out += identity` (torchvision's BasicBlock/Bottleneck): fx records operator.iadd, the same
    # sum as `+` on the traced values (the in-place write is not observable in the graph).
    operator.iadd: _fx_merge("Add"),
    torch.nn.functional.adaptive_avg_pool1d: _fx_adaptive("Average", 1),
    torch.nn.functional.adaptive_avg_pool2d: _fx_adaptive("Average", 2),
    torch.nn.functional.adaptive_max_pool1d: _fx_adaptive("Max", 1),
    torch.nn.functional.adaptive_max_pool2d: _fx_adaptive("Max", 2),
})
