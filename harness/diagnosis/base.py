"""What a semantic transform is: a named edit of a case's meaning, applied to the NumPy reference.

The conventions that differ between frameworks are finite and known (gate order, transposed
kernels, epsilons, slopes, formulas): each is a `Transform` here, registered under the spec tag
of the thing it applies to (a layer type `LSTM`, an activation name `leaky_relu`, a loss type, an
optimizer type), with a one-line description. `Transform.variants(site, context)` lists the
concrete edits it makes at one place of one case (every gate permutation, each framework's
default slope): `Variant`s. A variant edits an `Edit` (a copy of the case's resolved layer
specs, weights, losses and optimizer) and `Edit.case()` is the transformed case, which
`harness.backends.numpy_reference.run_reference` runs like any other. A framework is never transformed.

Three uses (see the package's __init__): diagnosis hints (which variant makes the reference
match a failing backend), case strength (which variants the case's own checks would notice),
and the catalogue (`python -m harness transforms`, docs/diagnosis.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

import numpy as np

from harness.backends import get_backend
from harness.defaults import resolve_for_reference
from harness.defaults.background import defaults_now
from harness.defaults.resolve import spec_tag
from harness.defaults.table import FRAMEWORKS
from harness.reference.spec import Spec

SITE_LAYER, SITE_ACTIVATION, SITE_LOSS, SITE_OPTIMIZER = "layer", "activation", "loss", "optimizer"


@dataclass(frozen=True)
class Site:
    """One place of a case a transform can act on."""

    kind: str
    """layer, activation (an activation field of a layer), loss or optimizer."""
    tag: str
    """The spec tag there: `LSTM`, `leaky_relu`, `categorical_crossentropy`, `adam`."""
    layer: str | None = None
    """The layer (layer and activation sites)."""
    field: str | None = None
    """The layer's field holding the activation (`activation`, `recurrent_activation`)."""
    index: int | None = None
    """The loss's position in the case's losses (loss sites)."""

    def where(self) -> str:
        if self.kind == SITE_LAYER:
            return f"in layer {self.layer}"
        if self.kind == SITE_ACTIVATION:
            return f"in layer {self.layer}" + (f" ({self.field})" if self.field != "activation" else "")
        if self.kind == SITE_LOSS:
            return "in the loss" if self.index == 0 else f"in loss {self.index}"
        return "in the optimizer"


class Edit:
    """A mutable copy of what the reference reads from a case: resolved layer specs, weights,
    losses and optimizer. Variants change it; `case()` builds the transformed case."""

    def __init__(self, case: Any) -> None:
        self.original = case
        self.layers: dict[str, Spec] = {name: resolve_for_reference(spec)[0]
                                        for name, spec in case.graph.layers.items()}
        self.weights: dict[str, np.ndarray] = dict(case.weights)
        self.losses: list[Spec] = [resolve_for_reference(loss)[0] for loss in case.losses]
        optimizer = case.spec.optimizer
        self.optimizer: Spec | None = resolve_for_reference(optimizer)[0] if optimizer is not None else None
        self.gradient_views: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
        """Parameter -> how a gradient in the edited shape reads in the case's canonical shape
        (GRU's bias when reset_after flips), so that gradients stay comparable."""
        self.layouts: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
        """Parameter -> the inverse of the layout edits made to it (a transpose, a gate
        permutation, a flip, a sign, a doubled bias's factor 2). A backend whose adapter (or a
        user's port) binds the weights this way reads its gradients and trained values back
        through the same wrong binding, as the harness's own bindings do (`WeightBinding`:
        `from_native` serves values and gradients alike): through this inverse,
        `harness.diagnosis.evaluation.through_layout` shows the reference as it reports them. A
        bias left out has no inverse and none is recorded: what the backend holds is read as it is."""

    def add_layout(self, name: str, inverse: Callable[[np.ndarray], np.ndarray]) -> None:
        """Record that parameter `name` was just re-laid out; `inverse` undoes this edit alone
        (edits compose: the last one is undone first)."""
        before = self.layouts.get(name)
        self.layouts[name] = inverse if before is None else (lambda a, before=before: before(inverse(a)))

    def update_layer(self, layer: str, **fields: Any) -> None:
        self.layers[layer] = self.layers[layer].model_copy(update=fields)

    def update_activation(self, site: Site, **fields: Any) -> None:
        spec = self.layers[site.layer]
        activation = getattr(spec, site.field).model_copy(update=fields)
        self.layers[site.layer] = spec.model_copy(update={site.field: activation})

    def case(self) -> Any:
        original = self.original
        graph = original.graph
        nodes = [replace(node, spec=self.layers[node.layer]) for node in graph.nodes]
        # A variant may change a parameter's shape (GRU's bias without reset_after): the
        # reference accumulates gradients in arrays of the graph's shapes.
        shapes = {name: tuple(self.weights[name].shape) for name in graph.parameter_shapes}
        graph = replace(graph, nodes=nodes, layers=dict(self.layers), parameter_shapes=shapes)
        spec = original.spec.model_copy(update={
            "loss": list(self.losses) if isinstance(original.spec.loss, list) else
                    (self.losses[0] if self.losses else None),
            "optimizer": self.optimizer})
        return replace(original, loaded=replace(original.loaded, spec=spec), graph=graph,
                       weights=dict(self.weights))


