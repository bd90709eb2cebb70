"""The torch adapter's model of a whole case, and its checkpoints.

A torch user's model is an nn.Module tree, and its checkpoint is `torch.save(model.state_dict())`.
The harness's model of a case is the same kind of tree: each layer's module (the one its builder
made, composite layers included) is a child under the layer's name, so the state_dict keys are
what a user's module with attributes of those names has: `hidden.weight`, `lstm.weight_ih_l0`,
`bn.running_mean`, `bn.num_batches_tracked`. A layer name with dots nests, as submodules do:
`features.0` is child `0` of child `features` (torch/nn/modules/module.py `add_module` refuses
dots in one name).
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch

from harness.backends.base import BuiltLayer, CheckpointContents, NativeModel, Unsupported


class CaseModule(torch.nn.Module):
    """Holds the case's layer modules; it is never called (the run loop calls the layers)."""


def native_model(built: dict[str, BuiltLayer]) -> NativeModel:
    root = CaseModule()
    for layer, layer_built in built.items():
        if isinstance(layer_built.module, torch.nn.Module):
            place(root, layer, layer_built.module)
    return NativeModel(root, dict(root.state_dict(keep_vars=True)))


def place(root: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    *parents, leaf = name.split(".")
    node = root
    try:
        for part in parents:
            if part not in node._modules:
                node.add_module(part, torch.nn.Module())
            node = node._modules[part]
        if leaf in node._modules:
            raise KeyError(f"{name!r} is already a module holding other layers")
        node.add_module(leaf, module)
    except KeyError as exc:  # add_module's refusals: empty name, an nn.Module attribute such as `train`
        raise Unsupported(f"torch cannot hold layer {name!r} as a submodule: {exc.args[0]}") from None


def save_checkpoint(model: NativeModel, tensors: dict[str, np.ndarray], path: str) -> None:
    """torch.save of a state_dict: an OrderedDict of key -> tensor, as `state_dict()` returns,
    in the form torch's own module saves (a layer module with `pack_checkpoint`: the attention's
    packed in_proj_weight)."""
    for prefix, module in model.container.named_modules():
        if hasattr(module, "pack_checkpoint"):
            tensors = module.pack_checkpoint(f"{prefix}.", tensors)
    # np.ascontiguousarray makes a 0-d array 1-d (BatchNorm's num_batches_tracked is 0-d in torch):
    # the reshape keeps the shape torch's load_state_dict checks.
    torch.save(OrderedDict((key, torch.from_numpy(np.ascontiguousarray(value).reshape(np.shape(value))))
                           for key, value in tensors.items()), path)


def read_checkpoint(path: str, model: NativeModel | None = None) -> CheckpointContents:
    """A state_dict saved with torch.save, loaded with weights_only=True: only tensors and plain
    containers are unpickled, no code from the file runs (torch/serialization.py). A layer module
    of `model` with `unpack_checkpoint` reads torch's own module's form (the attention's packed
    in_proj_weight) into its tensors."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"torch.load(weights_only=True) refused the file ({first}); save the model's "
                         "state_dict itself: torch.save(model.state_dict(), PATH)") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"torch.load cannot read it as a torch.save file: {exc}") from None
    if not isinstance(loaded, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()):
        found = (f"a {type(loaded).__name__} with keys {list(loaded)[:8]}" if isinstance(loaded, Mapping)
                 else f"a {type(loaded).__name__}")
        raise ValueError(f"the file holds {found}, not a state_dict (names -> tensors); save "
                         "model.state_dict() itself: torch.save(model.state_dict(), PATH)")
    tensors, names = {key: to_numpy(tensor) for key, tensor in loaded.items()}, {}
    if model is not None:
        for prefix, module in model.container.named_modules():
            if hasattr(module, "unpack_checkpoint"):
                module.unpack_checkpoint(f"{prefix}.", tensors, names)
    return CheckpointContents(tensors, names)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.to(torch.float32)  # numpy has no bfloat16; float16 widened alike
    return tensor.numpy().copy()
