"""How a port receives its weights (`weights_as`), and how what it returns in that form (gradients,
parameters after each training step) comes back to the canonical layout.

* `canonical`: `{"<layer>/<parameter>": array}` in the case's order and layout (Keras'), as
  `python -m harness show CASE` lists them.
* `keras`, `torch`, `chainer`: the framework's own named tensors, as its adapter lays the
  case's weights out (the adapters' WeightBindings and their Transforms, the one weight mapping
  of the harness): keras a list in `model.get_weights()` order, torch a state_dict-like dict of
  arrays, chainer the chain's namedparams as a dict of arrays.

A gradient goes back through the same inverse transform as a value: every layout transform is a
transpose, a reordering or a split of blocks (orthogonal maps, whose adjoint is their inverse), a
sign flip, or a part of a parameter with zeros elsewhere (whose adjoint puts the part back).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.adapters.base import Unsupported
from harness.case import Case


class WeightsLayout:
    """One `weights_as` form: to the port, and back."""

    name: str = ""

    def to_port(self, case: Case, weights: dict[str, np.ndarray]) -> Any:
        raise NotImplementedError

    def from_port(self, case: Case, named: Any, what: str) -> tuple[dict[str, np.ndarray], list[str]]:
        """Canonical parameters from what the port returned in its form (gradients, or values
        after a step), and the problems found (unknown names, a list of the wrong length)."""
        raise NotImplementedError

    def bindings(self, case: Case, layer: str) -> list[dict[str, Any]]:
        """The weight-mapping rows of a layer for the report: canonical parameter, the name the
        port sees, its shape, the transform."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class CanonicalLayout(WeightsLayout):
    name = "canonical"

    def to_port(self, case, weights):
        return dict(weights)

    def from_port(self, case, named, what):
        if not isinstance(named, dict):
            return {}, [f"{what}: expected a dict keyed by parameter name, found {type(named).__name__}"]
        known = case.graph.parameter_shapes
        problems = [f"{what}: unknown parameter {name!r} (expected one of {', '.join(known)})"
                    for name in named if name not in known]
        return {name: np.asarray(value) for name, value in named.items() if name in known}, problems

    def bindings(self, case, layer):
        return [{"parameter": name, "native_name": name, "native_shape": list(shape), "transform": "as is"}
                for name, shape in case.graph.parameter_shapes.items() if name.split("/", 1)[0] == layer]

    def describe(self):
        return "canonical: {'<layer>/<parameter>': array}, the case's layout"


LAYOUTS: dict[str, type[WeightsLayout]] = {"canonical": CanonicalLayout}


def layout_for(name: str) -> WeightsLayout:
    layout = LAYOUTS.get(name)
    if layout is None:
        raise Unsupported(f"weights_as {name!r} is not available in this version of the harness "
                          f"(available: {', '.join(LAYOUTS)})")
    return layout()
