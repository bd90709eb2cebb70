"""Where each gate of a recurrent layer sits in a framework's tensors: layout transforms.

The canonical (Keras) layout puts the gates side by side in blocks of `units` columns: an LSTM
kernel (features, 4 units) holds i in columns 0:u, f in u:2u, c in 2u:3u, o in 3u:4u. The
frameworks differ in three ways, each a `GateLayout` below:

* the weight is transposed, gates along the rows (torch, chainer: (out, in) like a Linear);
* the blocks come in another order (torch's GRU: r, z, n where Keras has z, r, h);
* the gates are interleaved per unit rather than blocked (chainer's F.lstm reads row 4 j + k as
  gate k of unit j), or spread over one tensor per gate (chainer's NStep links and GRU links).

A transform may also take one row of the canonical array (GRU's bias (2, 3u): input and
recurrent bias go to two native tensors) or negate it (chainer's L.GRU computes 1 - z, so its z
weights are stored negated). A canonical parameter spread over several native tensors has one
binding per tensor; each `from_native` returns the full canonical shape with zeros outside its
part, so the parts add up to the parameter (and its gradient), see adapters/base.py.

Every transform's description names the native rows (or elements) of every gate, with the
canonical columns they come from, so `python -m harness show --mapping` and results.json say
exactly where each gate went.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.backends.layout import Transform

GATE_NAMES = {
    "i": "input gate", "f": "forget gate", "c": "cell candidate", "o": "output gate",
    "z": "update gate", "r": "reset gate", "h": "candidate",
}


@dataclass(frozen=True)
class GateLayout:
    """How a framework stores a parameter whose last canonical axis holds gate blocks.

    `native_gates` are the canonical gate letters in the framework's order; `native_names`
    gives the framework's own letter where it differs (torch calls Keras' c `g`).
    """

    canonical_gates: tuple[str, ...]
    native_gates: tuple[str, ...]
    transposed: bool
    interleaved: bool = False
    native_names: dict[str, str] = field(default_factory=dict)

    def label(self, gate: str) -> str:
        native = self.native_names.get(gate, gate)
        keras = f" (Keras {gate})" if native != gate else ""
        return f"{native}{keras}"

    def columns(self, units: int) -> np.ndarray:
        """For each native position along the gate axis, the canonical column it holds."""
        blocks = [self.canonical_gates.index(g) for g in self.native_gates]
        if self.interleaved:
            return np.array([blocks[k] * units + j for j in range(units) for k in range(len(blocks))])
        return np.concatenate([np.arange(b * units, (b + 1) * units) for b in blocks])


def gate_transform(layout: GateLayout, units: int, canonical_shape: tuple[int, ...], *,
                   row: int | None = None, gates: tuple[str, ...] | None = None,
                   negate: bool = False, intro: str = "") -> Transform:
    """The transform of one native tensor holding `gates` (default: all, in native order)
    of the canonical parameter (of `row` of it, for a 2-D bias)."""
    gates = gates or layout.native_gates
    part = GateLayout(layout.canonical_gates, gates, layout.transposed, layout.interleaved,
                      layout.native_names)
    columns = part.columns(units)
    vector = len(canonical_shape) == 1 or row is not None
    transposed = layout.transposed and not vector

    def to_native(array: np.ndarray) -> np.ndarray:
        selected = (array[row] if row is not None else array)[..., columns]
        selected = selected.T if transposed else selected
        return np.ascontiguousarray(-selected if negate else selected)

    def from_native(array: np.ndarray) -> np.ndarray:
        values = -array if negate else array
        values = values.T if transposed else values
        canonical = np.zeros(canonical_shape, dtype=array.dtype)
        target = canonical[row] if row is not None else canonical
        target[..., columns] = values
        return canonical

    return Transform(describe(part, units, canonical_shape, row=row, negate=negate, intro=intro),
                     to_native, from_native)


def describe(layout: GateLayout, units: int, canonical_shape: tuple[int, ...], *, row: int | None,
             negate: bool, intro: str) -> str:
    """E.g. "transposed (40, 512) -> (512, 40); rows 0:128 input gate i (Keras columns 0:128), ..."."""
    vector = len(canonical_shape) == 1 or row is not None
    axis = "elements" if vector else ("rows" if layout.transposed else "columns")
    source = "element" if vector else "column"
    u = units
    steps = [intro] if intro else []
    if row is not None:
        steps.append(f"row {row} of the canonical {tuple(canonical_shape)}")
    if layout.transposed and not vector:
        steps.append(f"transposed {tuple(canonical_shape)} -> ({len(layout.native_gates) * u}, "
                     f"{canonical_shape[0]})")
    if negate:
        steps.append("negated")
    parts = []
    for k, g in enumerate(layout.native_gates):
        start = layout.canonical_gates.index(g) * u
        native = layout.native_names.get(g, g)
        keras = [f"Keras {g}"] if native != g else []
        if layout.interleaved:
            n = len(layout.native_gates)
            place = f"{source} {start}+j" if start else f"{source} j"
            place = place if keras else f"Keras {place}"
            parts.append(f"{n}j+{k} {native} ({', '.join(keras + [place])})")
        else:
            whole = len(layout.native_gates) == len(layout.canonical_gates) and row is None
            same_place = whole and start == k * u and (vector or not layout.transposed)
            where = [] if same_place else [f"{source}s {start}:{start + u}"]
            if not keras and where:
                where = [f"Keras {where[0]}"]
            note = f" ({', '.join(keras + where)})" if keras or where else ""
            parts.append(f"{k * u}:{(k + 1) * u} {GATE_NAMES[g]} {native}{note}")
    if layout.interleaved:
        steps.append(f"gates interleaved per unit j = 0..{u - 1}: {axis} " + ", ".join(parts))
    else:
        steps.append(f"{axis} " + ", ".join(parts))
    return "; ".join(steps)
