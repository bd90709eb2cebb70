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

from harness.adapters.base import BuiltLayer, CheckpointContents, NativeModel
from harness.adapters.keras_backend._import import keras

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


def h5_contents(file) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every dataset of an HDF5 file by path, and every group's recorded layer name."""
    arrays: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}

    def visit(path, item):
        if isinstance(item, h5py.Dataset):
            arrays[path] = np.array(item[()])
        elif "name" in item.attrs:
            names[path] = str(item.attrs["name"])

    file.visititems(visit)
    return arrays, names


def open_weights(path: str) -> h5py.File:
    """The weights HDF5 of a `.weights.h5` file or of a `.keras` archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if ARCHIVE_WEIGHTS not in archive.namelist():
                raise ValueError(f"the archive has no {ARCHIVE_WEIGHTS} (it holds {archive.namelist()}): "
                                 "not a Keras 3 .keras file")
            return h5py.File(io.BytesIO(archive.read(ARCHIVE_WEIGHTS)), "r")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"h5py cannot read it as an HDF5 file: {exc}") from None


def read_checkpoint(path: str, model: NativeModel) -> CheckpointContents:
    with open_weights(path) as file:
        if "layer_names" in file.attrs or "model_weights" in file:
            raise ValueError("a Keras 2 (legacy HDF5) weights file; load the model in Keras 3 and save it "
                             "again with model.save_weights('NAME.weights.h5') or model.save('NAME.keras')")
        arrays, file_names = h5_contents(file)
    layout, our_names = file_layout(model)
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
