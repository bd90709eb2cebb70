"""The Keras adapter on Keras' torch backend (`keras-torch`), inside its worker process.

The builders, the weight bindings, the losses, metrics and optimizers are the Keras adapter's
own: they call keras.layers and keras.ops, which run on whatever backend Keras was imported on.
What is TensorFlow's in KerasBackend is replaced here by torch's:

* inputs are torch tensors (`keras.ops.convert_to_tensor`, on Keras' device), the float ones
  with requires_grad so that their gradients exist;
* gradients come from torch.autograd on the loss, with respect to those inputs and to each
  trainable keras.Variable's `.value` (on this backend a torch.nn.Parameter): Keras' torch
  backend has no tape of its own (keras/src/backend/torch/trainer.py calls loss.backward());
* training applies the Keras optimizer to those gradients, as model.fit does on torch.

Imported only where KERAS_BACKEND=torch (harness/backends/keras_other/worker_side.py).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from harness.backends.base import ExecutionPath, Unsupported
from harness.backends.keras import KerasBackend, paths
from harness.backends.keras._import import BACKEND, keras
from harness.backends.keras.conv import channels_first_route

if BACKEND != "torch":
    raise ImportError(f"harness.backends.keras.on_torch needs Keras on torch, not {BACKEND!r}")


class KerasTorchBackend(KerasBackend):
    name: ClassVar[str] = "keras-torch"

    def version(self) -> str:
        return f"keras {keras.__version__}, torch {torch.__version__} (KERAS_BACKEND=torch)"

    def execution_paths(self, case):
        found = [ExecutionPath("torch.threads", str(torch.get_num_threads()),
                               f"torch intra-op threads: {torch.get_num_threads()}")]
        if case.spec.dtype == "float64":
            found.append(ExecutionPath("keras.float64", "float32",
                                       "Keras' type promotion computes float64 as float32 on torch "
                                       "(keras/src/backend/common/dtypes.py BIT64_TO_BIT32_DTYPE): judged "
                                       "with float32's tolerances"))
        for name, spec in case.graph.layers.items():
            if spec.type in paths.CONVOLUTIONS and spec.data_format == "channels_first":
                found.append(channels_first_route(name, spec, case.spec.dtype))
        return found

    def forward(self, case, built, inputs):
        """The Keras adapter's forward pass; a layer that Keras' torch backend refuses (Keras
        wraps an error inside a layer's call as "Exception encountered when calling ...") makes
        the case skipped with Keras' words: the same builders run that layer on TensorFlow, so
        it is a limit of the backend, listed in docs/shipping.md, not a harness crash."""
        try:
            return super().forward(case, built, inputs)
        except Exception as exc:  # noqa: BLE001  only Keras' own layer-call errors become skips
            if "Exception encountered when calling" not in str(exc):
                raise
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            raise Unsupported("Keras' torch backend cannot run this model: " + " ".join(lines[:3])) from None

    def tensor(self, array: np.ndarray, *, requires_grad: bool):
        tensor = keras.ops.convert_to_tensor(array)
        if requires_grad:
            tensor.requires_grad_(True)
        return tensor

    def to_numpy(self, tensor) -> np.ndarray:
        if isinstance(tensor, torch.Tensor):
            return tensor.detach().cpu().numpy()
        return keras.ops.convert_to_numpy(tensor)

    def differentiate(self, compute, inputs, parameters):
        loss, tensors = compute()
        wrt = [*inputs, *(variable.value for variable in parameters)]
        needed = [index for index, tensor in enumerate(wrt) if tensor.requires_grad]
        found = torch.autograd.grad(loss, [wrt[i] for i in needed], allow_unused=True) if needed else []
        gradients: list = [None] * len(wrt)
        for index, gradient in zip(needed, found):
            gradients[index] = gradient
        return loss, tensors, gradients[: len(inputs)], gradients[len(inputs):]
