"""Replacing `framework_default` in a spec by a concrete value, and recording which.

An adapter resolves to its own framework's default, as its `defaults` readers find it (the
reading marked `used`: the API its builder calls), before the builder sees the spec; so builders
never see a `FrameworkDefault` and need no change. The NumPy reference resolves to the case's
stated `reference`. Either way the values used are recorded (`ResolvedDefault`) and go into
results.json with the layer's implementation.

Specs of any kind work: layers, activations nested in them, losses, optimizers. The key of a
field is `<spec tag>.<field>`, the tag being the spec's one-value `Literal` field (a layer's
`type`, an activation's `name`).
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

from pydantic import ValidationError

from harness.reference.defaults_catalogue import CONCEPTS_BY_KEY
from harness.defaults.reading import DefaultContext, Reader, Reading
from harness.reference.defaultable import FrameworkDefault
from harness.reference.spec import Spec


class DefaultUnavailable(Exception):
    """A framework cannot supply a default the case asks for (it has no such layer, or its
    default cannot be stated in the harness's terms). Adapters turn it into `Unsupported`."""


@dataclass
class ResolvedDefault:
    field: str
    """Where in the spec, e.g. `activation.negative_slope`."""
    key: str
    """The catalogue key, e.g. `leaky_relu.negative_slope`."""
    value: Any
    """The value used, in the harness's terms."""
    source: str
    """Where it came from: the framework API and how it was read, or the case's reason."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Choose = Callable[[str, FrameworkDefault], tuple[Any, str]]
"""(key, the case's request) -> (value, source)."""


def spec_tag(spec: Spec) -> str:
    """The value of the spec's one-value Literal field: `Dense`, `leaky_relu`, `mean_squared_error`."""
    for name, info in type(spec).model_fields.items():
        if typing.get_origin(info.annotation) is typing.Literal and len(typing.get_args(info.annotation)) == 1:
            return str(getattr(spec, name))
    return type(spec).__name__


def resolve_spec(spec: Spec, choose: Choose, prefix: str = "") -> tuple[Spec, list[ResolvedDefault]]:
    """The spec with every FrameworkDefault replaced by `choose`'s value, and the record."""
    updates: dict[str, Any] = {}
    record: list[ResolvedDefault] = []
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        path = f"{prefix}{name}"
        if isinstance(value, FrameworkDefault):
            key = f"{spec_tag(spec)}.{name}"
            updates[name], source = choose(key, value)
            record.append(ResolvedDefault(path, key, updates[name], source))
        elif isinstance(value, Spec):
            resolved, inner = resolve_spec(value, choose, f"{path}.")
            if inner:
                updates[name] = resolved
                record.extend(inner)
        elif isinstance(value, (list, tuple)) and any(isinstance(item, Spec) for item in value):
            items, changed = [], False
            for index, item in enumerate(value):
                resolved, inner = resolve_spec(item, choose, f"{path}[{index}].") if isinstance(item, Spec) \
                    else (item, [])
                items.append(resolved)
                record.extend(inner)
                changed = changed or bool(inner)
            if changed:
                updates[name] = type(value)(items)
    if not updates:
        return spec, record
    fields = {name: getattr(spec, name) for name in type(spec).model_fields}
    try:
        return type(spec).model_validate({**fields, **updates}), record
    except ValidationError as exc:
        raise DefaultUnavailable(f"the default found for {spec_tag(spec)} ({updates}) is not a valid "
                                 f"value of the case's field: {exc.errors()[0]['msg']}") from None


def resolve_for_reference(spec: Spec) -> tuple[Spec, list[ResolvedDefault]]:
    """The NumPy reference uses the value the case states, for the reason it states."""
    return resolve_spec(spec, lambda key, request: (request.reference, f"case: {request.reason}"))


_READINGS: dict[tuple[int, str, DefaultContext], list[Reading]] = {}


def readings(readers: Mapping[str, Reader], key: str, context: DefaultContext) -> list[Reading]:
    """What a framework's reader finds for `key` (cached: probes build layers and optimizers)."""
    reader = readers.get(key)
    if reader is None:
        raise DefaultUnavailable(f"no reader for {key!r}; add one to the adapter's defaults package")
    cache_key = (id(readers), key, context)
    if cache_key not in _READINGS:
        _READINGS[cache_key] = reader(context)
    return _READINGS[cache_key]


def resolve_for_framework(spec: Spec, readers: Mapping[str, Reader], framework: str,
                          context: DefaultContext) -> tuple[Spec, list[ResolvedDefault]]:
    """Each FrameworkDefault replaced by the framework's own default (its `used` reading)."""

    def choose(key: str, request: FrameworkDefault) -> tuple[Any, str]:
        used = [reading for reading in readings(readers, key, context) if reading.used]
        if len(used) != 1:
            raise DefaultUnavailable(f"{framework}'s reader for {key!r} marks {len(used)} readings as "
                                     "used; exactly one must be")
        (reading,) = used
        if reading.missing:
            raise DefaultUnavailable(f"{framework} has no default for {key}: {reading.missing}")
        if reading.effective is None:
            concept = CONCEPTS_BY_KEY.get(key)
            terms = f" ({concept.effective})" if concept else ""
            raise DefaultUnavailable(f"{framework}'s default for {key} ({reading.api}: {reading.value!r}) "
                                     f"cannot be stated in the case's terms{terms}: it means {reading.meaning}")
        how = reading.read_by + (f"; probe: {reading.probe}" if reading.probe else "")
        return reading.effective, f"{reading.api} ({how})"

    return resolve_spec(spec, choose)
