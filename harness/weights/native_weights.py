"""A case's weights as each framework's own tools name and lay them out, and back.

A user who ports a model holds its weights in a framework's terms: a torch `state_dict()`
(`hidden.weight` (out, in), `lstm.weight_ih_l0` with gate rows [i, f, g, o]), the list Keras'
`model.get_weights()` returns, the arrays chainer's `serializers.save_npz` writes. The harness
holds them in one canonical layout (`<layer>/<parameter>`, Keras' layout). Between the two there
is exactly one mapping: the adapters' `WeightBinding`s with their layout `Transform`s, the very
objects every run loads weights through. This module does not convert anything itself; it
builds the case in the framework (`FrameworkBackend.build_native`: each layer's module placed
under the layer's name in one native model, so the names are the framework's own) and reads the
bindings off it:

    state = native_weights(case, "torch")                # {"hidden.weight": (out, in) array, ...}
    weights = canonical_from_native(case, "torch", state)  # {"hidden/kernel": (in, out) array, ...}
    keras_list = list(native_weights(case, "keras").values())   # model.set_weights(keras_list)

or, to convert many times, once `layout = native_layout(case, framework)`, then
`layout.to_native(weights)` and `layout.from_native(tensors)`.

Every native tensor is accounted for. Most hold (part of) a canonical parameter. The others are
`HeldTensor`s the adapter declares: tensors the case's layer does not have (torch's second LSTM
bias, held at zero; BatchNorm's batch counters). `from_native` adds a held tensor's value into
the parameter it folds into (torch adds bias_hh_l0 to bias_ih_l0, so a trained checkpoint's
two biases become Keras' one), requires it to equal the held value where the case's layer could
not compute with another, or ignores it where the layer never reads it, as its description says.

`from_native` accepts nothing silently: a missing tensor, an unexpected one, a wrong shape, or
a held value the case cannot express is one `TensorProblem` each, all raised together as
`WeightsMismatch` (a CaseError: no traceback, one line per tensor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.backends import get_backend
from harness.backends.base import FrameworkBackend, NativeModel, Unsupported, add_parts
from harness.backends.layout import Transform
from harness.case import Case
from harness.case.schema import NATIVE_FRAMEWORKS as FRAMEWORKS
from harness.common.errors import CaseError


PARAMETER, FOLDED, FIXED, IGNORED = "parameter", "folded", "fixed", "ignored"
"""Roles of a native tensor: it holds (part of) a canonical parameter; its value adds into one;
it must equal its held value; it is unused and ignored."""


@dataclass(frozen=True)
class NativeTensor:
    """One tensor of the framework's model of the case."""

    key: str
    """Its name as the framework's tools give it (state_dict key, Keras variable path, npz key)."""
    layer: str
    shape: tuple[int, ...]
    role: str
    """PARAMETER, FOLDED, FIXED or IGNORED (see the module docstring)."""
    parameter: str | None
    """The canonical `<layer>/<parameter>` it holds or folds into; None for FIXED and IGNORED."""
    native_name: str
    """The adapter's description of the tensor, e.g. `Linear.weight`."""
    description: str
    """The layout transform, or why the tensor is held."""
    optional: bool = False
    """The adapter removed it from its layer (chainer's second SimpleRNN bias): the harness's
    model has no such tensor, a checkpoint of the unmodified layer may have it. `to_native`
    gives it (zeros), `from_native` does not require it."""


@dataclass(frozen=True)
class TensorProblem:
    """Why one named tensor does not fit the case's model."""

    name: str
    problem: str
    expected: tuple[int, ...] | None = None
    found: tuple[int, ...] | None = None

    def render(self) -> str:
        shapes = []
        if self.expected is not None:
            shapes.append(f"expected shape {tuple(self.expected)}")
        if self.found is not None:
            shapes.append(f"found {tuple(self.found)}")
        return f"{self.name}: {self.problem}" + (f" ({', '.join(shapes)})" if shapes else "")


