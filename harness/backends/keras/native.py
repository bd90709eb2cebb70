"""The Keras adapter's model of a whole case, and its checkpoints (`.weights.h5`, `.keras`).

A Keras user's model is a Sequential or Functional model, `model.get_weights()` lists its
variables layer by layer, and `model.save_weights("x.weights.h5")` writes them to an HDF5 file
(a `.keras` archive holds the same file as `model.weights.h5`, beside the config). The harness's
model of a case is a keras.Model holding the layers the builders made, in the case's order, so
`get_weights()` has a user's order and `save_weights` a user's file layout. Its tensors are named
by `variable.path`: `hidden/kernel`, `lstm/lstm_cell/kernel`, `bn/moving_mean`.

The file names its arrays by position, not by variable: keras/src/saving/saving_lib.py
(`_save_container_state`) stores the i-th layer of a class under `layers/<class>` (`layers/dense`,
`layers/dense_1`, ...), each layer's variables as `vars/0`, `vars/1`, ... in the order of its
`save_own_variables`, sublayers under their attribute (`layers/lstm/cell/vars/0`), and records
each layer's name as the `name` attribute of its `vars` group. Which file path holds which
variable is not computed here from those rules: `file_layout` lets Keras save the harness's
model with a distinct marker value in every variable and reads back where each marker went.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile

import h5py
import numpy as np

from harness.backends.base import BuiltLayer, CheckpointContents, NativeModel
from harness.backends.keras._import import keras
from harness.case.bounded_reading import Budget, model_limit, read_member, stand_in

ARCHIVE_WEIGHTS = "model.weights.h5"
"""The weights file inside a `.keras` archive (keras/src/saving/saving_lib.py `_VARS_FNAME_H5`)."""


class CaseModel(keras.Model):
    """Holds the case's layers in order, as a user's model does; it is never called (the run
    loop calls the layers). Keras tracks the list, so `layers`, `weights`, `get_weights`,
    `save_weights` and `load_weights` see the layers in this order."""

    def __init__(self, layers: list) -> None:
        super().__init__(name="case")
        self._case_layers = list(layers)
        self.built = True


def native_model(built: dict[str, BuiltLayer]) -> NativeModel:
    container = CaseModel([b.module for b in built.values() if isinstance(b.module, keras.layers.Layer)])
    return NativeModel(container, {variable.path: variable for variable in container.weights})


def save_checkpoint(model: NativeModel, tensors: dict[str, np.ndarray], path: str) -> None:
    """The tensors assigned to the model's variables, then Keras' own model.save_weights."""
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"Keras writes weights files named *.weights.h5 (model.save_weights), not {path}")
    for key, variable in model.tensors.items():
        variable.assign(np.asarray(tensors[key]).astype(variable.dtype))
    model.container.save_weights(str(path))


def file_layout(model: NativeModel) -> tuple[dict[str, str], dict[str, str]]:
    """(file path of each variable's array -> its key, `vars` group path -> the layer name Keras
    records there), as Keras' own save_weights lays out this model."""
    keys = list(model.tensors)
    variables = list(model.tensors.values())
    saved = [np.array(variable.numpy()) for variable in variables]
    try:
        for index, variable in enumerate(variables):
            variable.assign(np.full(variable.shape, index + 1, dtype=variable.dtype))
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "layout.weights.h5")
            model.container.save_weights(path)
            with h5py.File(path, "r") as file:
                arrays, names = h5_contents(file)
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)
    return {path: keys[int(array.flat[0]) - 1] for path, array in arrays.items()}, names