@dataclass(frozen=True)
class Variant:
    """One concrete edit: a transform at one site with one choice (a permutation, a value)."""

    transform: "Transform"
    site: Site
    choice: str
    """What this variant picks, in words (`f and c swapped`, `0.01 (torch.nn.LeakyReLU)`)."""
    apply: Callable[[Edit], None] = field(compare=False, repr=False)
    blind_spot: str = ""
    """Where the generator can tell that the case cannot see this variant (a bias of zeros):
    the reason strength reports for it."""
    port_side: str = ""
    """The same fact from a port author's side, where this variant reads otherwise (`your block
    2 (the c weights) is used as the f (forget) gate`): said beside a port's hint."""

    @property
    def key(self) -> str:
        """Unique within a case: transform, site and choice."""
        return f"{self.transform.name}|{self.site.where()}|{self.choice}"

    def describe(self) -> str:
        """`the LSTM gate blocks f and c swapped in layer lstm`."""
        return f"{self.transform.phrase.format(choice=self.choice)} {self.site.where()}"

    def port_text(self) -> str:
        """The variant from a port author's side (`your kernel is read transposed`): its own
        `port_side`, else its transform's `port_phrase`, else `your code computes as if <phrase>`.
        A port's author reads their code, not the reference's conventions."""
        if self.port_side:
            return self.port_side
        phrase = self.transform.port_phrase or "your code computes as if " + self.transform.phrase
        return phrase.format(choice=self.choice)

    def to_dict(self) -> dict[str, Any]:
        return {"transform": self.transform.name, "family": self.transform.family,
                "layer": self.site.layer, "site": self.site.where(), "choice": self.choice,
                "description": self.describe()}


@dataclass(frozen=True)
class Transform:
    """A named, documented convention difference, registered for one spec tag."""

    name: str
    """Unique: `LSTM.gate_order`, `leaky_relu.negative_slope`."""
    family: str
    """What kind of mistake it models (gate order, kernel layout, default value, formula...):
    the tests inject one fault per family."""
    kind: str
    """The site kind it applies to: layer, activation, loss or optimizer."""
    tags: tuple[str, ...]
    """The spec tags it applies to."""
    description: str
    """One line, for `python -m harness transforms`."""
    phrase: str
    """How a hint states it, with `{choice}`: `the LSTM gate blocks {choice}`."""
    variants_at: Callable[[Site, Edit, "Context"], Iterator[tuple]] = field(compare=False, repr=False)
    """(choice, apply), (choice, apply, blind_spot) or (choice, apply, blind_spot, port_side) for
    each variant at a site; none where it does not apply there."""
    port_phrase: str = ""
    """How a port's author reads it, with `{choice}`, where the generic `your code computes as
    if <phrase>` reads badly: `your kernel is read transposed`."""

    def variants(self, site: Site, edit: Edit, context: "Context") -> list[Variant]:
        return [Variant(self, site, *made) for made in self.variants_at(site, edit, context)]


class TransformRegistry(dict[str, Transform]):
    """Transform name -> Transform, in registration order."""

    def add(self, transform: Transform) -> Transform:
        if transform.name in self:
            raise RuntimeError(f"transform {transform.name!r} registered twice")
        self[transform.name] = transform
        return transform

    def for_site(self, site: Site) -> list[Transform]:
        return [t for t in self.values() if t.kind == site.kind and site.tag in t.tags]


TRANSFORMS = TransformRegistry()


