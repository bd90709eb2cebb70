"""The chainer adapter's model of a whole case, and its checkpoints (npz files of save_npz).

A chainer user's model is a Chain of links, and its checkpoint is
`chainer.serializers.save_npz(path, chain)`: one array per parameter and persistent value, named
by its path in the chain (`hidden/W`, `bn/avg_mean`, `bn/N`, `gru/0/w0` for a ChainList's child).
The harness's model of a case is such a Chain: each layer's link (the one its builder made,
composite layers included) is a child under the layer's name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.backends.base import BuiltLayer, CheckpointContents, NativeModel, Unsupported
from harness.backends.chainer._import import chainer
from harness.case.bounded_reading import model_limit, read_npz


def native_model(built: dict[str, BuiltLayer]) -> NativeModel:
    root = chainer.Chain()
    with root.init_scope():
        for layer, layer_built in built.items():
            if isinstance(layer_built.module, chainer.Link):
                if hasattr(root, layer):  # a Chain method or attribute: `params`, `to_cpu`, ...
                    raise Unsupported(f"chainer cannot hold layer {layer!r} in a Chain: the name is "
                                      "one of chainer.Chain's own attributes")
                setattr(root, layer, layer_built.module)
    return NativeModel(root, named_tensors(root))


def named_tensors(root) -> dict:
    """Every parameter (namedparams' order), then every persistent value (sorted per link), by
    the name save_npz gives it: the path without the leading slash."""
    tensors = {path.lstrip("/"): parameter for path, parameter in root.namedparams()}
    for path, link in root.namedlinks(skipself=True):
        for name in sorted(link._persistent):
            tensors[f"{path.lstrip('/')}/{name}"] = getattr(link, name)
    return tensors


def save_checkpoint(model: NativeModel, tensors: dict[str, np.ndarray], path: str) -> None:
    """What serializers.save_npz writes (chainer/serializers/npz.py: the DictionarySerializer's
    key -> array mapping through numpy.savez_compressed), from the named tensors, so that
    tensors the adapter removed from a link (written as zeros) are there for a user's
    unmodified link; load_npz into the harness's chain passes over them."""
    with open(path, "wb") as file:  # a file object: numpy.savez would append .npz to a name
        np.savez_compressed(file, **tensors)


def read_checkpoint(path: str, model: NativeModel) -> CheckpointContents:
    """The arrays of an npz file, by save_npz's names. Not chainer's load_npz, which unpickles
    (numpy.load(allow_pickle=True)): harness/case/bounded_reading.py, pickles refused, each array read
    only where its declared shape is the model's."""
    expected = expected_shapes(model)
    return CheckpointContents(read_npz(Path(path), expected, limit=model_limit(expected)))


def expected_shapes(model: NativeModel) -> dict[str, tuple[int, ...]]:
    """Each named tensor's shape (a persistent scalar such as BatchNormalization's N is ())."""
    return {key: tuple(np.shape(getattr(value, "array", value))) for key, value in model.tensors.items()}