def h5_contents(file, expected: dict[str, tuple[int, ...]] | None = None,
                limit: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every dataset of an HDF5 file by path, and every group's recorded layer name. With
    `expected` (path -> the model's shape), a dataset is read only where its declared shape is
    that one, and one the model does not name while all read stay within `limit`
    (harness/case/bounded_reading.py Budget): h5py gives the shape without the data, so a small file
    declaring a huge dataset allocates nothing (it gets a stand-in of its declared shape for the
    mismatch table).
    A damaged file is a ValueError naming the dataset, whatever h5py raised."""
    arrays: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    budget = None if expected is None else Budget(limit)

    def visit(path, item):
        if isinstance(item, h5py.Dataset):
            arrays[path] = _dataset(path, item, expected, budget)
        elif "name" in item.attrs:
            names[path] = str(item.attrs["name"])

    try:
        file.visititems(visit)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001  h5py raises OSError, KeyError, RuntimeError, TypeError for damage
        raise ValueError(f"h5py cannot read the file's structure ({type(exc).__name__}: {exc}): a damaged "
                         "or not a Keras weights file") from None
    return arrays, names


def _dataset(path: str, item, expected: dict[str, tuple[int, ...]] | None, budget: Budget | None) -> np.ndarray:
    try:
        shape, dtype = item.shape, item.dtype
    except Exception as exc:  # noqa: BLE001  a damaged dataspace or datatype message
        raise ValueError(f"tensor {path!r}: h5py cannot read its shape or dtype ({type(exc).__name__}: {exc})") from None
    if shape is None or dtype.kind not in "fiub":
        raise ValueError(f"tensor {path!r} holds {'no data space' if shape is None else dtype}, not numbers: "
                         "not a Keras weights file")
    if budget is not None and not budget.allows(path, tuple(shape), dtype, expected):
        return stand_in(tuple(shape), dtype)
    try:
        return np.array(item[()])
    except Exception as exc:  # noqa: BLE001  damaged data or filter pipeline
        raise ValueError(f"tensor {path!r} cannot be read ({type(exc).__name__}: {exc}): a damaged file") from None


def open_weights(path: str, limit: int) -> h5py.File:
    """The weights HDF5 of a `.weights.h5` file or of a `.keras` archive (read in memory, at
    most `limit` bytes: a deflate bomb stops there)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if ARCHIVE_WEIGHTS not in archive.namelist():
                raise ValueError(f"the archive has no {ARCHIVE_WEIGHTS} (it holds {archive.namelist()}): "
                                 "not a Keras 3 .keras file")
            data = read_member(archive, ARCHIVE_WEIGHTS, limit)
        try:
            return h5py.File(io.BytesIO(data), "r")
        except OSError as exc:
            raise ValueError(f"h5py cannot read its {ARCHIVE_WEIGHTS} as an HDF5 file: {exc}") from None
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"h5py cannot read it as an HDF5 file: {exc}") from None


def _is_legacy(file) -> bool:
    try:
        return "layer_names" in file.attrs or "model_weights" in file
    except Exception as exc:  # noqa: BLE001  a damaged root group
        raise ValueError(f"h5py cannot read the file's root group ({type(exc).__name__}: {exc}): a damaged "
                         "or not a Keras weights file") from None


def read_checkpoint(path: str, model: NativeModel) -> CheckpointContents:
    layout, our_names = file_layout(model)
    shapes = {key: tuple(variable.shape) for key, variable in model.tensors.items()}
    expected = {file_path: shapes[key] for file_path, key in layout.items()}
    limit = model_limit(shapes)
    with open_weights(path, limit) as file:
        if _is_legacy(file):
            raise ValueError("a Keras 2 (legacy HDF5) weights file; load the model in Keras 3 and save it "
                             "again with model.save_weights('NAME.weights.h5') or model.save('NAME.keras')")
        arrays, file_names = h5_contents(file, expected, limit)
    contents = CheckpointContents({})
    for file_path, array in arrays.items():
        key = layout.get(file_path, file_path)
        contents.tensors[key] = array
        if key != file_path:
            contents.names[key] = file_path
    for group, name in our_names.items():
        top_level = group.count("/") == 2 and group.startswith("layers/") and group.endswith("/vars")
        if top_level and group in file_names and file_names[group] != name:
            contents.problems.append((group, f"holds layer {file_names[group]!r} in the file, where the "
                                             f"case's model has {name!r}: Keras files place layers by class "
                                             "and order (`layers/dense_1` is the second Dense), so order "
                                             "and name the case's layers as the saved model's"))
    return contents
