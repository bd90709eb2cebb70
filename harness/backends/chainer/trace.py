"""A chainer Chain with a hand-written forward, read off the graph chainer records as it runs.

This is how chainer's own examples write models (chainer/examples/imagenet/alex.py, resnet50.py):
links declared in `__init__` under `init_scope()`, a `forward` of links and `F.*` calls, residual
additions written as `h + x`. chainer is define-by-run: every Variable a function returns holds
the FunctionNode that made it, and each FunctionNode holds its inputs' VariableNodes
(chainer/function_node.py: `FunctionNode.inputs`, `VariableNode.creator_node`). The forward runs
once, in test mode (`train` False: F.dropout returns its input and records nothing, a
BatchNormalization link uses its running statistics), on normal data of the input shape; each
FunctionNode on the way to the output becomes one case layer in graph form. Parameters are matched
to the links that hold them through their VariableNodes, so a layer with weights is named after
its link: the name save_npz gives its arrays (`conv1/W`), which the case's weights file keeps.

What ran, not what the Python says: a branch the traced input does not take is not in the graph.
The importer's own check then compares the case with the chain on the case's inputs. Each layer's
output shape is checked against the shape chainer computed, so a rule the case's layer does not
share is refused rather than written wrong: chainer's max pooling defaults to cover_all=True,
which rounds the output size up like torch's ceil_mode, except that torch drops a last window
starting in the padding (harness/reference/layers/windows.py ceil_mode_extra) and chainer keeps it.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from harness.backends.chainer._import import chainer
from harness.case.imported_model import ImportProblem
from harness.reference.layers import LAYERS

BY_LINK = "by link"
"""The layer is the link's own translation (the importer's link translators): a function whose
arguments the link chose (L.BatchNormalization's eps and running statistics)."""


def trace(chain, shape: tuple[int, ...], dtype: str, problems: list[ImportProblem],
          link_translators: dict[type, Callable]) -> tuple[list[dict[str, Any]], list[str]]:
    """The chain's forward as case layers in graph form, and its output; the first problem ends it."""
    owners = parameter_owners(chain)
    x = chainer.Variable(np.random.default_rng(0).standard_normal((2, *shape)).astype(dtype))
    try:
        with chainer.using_config("train", False):
            y = chain(x)
    except Exception as exc:  # the user's forward is arbitrary Python
        problems.append(ImportProblem(type(chain).__name__, type(chain).__name__,
                                      f"its forward raised on an input of shape {x.shape}: "
                                      f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
        return [], []
    if not isinstance(y, chainer.Variable):
        problems.append(ImportProblem(type(chain).__name__, type(chain).__name__,
                                      f"its forward returns a {type(y).__name__}; the importer reads one "
                                      "output Variable"))
        return [], []
    links = dict(chain.namedlinks(skipself=True))
    names, shapes = {id(x.node): "x"}, {"x": tuple(shape)}
    layers: list[dict[str, Any]] = []
    for function in functions_in_order(y.node):
        kind = type(function).__name__
        params = {owners[id(node)][1]: owners[id(node)][0] for node in function.inputs if id(node) in owners}
        held = sorted(set(params.values()))
        stem, translator = FUNCTIONS.get(kind, (kind.lower(), None))
        name = held[0] if len(held) == 1 else fresh(stem, names.values())
        reasons = naming_problems(name, held, names.values())
        if translator is None and not reasons:
            reasons.append("the importer has no translation for it")
        if not reasons:
            link = links["/" + name] if held else None
            if translator == BY_LINK:
                by_link = link_translators.get(type(link))
                if by_link is None:
                    reasons.append(f"{type(link).__name__ if link else 'no'} link: the importer has no translation for it")
                    spec = {}
                else:
                    (spec,) = by_link(link, (), reasons)
            else:
                spec = translator(function, params, reasons)
            data = [names[id(node)] for node in function.inputs if id(node) in names]
            (output,) = [reference() for reference in function.outputs]
            check_shape(spec, [shapes[source] for source in data], tuple(output.shape[1:]), reasons)
        if reasons:
            problems.extend(ImportProblem(name, kind, reason) for reason in reasons)
            return layers, []
        layers.append({"name": name, **spec, "inputs": data})
        names[id(output)] = name
        shapes[name] = tuple(output.shape[1:])
    return layers, [names[id(y.node)]]


def parameter_owners(chain) -> dict[int, tuple[str, str]]:
    """id(a parameter's VariableNode) -> (its link's name without the leading '/', its name)."""
    return {id(param.node): (link_name.lstrip("/"), param_name.lstrip("/"))
            for link_name, link in chain.namedlinks(skipself=True)
            for param_name, param in link.namedparams(include_uninit=False)
            if "/" not in param_name.lstrip("/")}


def functions_in_order(output) -> list:
    """The FunctionNodes the output depends on, each after every one it reads (depth first,
    inputs in their order, so a layer's name numbering follows the forward)."""
    ordered, seen = [], set()
    stack = [(output.creator_node, False)] if output.creator_node is not None else []
    while stack:
        function, expanded = stack.pop()
        if expanded:
            ordered.append(function)
            continue
        if id(function) in seen:
            continue
        seen.add(id(function))
        stack.append((function, True))
        stack.extend((node.creator_node, False) for node in reversed(function.inputs)
                     if node.creator_node is not None and id(node.creator_node) not in seen)
    return ordered


def naming_problems(name: str, held: list[str], taken) -> list[str]:
    if len(held) > 1:
        return [f"reads the parameters of {len(held)} links ({', '.join(held)})"]
    if name in taken:
        return ["the link is called a second time: each case layer is applied once (or written as a Reuse "
                "by hand)"]
    if "/" in name:
        return ["a link inside a nested Chain: the case's layer names hold no '/' (declare the links on the "
                "outer Chain, or write the case by hand)"]
    return []


def fresh(stem: str, taken) -> str:
    taken = set(taken)
    index = 1
    while f"{stem}_{index}" in taken:
        index += 1
    return f"{stem}_{index}"


def check_shape(spec: dict, input_shapes: list, computed: tuple, reasons: list[str]) -> None:
    try:
        shape = tuple(LAYERS[spec["type"]].model_validate(spec).output_shape(input_shapes))
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        reasons.append(str(exc).splitlines()[0])
        return
    if shape != computed:
        reasons.append(f"the case's {spec['type']} computes shape {shape} where chainer computed {computed}")


def _padding(pads: list[int], kernel: list[int], strides: list[int], dilation: list[int]):
    """As the Sequential importer writes chainer's pad: 'same' where it equals it (stride 1,
    pad (k - 1) d / 2: Keras then runs natively), else the amount (one, or one per axis)."""
    if not any(pads):
        return "valid"
    if all(s == 1 for s in strides) and all((k - 1) * d == 2 * p for k, d, p in zip(kernel, dilation, pads)):
        return "same"
    return pads[0] if len(set(pads)) == 1 else pads


def convolution(function, params, reasons) -> dict:  # chainer/functions/connection/convolution_2d.py
    if function.cover_all:
        reasons.append("cover_all=True: the case's convolutions round the output size down")
    W = function.inputs[1]
    kernel, strides, dilation = list(W.shape[2:]), [function.sy, function.sx], [function.dy, function.dx]
    return {"type": "Conv2D", "filters": W.shape[0], "kernel_size": kernel, "strides": strides,
            "padding": _padding([function.ph, function.pw], kernel, strides, dilation),
            "dilation_rate": dilation, "groups": function.groups, "use_bias": "b" in params,
            "data_format": "channels_first"}


def linear(function, params, reasons) -> dict:  # chainer/functions/connection/linear.py
    return {"type": "Dense", "units": function.inputs[1].shape[0], "use_bias": "b" in params}


def reshape(function, params, reasons) -> dict:  # chainer/functions/array/reshape.py
    """F.linear reshapes a rank > 2 input to (batch, -1) itself: a Flatten of the array as it is
    (channels, then rows, then columns)."""
    (x,) = function.inputs
    if tuple(function.shape[1:]) not in ((-1,), (math.prod(x.shape[1:]),)):
        reasons.append(f"reshape to {function.shape}: the importer reads only (batch, -1), a Flatten")
    return {"type": "Flatten", "data_format": "channels_last"}


def _pooling_padding(pads: list[int]):
    return "valid" if not any(pads) else (pads[0] if len(set(pads)) == 1 else pads)


def max_pooling(function, params, reasons) -> dict:  # chainer/functions/pooling/max_pooling_nd.py
    if function.ndim != 2:
        reasons.append(f"{function.ndim}-D max pooling: the tracer reads 2-D poolings")
    spec = {"type": "MaxPooling2D", "pool_size": list(function.ksize), "strides": list(function.stride),
            "padding": _pooling_padding(list(function.pad)), "data_format": "channels_first"}
    # cover_all, chainer's default, rounds the output size up as torch's ceil_mode does; where
    # the two differ the shape check refuses (the module's docstring).
    return {**spec, "ceil_mode": True} if function.cover_all else spec


def average_pooling(function, params, reasons) -> dict:  # chainer/functions/pooling/average_pooling_2d.py
    # F.average_pooling_2d divides by kh * kw, padding included (`coeff = 1 / (kh * kw)`).
    return {"type": "AveragePooling2D", "pool_size": [function.kh, function.kw],
            "strides": [function.sy, function.sx], "padding": _pooling_padding([function.ph, function.pw]),
            "count_include_pad": True, "data_format": "channels_first"}


def merge(kind: str) -> Callable:  # chainer/functions/math/basic_math.py: Add, Mul
    return lambda function, params, reasons: {"type": kind}


def activation(name: str) -> Callable:
    return lambda function, params, reasons: {"type": "Activation", "activation": name}


FUNCTIONS: dict[str, tuple[str, Callable | str]] = {
    "Convolution2DFunction": ("convolution", convolution), "LinearFunction": ("linear", linear),
    "Reshape": ("flatten", reshape), "MaxPoolingND": ("max_pooling", max_pooling),
    "AveragePooling2D": ("average_pooling", average_pooling), "Add": ("add", merge("Add")),
    "Mul": ("multiply", merge("Multiply")), "FixedBatchNormalization": ("batch_normalization", BY_LINK),
    "ReLU": ("relu", activation("relu")), "Tanh": ("tanh", activation("tanh")),
    "Sigmoid": ("sigmoid", activation("sigmoid")),
}
"""FunctionNode class name -> (the stem of a layer name for a function without parameters, its
translation into a case layer spec)."""