def transform(name: str, *, family: str, kind: str, tags: tuple[str, ...] | str, description: str,
              phrase: str, port_phrase: str = "") -> Callable[[Callable], Callable]:
    """Decorator: register the function as the variant generator of a new transform."""
    def register(function: Callable) -> Callable:
        TRANSFORMS.add(Transform(name, family, kind, (tags,) if isinstance(tags, str) else tuple(tags),
                                 description, phrase, function, port_phrase))
        return function
    return register


class Context:
    """What variant generators may read besides the case: the frameworks' own defaults, as
    harness/defaults reads them (never a table written here)."""

    def __init__(self, defaults_json: dict[str, Any] | None = None) -> None:
        self.defaults_json = defaults_json or {}
        self._values: dict[str, list[tuple[Any, str]]] = {}

    def framework_values(self, key: str) -> list[tuple[Any, str]]:
        """(effective value, `framework: api, ...`) for every value of `key` the defaults table
        read (`leaky_relu.negative_slope` -> 0.2 from keras.activations.leaky_relu, 0.01 from
        torch...), each value once with every API that has it."""
        if key not in self._values:
            found: dict[str, tuple[Any, list[str]]] = {}
            for row in self.defaults_json.get("rows", []):
                if row.get("key") != key:
                    continue
                for framework, cell in row.get("cells", {}).items():
                    for reading in cell.get("readings", []):
                        value = reading.get("effective")
                        if value is None or reading.get("missing"):
                            continue
                        sources = found.setdefault(repr(value), (value, []))[1]
                        source = f"{framework}: {reading.get('api', '')}"
                        if source not in sources:
                            sources.append(source)
            self._values[key] = [(value, ", ".join(sources)) for value, sources in found.values()]
        return self._values[key]


def sites(case: Any) -> Iterator[Site]:
    """Every place of the case a transform may act on, in graph order, then losses, optimizer."""
    for layer, spec in case.graph.layers.items():
        yield Site(SITE_LAYER, spec_tag(spec), layer=layer)
        for name in type(spec).model_fields:
            value = getattr(spec, name)
            if isinstance(value, Spec) and hasattr(value, "forward") and hasattr(value, "backward") \
                    and "name" in type(value).model_fields:
                yield Site(SITE_ACTIVATION, value.name, layer=layer, field=name)
    for index, loss in enumerate(case.losses):
        yield Site(SITE_LOSS, spec_tag(loss), index=index)
    if case.spec.optimizer is not None:
        yield Site(SITE_OPTIMIZER, spec_tag(case.spec.optimizer))


def transformed_edit(case: Any, variants: list[Variant] | tuple[Variant, ...]) -> Edit:
    """The Edit with every variant applied, in order."""
    edit = Edit(case)
    for variant in variants:
        variant.apply(edit)
    return edit


def transformed_case(case: Any, variants: list[Variant] | tuple[Variant, ...]) -> Any:
    """The case with every variant's edit applied, in order."""
    return transformed_edit(case, variants).case()


def variant_spec(spec: Spec, suffix: str, **members: Any) -> Spec:
    """The spec as an instance of a subclass overriding `members` (a method, or the `reference`
    class): the hook for a variant the spec's fields cannot express (the 'same' padding's odd cell
    at the start). The subclass is made once per (class, suffix)."""
    cls = type(spec)
    key = (cls, suffix)
    if key not in _VARIANT_CLASSES:
        _VARIANT_CLASSES[key] = type(f"{cls.__name__}_{suffix}", (cls,), {"__module__": __name__, **members})
    sub = _VARIANT_CLASSES[key]
    return sub.model_construct(**{name: getattr(spec, name) for name in cls.model_fields})


_VARIANT_CLASSES: dict[tuple[type, str], type] = {}


def framework_context(frameworks: tuple[str, ...] | list[str] | None = None) -> Context:
    """A Context with the defaults table of the installed frameworks: the copy on disk
    (harness/defaults/cache.py, the one a run stores) when the frameworks are unchanged, without
    importing them; else read from the frameworks by their adapters' readers, and stored. A
    framework that is not installed contributes no values. (Read afresh each time, this cost a
    numpy-only run with one failing port 12 s: every framework imported to find its defaults.)"""
    names = [name for name in (frameworks or FRAMEWORKS) if name in FRAMEWORKS]
    table = defaults_now(names, lambda wanted: {name: get_backend(name) for name in wanted})
    return Context(table)
