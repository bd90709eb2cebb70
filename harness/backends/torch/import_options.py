"""Reading a torch module's options and a torch.fx node's arguments the way the case writes
them, for the import translations in the family modules (core.py, conv.py, pooling.py, ...)."""

from __future__ import annotations

import torch
from torch import fx

nn = torch.nn

BLOCK_INPUT = "<input>"
"""A module translated into a block of several case layers (a list of specs, nn.TransformerEncoderLayer's):
in their `inputs`, the block's own input; the other names are the block's layers'."""


def pair(value) -> list[int]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def option(value):
    """An int stays an int (the case reads it for every axis), a tuple becomes a list."""
    return list(value) if isinstance(value, (tuple, list)) else value


def padding(module, reasons: list[str]):
    """torch's padding as the case writes it: 'valid'/'same', or the explicit amount (an int,
    or one per axis), which the case's convolutions and poolings take (both sides alike)."""
    padding = module.padding
    if padding in ("valid", "same"):
        return padding
    rank = len(pair(module.kernel_size))
    pads = pair(padding) * (rank if len(pair(padding)) == 1 else 1)
    if all(p == 0 for p in pads):
        return "valid"
    # 'same' pads (k - 1) d / 2 on each side where that is whole and the stride 1: equal to it,
    # and Keras runs 'same' natively.
    if isinstance(module, nn.modules.conv._ConvNd) and all(s == 1 for s in pair(module.stride)) and all(
            (k - 1) * d == 2 * p for k, d, p in zip(pair(module.kernel_size), pair(module.dilation) * len(pads), pads)):
        return "same"
    return pads[0] if len(set(pads)) == 1 else list(pads)


def tensor_arguments(node) -> list:
    """The torch.fx nodes among a call's positional arguments (one level into a list: torch.cat)."""
    found = []
    for argument in node.args:
        if isinstance(argument, fx.Node):
            found.append(argument)
        elif isinstance(argument, (tuple, list)):
            found.extend(item for item in argument if isinstance(item, fx.Node))
    return found
