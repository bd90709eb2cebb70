"""A chainer model (`module.py:ClassName` of a chainer.Sequential or a Chain with its own forward,
plus its save_npz file) in the case's terms, for `python -m harness import`.

The class is imported from the file and built with no arguments, the npz read by the harness
(harness/case/bounded_reading.py: pickles refused, the archive's size bounded) and handed to
chainer's `NpzDeserializer(strict=True)` as arrays: chainer's own `load_npz` opens the file with
`numpy.load(allow_pickle=True)`, so a pickle in it would run. A chainer.Sequential is walked layer by layer: its forward
is its layers in order (chainer/sequential.py `Sequential.forward`), links and plain functions
alike. Its links are a ChainList's children, named `0`, `1`, ... in save_npz's file; the case's
layers for them get those names, so the file's names are the case's model's own. A Chain with
its own forward is read from one recorded forward pass (trace.py) into the case's graph form.
Every problem is listed, not only the first.

Each layer is translated by the translation registered for its link class (or for the plain
function itself) in REGISTRY.imports, beside that family's builder (core.py: L.Linear and the
activation functions, conv.py, normalization.py, embedding.py); a translation returns the case
layer(s) and appends the reasons it refuses. The weights file is the chain's own save_npz.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends.chainer._import import chainer
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS
from harness.backends.chainer.trace import trace
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
    if isinstance(chain, chainer.Sequential):
        return sequential_model(chain, class_name, shapes, dtype)
    return traced_model(chain, class_name, shapes, dtype)


def sequential_model(chain, class_name: str, shapes: list[tuple[int, ...]], dtype: str) -> ImportedModel:
    problems: list[ImportProblem] = []
    layers: list[dict[str, Any]] = []
    if len(shapes) != 1:
        problems.append(ImportProblem(class_name, type(chain).__name__, f"{len(shapes)} input shapes; a "
                                                                       "chainer.Sequential reads one input"))
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


def traced_model(chain, class_name: str, shapes: list[tuple[int, ...]], dtype: str) -> ImportedModel:
    """A Chain with its own forward, read from one recorded forward pass (trace.py) into the
    graph form. The weights file is save_npz's layout under the case's layer names: each
    translated link's parameters and persistent values, as the harness's own chain of the case
    names them (a nested `block/conv` link is the layer `block_conv`)."""
    names, input_dtype, layers, outputs, problems, linked = trace(chain, class_name, shapes, dtype)
    inputs = {name: (tuple(shape), input_dtype) for name, shape in zip(names, shapes)}

    def write_weights(stem: Path) -> Path:
        path = stem.with_name(stem.name + ".npz")
        with open(path, "wb") as file:  # a file object: numpy.savez would append .npz to a name
            np.savez_compressed(file, **link_tensors(linked))
        return path

    def predict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
            result = chain(*[arrays[name] for name in inputs])
        results = result if isinstance(result, (tuple, list)) else [result]
        return {output: value.array for output, value in zip(outputs, results)}

    return ImportedModel("chainer", dtype, inputs, layers, outputs, problems, write_weights, predict,
                         weights_format="chainer", graph=True)


def link_tensors(linked: dict[str, Any]) -> dict[str, np.ndarray]:
    """What save_npz writes for each link (chainer/serializers/npz.py), under its case layer's
    name: parameters by their path in the link, then the persistent values (BatchNormalization's
    avg_mean, avg_var, N)."""
    tensors = {}
    for layer, link in linked.items():
        for path, parameter in link.namedparams():
            tensors[f"{layer}{path}"] = np.asarray(parameter.array)
        for path, sublink in link.namedlinks():
            prefix = layer if path == "/" else f"{layer}{path}"
            for name in sorted(sublink._persistent):
                tensors[f"{prefix}/{name}"] = np.asarray(getattr(sublink, name))
    return tensors


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
    """Every layer in order, listing every problem: after a layer with one, the walk goes on from
    the shape chainer's own layer gives (run on zeros), so later layers are checked too."""
    links = {id(link): name for name, link in chain.namedlinks(skipself=True) if name.count("/") == 1}
    for position, layer in enumerate(chain._layers):  # chainer/sequential.py keeps them in order
        if isinstance(layer, chainer.Link):
            name = links[id(layer)].lstrip("/")
            translator = IMPORT_TRANSLATIONS.get(type(layer))
        else:
            name = f"{getattr(layer, '__name__', type(layer).__name__)}_{position}"
            translator = IMPORT_TRANSLATIONS.get(layer)
        kind = type(layer).__name__ if isinstance(layer, chainer.Link) else getattr(layer, "__name__", repr(layer))
        shape_before = shape
        reasons: list[str] = []
        if translator is None:
            reasons.append("the importer has no translation for it")
            specs = []
        else:
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
            shape = shape_after(layer, shape_before)
            if shape is None:  # chainer's own layer does not run on it either: nothing further to check
                return


def shape_after(layer, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape (without the batch axis) chainer's own layer gives for a float32 input of `shape`."""
    try:
        with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
            return tuple(layer(np.zeros((2, *shape), dtype=np.float32)).shape[1:])
    except Exception:  # the user's layer: any failure ends the walk
        return None