class WeightsMismatch(CaseError):
    """Named tensors that do not fit a case's model: one problem per tensor."""

    def __init__(self, message: str, problems: list[TensorProblem], **where: Any) -> None:
        self.problems = problems
        listing = "\n".join("    " + problem.render() for problem in problems)
        super().__init__(f"{message}:\n{listing}", **where)


class FrameworkUnavailable(CaseError):
    """A framework's weights were asked for where that framework is not installed (or fails to
    import): it is needed to build the model whose names and layouts they follow."""


@dataclass
class NativeLayout:
    """A case's model in one framework: every native tensor's name, shape and mapping."""

    framework: str
    version: str
    case_id: str
    tensors: list[NativeTensor]
    """In the framework's own order (state_dict order, `get_weights()` order, namedparams
    then persistent values); optional (removed) tensors last."""
    parameters: dict[str, tuple[int, ...]]
    """The case's canonical parameters and shapes, in the case's order."""
    transforms: dict[str, Transform] = field(repr=False, default_factory=dict)
    """Key -> transform, for PARAMETER and FOLDED tensors."""
    held_values: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    """Key -> the value the harness's model holds, for FOLDED, FIXED and IGNORED tensors."""

    def by_position(self, arrays: Sequence[Any]) -> dict[str, Any]:
        """A list in the framework's order (Keras' `get_weights()`) named by position; its length
        must be that of the model's tensors (the optional ones, which come last, may be left out)."""
        arrays = list(arrays)
        required = [tensor.key for tensor in self.tensors if not tensor.optional]
        if not len(required) <= len(arrays) <= len(self.tensors):
            raise WeightsMismatch(
                f"{len(arrays)} arrays given by position for {self.case_id!r}; its {self.framework} model has "
                f"{len(required)}", [TensorProblem(tensor.key, "tensor at this position", expected=tensor.shape)
                                     for tensor in self.tensors])
        return dict(zip(self.keys(), arrays))

    def keys(self) -> list[str]:
        """Every tensor's name, in order (what `to_native` returns)."""
        return [tensor.key for tensor in self.tensors]

    def to_native(self, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Canonical weights -> {key: array} in the framework's layout and order. Held tensors
        get the value the harness's model holds (torch's second bias: zeros), removed ones too
        (zeros), so that the unmodified layer of a user's model finds every tensor it has."""
        missing = [name for name in self.parameters if name not in weights]
        if missing:
            raise WeightsMismatch(f"canonical weights for {self.case_id!r} lack parameters", [
                TensorProblem(name, "missing", expected=self.parameters[name]) for name in missing])
        native = {}
        for tensor in self.tensors:
            if tensor.role == PARAMETER:
                native[tensor.key] = self.transforms[tensor.key].to_native(np.asarray(weights[tensor.parameter]))
            else:
                native[tensor.key] = self.held_values[tensor.key].copy()
        return native

    def problems(self, tensors: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[TensorProblem]:
        """Every tensor that does not fit: missing, unexpected, of another shape, or a held
        value the case's layer cannot compute with. `names`: key -> the name in the file, where
        it differs (Keras' file paths), for the messages."""
        names = names or {}
        label = (lambda key: f"{names[key]} ({key})" if key in names else key)
        problems = []
        known = set()
        for tensor in self.tensors:
            known.add(tensor.key)
            if tensor.key not in tensors:
                if not tensor.optional:
                    problems.append(TensorProblem(label(tensor.key), "missing", expected=tensor.shape))
                continue
            value = np.asarray(tensors[tensor.key])
            if value.shape != tensor.shape:
                problems.append(TensorProblem(label(tensor.key), "shape differs", tensor.shape, value.shape))
            elif tensor.role == FIXED and not np.array_equal(value, self.held_values[tensor.key]):
                problems.append(TensorProblem(label(tensor.key), f"must equal the held value: {tensor.description}"))
        for key in tensors:
            if key not in known:
                problems.append(TensorProblem(label(key), "not in the case's model",
                                              found=tuple(np.shape(tensors[key]))))
        return problems

    def from_native(self, tensors: Mapping[str, Any], names: Mapping[str, str] | None = None,
                    **where: Any) -> dict[str, np.ndarray]:
        """{key: array} in the framework's layout -> canonical weights, through the same
        bindings. Raises WeightsMismatch listing every tensor that does not fit (`where`: the
        CaseError's file and field)."""
        problems = self.problems(tensors, names)
        if problems:
            raise WeightsMismatch(f"{len(problems)} {self.framework} tensor(s) do not fit the model of "
                                  f"{self.case_id!r}", problems, **where)
        parts = [(tensor.parameter, self.transforms[tensor.key].from_native(np.asarray(tensors[tensor.key])))
                 for tensor in self.tensors
                 if tensor.role in (PARAMETER, FOLDED) and tensor.key in tensors]
        summed = add_parts(parts)
        return {name: summed[name] for name in self.parameters}

    def table(self, tensors: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None) -> str:
        """Each native tensor with its shape, the canonical parameter and the transform; given a
        checkpoint's tensors, the shape found and whether it fits (`show --weights`)."""
        names = names or {}
        problems = {p.name: p for p in self.problems(tensors, names)} if tensors is not None else {}
        rows = [("name", "shape", "found", "status", "canonical", "layout")]
        for tensor in self.tensors:
            shown = f"{names[tensor.key]} ({tensor.key})" if tensor.key in names else tensor.key
            found = "" if tensors is None or tensor.key not in tensors else str(tuple(np.shape(tensors[tensor.key])))
            if tensors is None:
                status = "optional" if tensor.optional else ""
            elif shown in problems:
                status = problems[shown].problem.split(":")[0]
            elif tensor.key not in tensors:
                status = "absent (optional)"
            else:
                status = {PARAMETER: "ok", FOLDED: "ok, added", FIXED: "ok, held", IGNORED: "ignored"}[tensor.role]
            canonical = (f"{tensor.parameter} {tuple(self.parameters[tensor.parameter])}"
                         if tensor.parameter else "-")
            rows.append((shown, str(tensor.shape), found, status, canonical,
                         f"{tensor.native_name}: {tensor.description}"))
        if tensors is not None:
            known = {tensor.key for tensor in self.tensors}
            for key in tensors:
                if key not in known:
                    rows.append((names.get(key, key), "-", str(tuple(np.shape(tensors[key]))),
                                 "not in the case's model", "-", ""))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths)) + "  " + row[5]
                         for row in rows).rstrip()


