"""Kink crossings: ReLU inputs that a backend's rounding puts on the other side of the kink from
the reference.

relu's derivative is 1 on one side of 0 and 0 on the other. An input the float64 reference
computes as +5e-8 and a float32 backend as -2e-8 (both right to their precision) passes the
gradient in one and stops it in the other, so every gradient upstream of that element differs
however exact the translation, while every forward value and every gradient downstream agree.
With millions of ReLU inputs a run (torchvision's resnet18 at 224x224: 4.6 million) a few lie
within float32 rounding of 0 (docs/vision-models.md, measured element by element). This names
them on a failed gradients check, so that the failure reads as what it is; the verdict stays.

An element counts only where the reference's value is within the backend's own error on the
rest of that tensor (its largest |actual - reference| on the elements on the same side): a sign
that differs by more than that is no rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SHOWN = 3
"""Crossings named in the text; the count covers all."""


@dataclass
class Crossing:
    node: str
    tensor: str
    """The tensor whose sign was compared: the ReLU's input, or a fused activation's output."""
    index: tuple[int, ...]
    reference: float
    actual: float
    error: float
    """The backend's largest |actual - reference| on the rest of that tensor."""

    def text(self) -> str:
        return (f"{self.tensor!r} at {list(self.index)} is {self.reference:+.3g} in the reference and "
                f"{self.actual:+.3g} here (largest error on the rest of that tensor {self.error:.2g})")


def _kink_tensors(graph) -> list[tuple[str, str, float]]:
    """(node, tensor, threshold) per ReLU in graph order: an Activation relu or a ReLU layer
    compares its input with the threshold; a layer with a fused relu (Conv2D(activation='relu'))
    its output with 0 (positive exactly where its input is)."""
    found = []
    for node in graph.nodes:
        spec = node.spec
        kind = getattr(spec, "type", "")
        activation = getattr(getattr(spec, "activation", None), "name", None)
        if kind == "Activation" and activation == "relu" and len(node.inputs) == 1:
            found.append((node.name, node.inputs[0], 0.0))
        elif kind == "ReLU" and len(node.inputs) == 1:
            found.append((node.name, node.inputs[0], float(spec.threshold)))
        elif activation == "relu":
            found.append((node.name, node.name, 0.0))
    return found


def kink_crossings(case: Any, actual: Any, reference: Any, tolerance: Any = None) -> list[Crossing]:
    """Every ReLU input on the other side of its kink from the reference, within the backend's
    rounding of that tensor, in graph order. With `tolerance` (the intermediates check's), only
    in tensors that agree within it everywhere: where a forward value is off, a sign that
    differs is that error, not rounding at the kink."""
    crossings = []
    for node, tensor, threshold in _kink_tensors(case.graph):
        a, e = actual.intermediates.get(tensor), reference.intermediates.get(tensor)
        if a is None or e is None or np.shape(a) != np.shape(e):
            continue
        a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
        if tolerance is not None and (np.abs(a - e) > tolerance.atol + tolerance.rtol * np.abs(e)).any():
            continue
        sides = (a > threshold) != (e > threshold)
        rest = np.abs(a - e)[~sides]
        error = float(rest.max()) if rest.size else 0.0
        crossed = sides & (np.abs(e - threshold) <= error)
        for index in np.argwhere(crossed):
            at = tuple(int(i) for i in index)
            crossings.append(Crossing(node, tensor, at, float(e[at]), float(a[at]), error))
    return crossings


def kink_text(crossings: list[Crossing], divergent_node: str | None = None) -> str:
    """One paragraph for a failed gradients check's message."""
    shown = "; ".join(c.text() for c in crossings[-SHOWN:][::-1])
    more = f" (and {len(crossings) - SHOWN} more)" if len(crossings) > SHOWN else ""
    where = ""
    last = crossings[-1]
    if divergent_node in (last.node, last.tensor):
        where = f"; the backward divergence above is at that ReLU ({last.node!r}) or the layer feeding it"
    return (f"{len(crossings)} ReLU input(s) on the other side of the kink from the reference, each within "
            f"this backend's rounding of its tensor: {shown}{more}. relu's derivative is 1 on one side and 0 "
            f"on the other, so the gradients upstream of such an element differ however exact the "
            f"translation{where} (docs/vision-models.md, resnet18 at 224x224)")
