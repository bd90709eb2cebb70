"""A chainer model (`module.py:ClassName` of a chainer.Sequential, plus its save_npz file) in the
case's terms, for `python -m harness import`.

The class is imported from the file and built with no arguments, the npz read by the harness
(harness/case/bounded_reading.py: pickles refused, the archive's size bounded) and handed to
chainer's `NpzDeserializer(strict=True)` as arrays: chainer's own `load_npz` opens the file with
`numpy.load(allow_pickle=True)`, so a pickle in it would run. A chainer.Sequential is walked layer by layer: its forward
is its layers in order (chainer/sequential.py `Sequential.forward`), links and plain functions
alike. Its links are a ChainList's children, named `0`, `1`, ... in save_npz's file; the case's
layers for them get those names, so the file's names are the case's model's own. A Chain with a
hand-written forward is arbitrary Python: refused with that reason.

`L.Linear` flattens every axis but the batch axis before its product
(chainer/functions/connection/linear.py, `n_batch_axes=1`), so a Linear on a rank > 2 input
becomes a Flatten (the array as it is) and a Dense. The weights file is the chain's own
save_npz.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness.backends.chainer._import import F, L, chainer
from harness.case.bounded_reading import read_npz
from harness.common.errors import CaseError
from harness.case.imported_model import ImportedModel, ImportProblem
from harness.reference.layers import LAYERS


class ArchiveArrays(dict):
    """The npz's arrays as NpzDeserializer looks them up, with numpy.load's message for a
    missing name."""

    def __missing__(self, key):
        raise KeyError(f"{key} is not a file in the archive")


def read_chainer_model(file: Path, class_name: str, weights: Path, shapes: list[tuple[int, ...]]) -> ImportedModel:
    chain = instantiate(file, class_name)
    try:
        arrays = read_npz(weights)
    except ValueError as exc:
        raise CaseError(f"cannot read the npz: {exc}", file=str(weights), field="--weights") from None
    try:
        # Not serializers.load_npz: it opens the file with numpy.load(allow_pickle=True).
        chainer.serializers.NpzDeserializer(ArchiveArrays(arrays), strict=True).load(chain)
    except Exception as exc:  # missing keys, shapes
        raise CaseError(f"the npz does not load into {class_name}(): {' '.join(str(exc).split())}",
                        file=str(weights), field="--weights") from None
    dtypes = {str(parameter.dtype) for parameter in chain.params()}
    dtype = dtypes.pop() if len(dtypes) == 1 else "float32"
    problems: list[ImportProblem] = []
    layers: list[dict[str, Any]] = []
    if len(shapes) != 1:
        problems.append(ImportProblem(class_name, type(chain).__name__, f"{len(shapes)} input shapes; a "
                                                                       "chainer.Sequential reads one input"))
    if not isinstance(chain, chainer.Sequential):
        problems.append(ImportProblem(class_name, type(chain).__name__,
                                      "not a chainer.Sequential: its forward is Python code this importer does not "
                                      "trace; write the model as chainer.Sequential, or write the case by hand"))
    else:
        walk(chain, tuple(shapes[0]) if shapes else (), layers, problems)
    inputs = {"x": (tuple(shapes[0]) if shapes else (), "int32" if layers and layers[0]["type"] == "Embedding"
                    else dtype)}
    outputs = [layers[-1]["name"]] if layers else []

    def write_weights(stem: Path) -> Path:
        path = stem.with_name(stem.name + ".npz")
        chainer.serializers.save_npz(str(path), chain)
        return path

    def predict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
            return {outputs[0]: chain(arrays["x"]).array}

    return ImportedModel("chainer", dtype, inputs, layers, outputs, problems, write_weights, predict,
                         weights_format="chainer")


def instantiate(file: Path, class_name: str):
    if not file.is_file():
        raise CaseError(f"no module file {file}", field="MODEL", expected="path/to/module.py:ClassName")
    spec = importlib.util.spec_from_file_location(f"harness_import_{file.stem}", file)
    source = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = source
    spec.loader.exec_module(source)
    cls = getattr(source, class_name, None)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, chainer.Link)):
        raise CaseError(f"{file} has no chainer Link class {class_name!r}", field="MODEL")
    try:
        return cls()
    except TypeError as exc:
        raise CaseError(f"{class_name}() cannot be built without arguments: {exc}", field="MODEL") from None


def walk(chain, shape: tuple[int, ...], layers: list, problems: list) -> None:
    links = {id(link): name for name, link in chain.namedlinks(skipself=True) if name.count("/") == 1}
    for position, layer in enumerate(chain._layers):  # chainer/sequential.py keeps them in order
        if isinstance(layer, chainer.Link):
            name = links[id(layer)].lstrip("/")
            translator = LINKS.get(type(layer))
        else:
            name = f"{getattr(layer, '__name__', type(layer).__name__)}_{position}"
            translator = FUNCTIONS.get(layer)
        kind = type(layer).__name__ if isinstance(layer, chainer.Link) else getattr(layer, "__name__", repr(layer))
        if translator is None:
            problems.append(ImportProblem(name, kind, "the importer has no translation for it"))
            return
        reasons: list[str] = []
        specs = translator(layer, shape, reasons)
        for index, spec in enumerate(specs):  # the last is the layer; a Flatten may come before it
            spec = {"name": name if index == len(specs) - 1 else f"{name}_flatten", **spec}
            layers.append(spec)
            try:
                shape = tuple(LAYERS[spec["type"]].model_validate(spec).output_shape([shape]))
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                reasons.append(str(exc).splitlines()[0])
                break
        problems.extend(ImportProblem(name, kind, reason) for reason in reasons)
        if reasons:
            return


def linear(link, shape, reasons) -> list[dict]:  # chainer/links/connection/linear.py
    flatten = [{"type": "Flatten", "data_format": "channels_last"}] if len(shape) > 1 else []
    return [*flatten, {"type": "Dense", "units": link.out_size, "use_bias": link.b is not None}]


def _pair(value) -> list[int]:
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


def _padding(pads: list[int], kernel: list[int], stride: list[int], dilate: list[int]):
    """chainer's symmetric pad as the case writes it: 'valid', 'same' where equal to it (stride 1,
    pad (k - 1) d / 2: Keras then runs natively), else the explicit amount per axis."""
    if all(p == 0 for p in pads):
        return "valid"
    if all(s == 1 for s in stride) and all((k - 1) * d == 2 * p for k, d, p in zip(kernel, dilate, pads)):
        return "same"
    return pads[0] if len(set(pads)) == 1 else pads


def convolution(link, shape, reasons) -> list[dict]:  # chainer/links/connection/convolution_2d.py
    ks, ss, pads, ds = (_pair(link.ksize), _pair(link.stride), _pair(link.pad), _pair(link.dilate))
    return [{"type": "Conv2D", "filters": link.out_channels, "kernel_size": ks, "strides": ss,
             "padding": _padding(pads, ks, ss, ds), "dilation_rate": ds, "groups": link.groups,
             "use_bias": link.b is not None, "data_format": "channels_first"}]


def depthwise_convolution(link, shape, reasons) -> list[dict]:  # chainer/links/connection/depthwise_convolution_2d.py
    ks, ss, pads = _pair(link.ksize), _pair(link.stride), _pair(link.pad)
    return [{"type": "DepthwiseConv2D", "kernel_size": ks, "depth_multiplier": link.channel_multiplier,
             "strides": ss, "padding": _padding(pads, ks, ss, [1, 1]), "use_bias": link.b is not None,
             "data_format": "channels_first"}]


def batch_normalization(link, shape, reasons) -> list[dict]:  # chainer/links/normalization/batch_normalization.py
    return [{"type": "BatchNormalization", "axis": 1, "epsilon": link.eps, "momentum": link.decay,
             "moving_variance": "unbiased", "center": hasattr(link, "beta"), "scale": hasattr(link, "gamma")}]


def embed_id(link, shape, reasons) -> list[dict]:  # chainer/links/connection/embed_id.py
    if link.ignore_label is not None:
        reasons.append(f"ignore_label={link.ignore_label!r}")
    return [{"type": "Embedding", "input_dim": link.W.shape[0], "output_dim": link.W.shape[1]}]


def activation(name: str) -> Callable:
    return lambda function, shape, reasons: [{"type": "Activation", "activation": name}]


LINKS = {L.Linear: linear, L.Convolution2D: convolution, L.DepthwiseConvolution2D: depthwise_convolution,
         L.BatchNormalization: batch_normalization, L.EmbedID: embed_id}
FUNCTIONS = {F.relu: activation("relu"), F.tanh: activation("tanh"), F.sigmoid: activation("sigmoid")}