def framework_backend(framework: str) -> FrameworkBackend:
    """The framework's backend, or FrameworkUnavailable saying which package is needed."""
    if framework not in FRAMEWORKS:
        raise CaseError(f"unknown framework {framework!r}", expected=", ".join(FRAMEWORKS), found=framework)
    backend = get_backend(framework)
    reason = backend.unavailable_reason()
    if reason:
        raise FrameworkUnavailable(f"{framework} weights need {framework} itself, to build the model whose "
                                   f"names and layouts they follow, and it cannot be used here: {reason}")
    assert isinstance(backend, FrameworkBackend)
    return backend


def build_native(case: Case, framework: str) -> tuple[FrameworkBackend, dict, NativeModel]:
    """The case built in the framework as `run` builds it, placed in one native model."""
    backend = framework_backend(framework)
    try:
        with backend.session(case):
            built, model = backend.build_native(case)
    except Unsupported as exc:
        raise CaseError(f"{framework} cannot build this case, so it has no {framework} weights: {exc}",
                        file=str(case.file)) from None
    return backend, built, model


def native_layout(case: Case, framework: str) -> NativeLayout:
    """Every tensor of the case's model in `framework`: key, shape, role and mapping."""
    backend, built, model = build_native(case, framework)
    return layout_of(case, backend, built, model)


