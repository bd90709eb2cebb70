"""What an adapter reports about one of its framework's defaults.

Each framework package registers one reader per hyper-parameter in its REGISTRY.defaults, from
the family module of the kind (keyed like the catalogue, `<spec tag>.<field>`, e.g. `leaky_relu.negative_slope`). A reader asks the framework:
`inspect.signature`, `get_config()`, a constructed object's attribute, and where the same name
can mean different things, a probe (the function evaluated at a point, one optimizer step) whose
result the shared classifiers in harness/defaults/probes.py interpret. Nothing is typed in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class DefaultContext:
    """What a default may depend on."""

    rank: int = 3
    """Rank (with the batch axis) of the tensor the default acts on: torch's softmax picks its
    axis from it. The table uses 3, a (batch, steps, features) tensor."""


@dataclass
class Reading:
    """One framework's default for one hyper-parameter, as found in the framework."""

    api: str
    """The class or function it was read from, e.g. `keras.layers.LeakyReLU`."""
    parameter: str = ""
    """The framework's own name for it (`negative_slope`, `decay`); empty if the framework has
    no parameter (the behaviour is fixed, e.g. torch's hardsigmoid)."""
    value: Any = None
    """The default as the framework states it, in its own terms (torch momentum 0.1)."""
    read_by: str = ""
    """How `value` was read: `inspect.signature`, `get_config()`, `attribute`, `fixed`."""
    effective: Any = None
    """The default restated in the harness's terms: what the case-file field must say to mean
    the same (torch momentum 0.1 -> 0.9 of the running value kept). Measured by the probe where
    there is one. This is what `framework_default` resolves to."""
    meaning: str = ""
    """What the framework does with it, as the probe found (comparable across frameworks)."""
    probe: str = ""
    """What was evaluated and what came out."""
    used: bool = False
    """The reading `framework_default` resolves to in this adapter (the API its builder uses)."""
    missing: str = ""
    """Set when the framework has no such thing (chainer 7.8.1 has no gelu): why."""

    @classmethod
    def fixed(cls, api: str, effective: Any = None, meaning: str = "", probe: str = "", *,
              used: bool = True) -> "Reading":
        """A behaviour the framework builds in, with no parameter to read: only the probe finds
        what it is (torch's hardsigmoid slope, where an optimizer adds its epsilon)."""
        return cls(api, "", None, "fixed (no parameter)", effective, meaning, probe, used=used)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["value"] = _plain(self.value)
        data["effective"] = _plain(self.effective)
        return data


def _plain(value: Any) -> Any:
    """JSON-friendly: tuples to lists, NumPy scalars to Python numbers."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


Reader = Callable[[DefaultContext], list[Reading]]


def signature_default(function: Callable[..., Any], parameter: str) -> Any:
    """The default of `parameter` in `function`'s signature (a class: its __init__)."""
    import inspect

    default = inspect.signature(function).parameters[parameter].default
    if default is inspect.Parameter.empty:
        raise LookupError(f"{getattr(function, '__qualname__', function)}'s {parameter} has no default")
    return default
