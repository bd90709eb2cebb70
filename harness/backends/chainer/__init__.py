"""The chainer 7.8.1 backend.

Layers are chainer links (or compositions of chainer.functions, marked composite), called on
chainer.Variable inputs under the case's train/inference mode; gradients come from
`loss.backward()`. chainer's Linear stores W (out, in) and by default flattens every axis after
the first, so the Dense builder transposes the kernel and passes n_batch_axes.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import numpy as np

from harness.backends.base import FrameworkBackend
from harness.backends.chainer._import import chainer
from harness.backends.chainer import (  # noqa: F401,E402  (registration side effects)
    activation_layers, activations, attention, conv, core, embedding, losses, merge, metrics, native,
    normalization, optimizers, peephole, pooling, recurrent, regularization, reshaping, variable_length)
from harness.backends.chainer.registry import REGISTRY


class ChainerBackend(FrameworkBackend):
    name: ClassVar[str] = "chainer"
    registry = REGISTRY

    def version(self) -> str:
        return chainer.__version__

    @contextlib.contextmanager
    def session(self, case):
        # chainer.config.train defaults to True: set the case's mode explicitly (chainer/__init__.py: global_config.train = True).
        with chainer.using_config("train", case.spec.mode == "training"), \
                chainer.using_config("dtype", np.dtype(case.spec.dtype)):
            yield

    def tensor(self, array: np.ndarray, *, requires_grad: bool):
        if array.dtype.kind in "iu":
            return array.astype(np.int32)  # chainer's embed_id and label arguments take int32
        return chainer.Variable(np.array(array), requires_grad=requires_grad)

    def to_numpy(self, tensor) -> np.ndarray:
        return np.asarray(tensor.array if isinstance(tensor, chainer.Variable) else tensor)

    def assign(self, native, array: np.ndarray) -> None:
        # A Parameter, or a plain array that a link updates in place (BatchNormalization.avg_mean).
        target = native.array if isinstance(native, chainer.Variable) else native
        if target is None or target.shape != array.shape:
            found = None if target is None else target.shape
            raise ValueError(f"shape {found} in chainer, {array.shape} after transform")
        target[...] = array

    def native_model(self, built):
        return native.native_model(built)

    def save_checkpoint(self, model, tensors, path):
        native.save_checkpoint(model, tensors, path)

    def read_checkpoint(self, path, model):
        return native.read_checkpoint(path, model)

    def differentiate(self, compute, inputs, parameters):
        for variable in [*inputs, *parameters]:
            variable.cleargrad()
        loss, tensors = compute()
        loss.backward()
        return (loss, tensors, [variable.grad for variable in inputs],
                [parameter.grad for parameter in parameters])