def layout_of(case: Case, backend: FrameworkBackend, built: dict, model: NativeModel) -> NativeLayout:
    layout = NativeLayout(backend.name, backend.version(), case.id, [],
                          {name: tuple(shape) for name, shape in case.graph.parameter_shapes.items()})
    entries: dict[str, NativeTensor] = {}
    optional: list[NativeTensor] = []
    for layer, layer_built in built.items():
        for binding in layer_built.bindings:
            entries[binding.key] = NativeTensor(
                binding.key, layer, tuple(np.shape(backend.read(binding.native))), PARAMETER,
                f"{layer}/{binding.parameter}", binding.native_name, binding.transform.description)
            layout.transforms[binding.key] = binding.transform
        for held in layer_built.held:
            role = FOLDED if held.fold is not None else FIXED if held.must_equal else IGNORED
            parameter = f"{layer}/{held.fold.parameter}" if held.fold is not None else None
            if held.removed:
                shape = tuple(held.fold.transform.to_native(np.zeros(layout.parameters[parameter])).shape)
                value = np.zeros(shape, dtype=case.dtype)
            else:
                value = np.array(backend.read(model.tensors[held.key]))
                shape = value.shape
            description = (f"{held.fold.transform.description}; {held.reason}" if held.fold is not None
                           else held.reason)
            tensor = NativeTensor(held.key, layer, shape, role, parameter,
                                  held.fold.native_name if held.fold is not None else held.name,
                                  description, optional=held.removed)
            if held.removed:
                optional.append(tensor)
            else:
                entries[held.key] = tensor
            layout.held_values[held.key] = value
            if held.fold is not None:
                layout.transforms[held.key] = held.fold.transform
    undeclared = [key for key in model.tensors if key not in entries]
    if undeclared:
        raise RuntimeError(f"the {backend.name} adapter declares no mapping for native tensor(s) "
                           f"{undeclared}: each must be bound to a canonical parameter or declared a HeldTensor")
    unbound = sorted(set(layout.parameters) - {t.parameter for t in entries.values() if t.role == PARAMETER})
    if unbound:
        raise RuntimeError(f"the {backend.name} adapter binds no native tensor to {unbound}")
    layout.tensors = [entries[key] for key in model.tensors] + optional
    return layout


def native_weights(case: Case, framework: str,
                   weights: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The case's weights (or `weights`, canonical) as the framework's own named tensors, in
    its own order:

    * torch: the model's `state_dict()` (keys `hidden.weight`, `lstm.weight_ih_l0`, ...,
      BatchNorm's `num_batches_tracked` included), ready for `load_state_dict(strict=True)`;
    * keras: `model.get_weights()`'s order, keyed by variable path (`hidden/kernel`), so
      `list(result.values())` is what `model.set_weights` takes;
    * chainer: what `serializers.save_npz` writes for the chain (`hidden/W`, `bn/avg_mean`,
      `bn/N`), ready for `np.savez` and `serializers.load_npz`.
    """
    return native_layout(case, framework).to_native(case.weights if weights is None else weights)


def canonical_from_native(case: Case, framework: str,
                          native: Mapping[str, Any] | Sequence[Any]) -> dict[str, np.ndarray]:
    """Canonical weights (`<layer>/<parameter>`, in the case's dtype) from the framework's
    named tensors (a state_dict, save_npz's arrays, {variable path: array}), or for Keras also
    the plain list `model.get_weights()` returns. WeightsMismatch lists every tensor that does
    not fit (missing, unexpected, of another shape, a held value the case cannot express)."""
    layout = native_layout(case, framework)
    if not isinstance(native, Mapping):
        native = layout.by_position(native)
    return {name: np.asarray(value).astype(case.dtype) for name, value in layout.from_native(native).items()}

