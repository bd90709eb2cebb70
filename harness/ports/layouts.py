"""How a port receives its weights (`weights_as`), and how what it returns in that form (gradients,
parameters after each training step, state) comes back to the canonical layout.

* `canonical`: `{"<layer>/<parameter>": array}` in the case's order and layout (Keras'), as
  `python -m harness show CASE` lists them.
* `keras`, `torch`, `chainer`: the framework's own named tensors for the case's model, from
  harness/weights/native_weights.py (the adapters' WeightBindings and their Transforms, the one weight
  mapping of the harness; nothing here converts a weight itself):

  - keras: a list in `model.get_weights()` order (a command port's weights.npz: `arr_0`,
    `arr_1`, ...); what comes back may be such a list, a list of the trainable tensors only (in
    the same order, as `tape.gradient(loss, model.trainable_weights)` gives), or a dict keyed by
    variable path (`lstm/lstm_cell/kernel`) or `arr_<i>`;
  - torch: a state_dict-like dict of arrays (`hidden.weight` (out, in), `lstm.weight_ih_l0`
    with gate rows i, f, g, o, `lstm.bias_hh_l0` held at zero, `bn.num_batches_tracked`);
  - chainer: the chain's namedparams and persistent values as a dict of arrays, keyed as
    `chainer.serializers.save_npz` writes them.

  These need the framework installed (its model of the case is built to read the names off);
  where it is not, the port is skipped with that reason.

A gradient goes back through the same inverse transform as a value, as the adapters read theirs
back (harness/backends/base.py `add_parts`): every layout transform is a
transpose, a reordering or a split of blocks (orthogonal maps, whose adjoint is their inverse), a
sign flip, or a part of a parameter with zeros elsewhere (whose adjoint puts the part back). Of the
tensors the harness holds (torch's second recurrent bias, batch counters), a gradient is not read
(the canonical parameter's gradient is its bound tensor's); a value that folds into a parameter
(torch's bias_hh_l0 after training) is added into it, as harness/weights/native_weights.py does for a
checkpoint; the others are not read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.backends.base import Unsupported, add_parts
from harness.case import Case
from harness.common.errors import CaseError
from harness.weights.native_weights import FOLDED, native_layout, PARAMETER


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


class NativeWeightsLayout(WeightsLayout):
    """A framework's named tensors (harness/weights/native_weights.py's NativeLayout of the case)."""

    framework: str = ""

    def __init__(self) -> None:
        self._native: dict[str, Any] = {}

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.framework

    def native(self, case: Case):
        """The case's NativeLayout in this framework, built once per case; a framework that is
        not installed or cannot build the case skips the port, with the reason."""
        if case.id not in self._native:
            try:
                self._native[case.id] = native_layout(case, self.framework)
            except CaseError as exc:
                raise Unsupported(f"weights_as {self.framework}: {exc.render()}") from None
        return self._native[case.id]

    def to_port(self, case, weights):
        native = self.native(case)
        dtype = next(iter(weights.values())).dtype if weights else case.dtype
        # Float tensors in the port's dtype; counters (torch's num_batches_tracked) keep theirs.
        return {key: np.asarray(value).astype(dtype) if np.asarray(value).dtype.kind == "f" else np.asarray(value)
                for key, value in native.to_native(weights).items()}

    def keyed(self, case: Case, named: Any, what: str) -> tuple[dict[str, np.ndarray], list[str]]:
        """What the port returned as {native key: array}, and the problems found."""
        if not isinstance(named, dict):
            return {}, [f"{what}: expected a dict keyed by {self.framework}'s tensor names "
                        f"({', '.join(self.native(case).keys())}), found {type(named).__name__}"]
        return dict(named), []

    def from_port(self, case, named, what):
        native = self.native(case)
        tensors, problems = self.keyed(case, named, what)
        if problems:
            return {}, problems
        gradients = what == "gradients"  # returns.py names what it reads: gradients, state, training step k ...
        by_key = {tensor.key: tensor for tensor in native.tensors}
        problems += [f"{what}: unknown tensor {key!r} (expected one of {', '.join(by_key)})"
                     for key in tensors if key not in by_key]
        parts, given = [], {}
        for tensor in native.tensors:
            if tensor.key not in tensors:
                continue
            value = np.asarray(tensors[tensor.key])
            if value.shape != tensor.shape:
                problems.append(f"{what}: {tensor.key} has shape {list(value.shape)}, expected "
                                f"{list(tensor.shape)}")
                continue
            read = tensor.role == PARAMETER or (tensor.role == FOLDED and not gradients)
            if read:
                parts.append((tensor.parameter, native.transforms[tensor.key].from_native(value)))
            if tensor.role == PARAMETER:
                given.setdefault(tensor.parameter, set()).add(tensor.key)
        # A parameter spread over several tensors (one per gate) is read whole or not at all.
        for parameter, keys in given.items():
            missing = [t.key for t in native.tensors
                       if t.role == PARAMETER and t.parameter == parameter and t.key not in keys]
            if missing:
                problems.append(f"{what}: {parameter} is spread over {sorted(keys | set(missing))}; "
                                f"{missing} not given")
        summed = add_parts(parts)
        return {name: summed[name] for name in native.parameters if name in given}, problems

    def bindings(self, case, layer):
        return [{"parameter": tensor.parameter or "-", "native_name": tensor.key,
                 "native_shape": list(tensor.shape),
                 "transform": f"{tensor.native_name}: {tensor.description}"
                 + ("" if tensor.role == PARAMETER else f" ({tensor.role})")}
                for tensor in self.native(case).tensors if tensor.layer == layer]


class KerasLayout(NativeWeightsLayout):
    framework = "keras"

    def to_port(self, case, weights):
        return list(super().to_port(case, weights).values())

    def keyed(self, case, named, what):
        native = self.native(case)
        keys = native.keys()
        if isinstance(named, (list, tuple)):
            trainable = set(case.trainable_parameters())
            trainable_keys = [t.key for t in native.tensors if t.role == PARAMETER and t.parameter in trainable]
            if len(named) == len(trainable_keys) < len(keys):
                return dict(zip(trainable_keys, named)), []
            try:
                return native.by_position(named), []
            except CaseError:
                return {}, [f"{what}: a list of {len(named)} arrays; expected {len(keys)} (model.get_weights() "
                            f"order: {', '.join(f'[{i}] {key}' for i, key in enumerate(keys))}) or "
                            f"{len(trainable_keys)} (the trainable ones)"]
        if isinstance(named, dict):  # a command port's `arr_<i>`, or variable paths
            return {keys[int(key[4:])] if key.startswith("arr_") and key[4:].isdigit() and int(key[4:]) < len(keys)
                    else key: value for key, value in named.items()}, []
        return super().keyed(case, named, what)

    def describe(self):
        return "keras: the list model.get_weights() returns, in its order"

    def bindings(self, case, layer):
        """By the index a port's author unpacks from get_weights() (`weights[3]`), with the
        Keras variable path beside it: the list has no names."""
        index = {key: position for position, key in enumerate(self.native(case).keys())}
        return [{**binding, "native_name": f"weights[{index[binding['native_name']]}]",
                 "transform": f"{binding['native_name']}; {binding['transform']}"}
                for binding in super().bindings(case, layer)]

    def listing(self, case: Case) -> list[str]:
        """`weights[0]  lstm/kernel  (40, 512)  -> lstm/kernel`: what a port receives, in order."""
        return [f"weights[{position}]  {tensor.key}  {tuple(tensor.shape)}  -> {tensor.parameter or '-'}"
                for position, tensor in enumerate(self.native(case).tensors)]


class TorchLayout(NativeWeightsLayout):
    framework = "torch"

    def describe(self):
        return "torch: a state_dict of arrays, torch's names and layouts"


class ChainerLayout(NativeWeightsLayout):
    framework = "chainer"

    def describe(self):
        return "chainer: the chain's namedparams (and persistent values) as arrays, keyed as save_npz writes them"


LAYOUTS: dict[str, type[WeightsLayout]] = {"canonical": CanonicalLayout, "keras": KerasLayout,
                                           "torch": TorchLayout, "chainer": ChainerLayout}


def layout_for(name: str) -> WeightsLayout:
    layout = LAYOUTS.get(name)
    if layout is None:
        raise Unsupported(f"weights_as {name!r} is not available in this version of the harness "
                          f"(available: {', '.join(LAYOUTS)})")
    return layout()
