"""Which branches of each layer's activation the case's inputs reach, on the reference.

A transform of a piecewise activation (leaky_relu's slope, hard_sigmoid's formula) is only
visible where some pre-activation falls on the piece it changes; a saturating one (sigmoid,
tanh) needs inputs both near 0 and in the tails for its formula to matter everywhere. Per
layer with such an activation, the share of pre-activation elements in each branch, from one
forward pass of the reference: the layer is run again on its inputs (the reference's own
intermediates) with a linear activation, which gives the pre-activations without touching
the layer's code.

Branches are registered per activation name (BRANCHES); recurrent cells apply theirs inside
the cell and are not measured here. Max pooling gets one entry too: the share of windows whose
maximum is reached by a single cell; a tie (zeros after a relu) makes the gradient's route a
convention (the first maximum here, in Keras and torch; chainer may differ), so a case whose
windows tie does not test max pooling's backward for what it means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from harness.defaults import resolve_for_reference
from harness.reference.activations import Linear
from harness.reference.layers.pooling import MaxPoolingReference

Branch = tuple[str, Callable[[Any, np.ndarray], np.ndarray]]

BRANCHES: dict[str, list[Branch]] = {}


def branches(*names: str) -> Callable[[Callable[[], list[Branch]]], Callable]:
    def register(make: Callable[[], list[Branch]]) -> Callable:
        for name in names:
            BRANCHES[name] = make()
        return make
    return register


@branches("relu", "leaky_relu", "elu", "selu", "gelu", "swish", "silu", "softplus")
def _two_sided():
    return [("x < 0", lambda act, z: z < 0), ("x > 0", lambda act, z: z > 0)]


@branches("hard_sigmoid")
def _hard_sigmoid():
    def inner(act, z):
        return act.slope * z + act.offset
    return [("clipped at 0", lambda act, z: inner(act, z) <= 0),
            ("linear piece", lambda act, z: (inner(act, z) > 0) & (inner(act, z) < 1)),
            ("clipped at 1", lambda act, z: inner(act, z) >= 1)]


@branches("relu_layer")
def _relu_layer():
    # The ReLU layer without max_value (harness/reference/layers/activation_layers.py, ReLUPieces).
    return [("at or below the threshold", lambda act, z: z <= act.threshold),
            ("above the threshold", lambda act, z: z > act.threshold)]


@branches("clipped_relu_layer")
def _clipped_relu_layer():
    return [("at or below the threshold", lambda act, z: z <= act.threshold),
            ("linear piece", lambda act, z: (z > act.threshold) & (z < act.max_value)),
            ("clipped at max_value", lambda act, z: (z > act.threshold) & (z >= act.max_value))]


@branches("hard_swish")
def _hard_swish():
    return [("zero (x < -3)", lambda act, z: z < -3), ("quadratic piece", lambda act, z: (z >= -3) & (z <= 3)),
            ("identity (x > 3)", lambda act, z: z > 3)]


@branches("sigmoid", "tanh")
def _saturating():
    # tanh' < 0.07 and sigmoid' < 0.05 beyond |x| = 2 and 3: "saturating"; |x| < 0.5: "linear".
    return [("near 0 (|x| < 0.5)", lambda act, z: np.abs(z) < 0.5),
            ("saturating (|x| > 2)", lambda act, z: np.abs(z) > 2)]


@dataclass
class LayerCoverage:
    layer: str
    activation: str
    shares: dict[str, float]
    """Branch -> share of the pre-activation elements in it."""

    @property
    def missed(self) -> list[str]:
        """Branches no element reaches (for max pooling: windows with a tied maximum exist)."""
        if "tied maximum" in self.shares:
            tied = self.shares["tied maximum"]
            return [f"windows without ties ({100 * tied:.0f}% have a tied maximum)"] if tied > 0 else []
        return [branch for branch, share in self.shares.items() if share == 0]

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "activation": self.activation, "shares": self.shares, "missed": self.missed}


def branch_coverage(case: Any, reference: Any) -> list[LayerCoverage]:
    """Per node with a registered piecewise or saturating activation, the branch shares."""

    found = []
    tensors = {**{name: np.asarray(a, dtype=np.float64) if a.dtype.kind == "f" else a
                  for name, a in case.dataset.inputs.items()}, **reference.intermediates}
    for node in case.graph.nodes:
        spec = resolve_for_reference(case.graph.layers[node.layer])[0]
        if issubclass(type(spec).reference, MaxPoolingReference):
            found.append(_max_pool_ties(node, spec, tensors))
            continue
        activation = getattr(spec, "activation", None)
        if activation is None or getattr(activation, "name", None) not in BRANCHES:
            continue
        if hasattr(spec, "gates"):
            continue  # a recurrent cell: its activations act inside the cell
        inputs = [tensors[name] for name in node.inputs]
        if "activation" in type(spec).model_fields:
            linear = spec.model_copy(update={"activation": Linear(name="linear")})
            params = {p: case.weights[f"{node.layer}/{p}"].astype(np.float64)
                      for p in case.graph.parameters_of(node.layer)}
            z = type(spec).reference(linear, params, training=False).forward(*inputs)
        else:
            (z,) = inputs  # an activation layer (LeakyReLU): its input is the pre-activation
        z = np.asarray(z)
        shares = {name: float(np.count_nonzero(test(activation, z)) / max(z.size, 1))
                  for name, test in BRANCHES[activation.name]}
        found.append(LayerCoverage(node.name, activation.describe(), shares))
    return found


def _max_pool_ties(node: Any, spec: Any, tensors: dict[str, np.ndarray]) -> LayerCoverage:
    (x,) = [tensors[name] for name in node.inputs]
    pool = type(spec).reference(spec, {}, training=False)
    padded, offsets = pool.padded_offsets(np.asarray(x, dtype=np.float64))
    y = np.max([padded[cells] for cells in offsets], axis=0)
    reached = sum((padded[cells] == y).astype(np.int64) for cells in offsets)
    unique = float(np.count_nonzero(reached == 1) / max(reached.size, 1))
    return LayerCoverage(node.name, f"{type(spec).type_name()} windows",
                         {"one maximum": unique, "tied maximum": 1.0 - unique})


def coverage_lines(case_id: str, coverage: list[LayerCoverage]) -> list[str]:
    lines = []
    for entry in coverage:
        shares = ", ".join(f"{branch} {100 * share:.0f}%" for branch, share in entry.shares.items())
        missed = f"  MISSING: {', '.join(entry.missed)}" if entry.missed else ""
        lines.append(f"  {entry.layer} ({entry.activation}): {shares}{missed}")
    return [f"{case_id}: branches reached"] + lines if lines else []
