"""torch's Add, Multiply, Concatenate: builders and the import translations of `+`, `*`, `+=`,
torch.add, torch.mul and torch.cat in a traced forward."""

from __future__ import annotations

import functools
import operator
from typing import Callable

import torch

from harness.backends.base import BuiltLayer
from harness.backends.torch.import_options import tensor_arguments
from harness.backends.torch.registry import REGISTRY

builders = REGISTRY.layers


@builders.register("Add")
def add(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: functools.reduce(operator.add, xs), detail="torch +")


@builders.register("Multiply")
def multiply(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: functools.reduce(operator.mul, xs), detail="torch *")


@builders.register("Concatenate")
def concatenate(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: torch.cat(xs, dim=spec.axis), detail=f"torch.cat(dim={spec.axis})")


def elementwise(kind: str) -> Callable:
    def translate(node, reasons) -> dict:
        if len(tensor_arguments(node)) != len(node.args) or node.kwargs:
            reasons.append("an argument that is not a tensor of the model (a constant)")
        return {"type": kind}
    return translate


# `out += identity` (torchvision's BasicBlock/Bottleneck): fx records operator.iadd, the same
# sum as `+` on the traced values (the in-place write is not observable in the graph).
REGISTRY.imports.register(operator.add, torch.add, operator.iadd, produces=("Add",))(elementwise("Add"))
REGISTRY.imports.register(operator.mul, torch.mul, produces=("Multiply",))(elementwise("Multiply"))


@REGISTRY.imports.register(torch.cat, produces=("Concatenate",))
def cat(node, reasons) -> dict:  # torch.cat(tensors, dim=0)
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    if dim == 0:
        reasons.append("cat along the batch axis")
    return {"type": "Concatenate", "axis": dim}
