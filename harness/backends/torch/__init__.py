"""The PyTorch backend.

Layers are torch.nn modules (or compositions of torch functions, marked composite), called on
tensors in the case's dtype; gradients come from torch.autograd.grad. torch stores a Linear
weight (out, in) where the canonical kernel is (in, out): each builder declares such transforms.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import numpy as np
import torch

from harness.backends.base import FrameworkBackend
# Every family module registers its builders, import translations, reproducer templates and
# defaults readers in REGISTRY when imported: all are imported here, so whenever the backend is.
from harness.backends.torch import (  # noqa: F401  (registration side effects)
    activation_layers, activations, attention, conv, core, embedding, losses, merge, metrics, native,
    normalization, optimizers, peephole, pooling, recurrent, regularization, reshaping, variable_length)
from harness.backends.torch import paths
from harness.backends.torch.registry import REGISTRY


class TorchBackend(FrameworkBackend):
    name: ClassVar[str] = "torch"
    registry = REGISTRY

    def version(self) -> str:
        return torch.__version__

    def limit_threads(self, count: int) -> None:
        try:
            torch.set_num_threads(count)
        except RuntimeError:  # already fixed once parallel work started: leave it as it is
            pass

    def execution_paths(self, case):
        return paths.execution_paths(case)

    def session(self, case):
        # Modules start in train mode in torch; the builders set the mode the case asks for.
        return contextlib.nullcontext()

    def tensor(self, array: np.ndarray, *, requires_grad: bool):
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if array.dtype.kind in "iu":
            return tensor.to(torch.int64)  # embedding indices and class targets are int64 in torch
        return tensor.requires_grad_(requires_grad)

    def to_numpy(self, tensor) -> np.ndarray:
        return tensor.detach().cpu().numpy()

    def assign(self, native, array: np.ndarray) -> None:
        with torch.no_grad():
            if tuple(native.shape) != array.shape:
                raise ValueError(f"shape {tuple(native.shape)} in torch, {array.shape} after transform")
            native.copy_(torch.from_numpy(np.ascontiguousarray(array)))

    key_separator = "."  # state_dict keys: `hidden.weight`

    def native_model(self, built):
        return native.native_model(built)

    def save_checkpoint(self, model, tensors, path):
        native.save_checkpoint(model, tensors, path)

    def read_checkpoint(self, path, model):
        return native.read_checkpoint(path, model)

    def differentiate(self, compute, inputs, parameters):
        loss, tensors = compute()
        wanted = [*inputs, *parameters]
        if wanted and loss.requires_grad:
            gradients = torch.autograd.grad(loss, wanted, allow_unused=True)
        else:
            # Nothing the loss depends on needs a gradient (no float input, no trainable
            # parameter on its path): torch.autograd.grad would raise "element 0 of tensors does
            # not require grad"; every gradient is zero, as in the reference.
            gradients = [None] * len(wanted)
        return loss, tensors, list(gradients[: len(inputs)]), list(gradients[len(inputs):])
