"""The Keras 3 backend (TensorFlow).

Layers are keras.layers objects built for the case's input shapes and called eagerly under a
tf.GradientTape: the same computation as a functional keras.Model, with every node's output at
hand. Eager calls also avoid tf.function's tracing cost (about 0.2 s per model, see
../shared/reference/performance.md), which a single forward and backward would not repay.
Keras' layouts are the canonical ones, so most transforms are `as is`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from harness.backends.base import FrameworkBackend
from harness.backends.keras._import import keras, tf
# Every family module registers its builders, import translations, reproducer templates and
# defaults readers in REGISTRY (registry.py) when imported: all of them are imported here, so
# that the backend, the importer, the reproducers and the defaults audit see them all.
from harness.backends.keras import (  # noqa: F401,E402  (registration side effects)
    activation_layers, activations, attention, conv, core, embedding, losses, merge, metrics, native,
    normalization, optimizers, paths, peephole, pooling, recurrent, regularization, reshaping, variable_length)
from harness.backends.keras.registry import REGISTRY


class KerasBackend(FrameworkBackend):
    name: ClassVar[str] = "keras"
    registry = REGISTRY

    def version(self) -> str:
        return f"keras {keras.__version__}, tensorflow {tf.__version__}"

    def execution_paths(self, case):
        return paths.execution_paths(case)

    def tensor(self, array: np.ndarray, *, requires_grad: bool):
        return tf.constant(array)

    def to_numpy(self, tensor) -> np.ndarray:
        if isinstance(tensor, tf.IndexedSlices):  # the gradient of a lookup (Embedding)
            tensor = tf.convert_to_tensor(tensor)
        return keras.ops.convert_to_numpy(tensor)

    def assign(self, native, array: np.ndarray) -> None:
        if tuple(native.shape) != array.shape:
            raise ValueError(f"shape {tuple(native.shape)} in keras, {array.shape} after transform")
        native.assign(array.astype(native.dtype))

    def native_model(self, built):
        return native.native_model(built)

    def save_checkpoint(self, model, tensors, path):
        native.save_checkpoint(model, tensors, path)

    def read_checkpoint(self, path, model):
        return native.read_checkpoint(path, model)

    def differentiate(self, compute, inputs, parameters):
        with tf.GradientTape() as tape:
            for tensor in inputs:
                tape.watch(tensor)
            loss, tensors = compute()
        gradients = tape.gradient(loss, [*inputs, *parameters])
        return loss, tensors, list(gradients[: len(inputs)]), list(gradients[len(inputs):])
