"""Base class and registry helpers for everything a case file can name.

Every configurable thing (layer, activation, loss, initializer, data source) is a strict pydantic
model: strict so that YAML's `'1e-5'` or `'no'` is an error rather than silently a number or a
boolean, `extra="forbid"` so that a misspelt key is an error rather than ignored.
"""

from __future__ import annotations

import typing
from typing import Any, Callable, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

Shape = tuple[int, ...]
"""A tensor shape without the batch axis."""


class Spec(BaseModel):
    """A validated piece of a case file."""

    model_config = ConfigDict(strict=True, extra="forbid", validate_default=True, allow_inf_nan=False)
    """allow_inf_nan=False: `.inf` and `.nan` are refused in every number a case file writes
    (bounds, tolerances, learning rates, expected values). `high: .inf` made NumPy raise an
    OverflowError, `rtol: .inf` passed a port that returns a constant, `learning_rate: .inf` made
    every framework agree on NaN. Literal `values` are checked by harness/reference/literals.py instead."""

    not_covered: ClassVar[dict[tuple[str, str], str]] = {}
    """(framework, column) -> why this kind lacks that capability in that framework, kept on the
    kind's own record (as PyTorch's OpInfo keeps an operator's skips on the operator's entry).
    `column` is one of COLUMNS; framework `"*"` states one reason for every framework. The
    support table (`python -m harness support`, docs/support.md) prints the reason where the
    capability is missing, and tests/test_support_table.py fails on a gap without a reason and on
    a reason whose capability exists (a stale reason). A subclass inherits its bases' reasons
    (the test catches one that does not hold for it)."""

    @classmethod
    def why_not_covered(cls, framework: str, column: str) -> str | None:
        """The declared reason for (framework, column), the nearest class's first; else None."""
        for klass in cls.__mro__:
            declared = vars(klass).get("not_covered", {})
            for key in ((framework, column), ("*", column)):
                if key in declared:
                    return declared[key]
        return None


COLUMNS = ("built", "importable", "exportable", "reproducer", "defaults")
"""The capabilities the support table states per kind and framework (harness/output/support.py):
built (native or composite), importable (an import translation produces the kind), exportable
(its weights written as the framework's own checkpoint and read back equal), reproducer (a
template renders it), defaults (every framework-default field of the spec is read)."""


SpecT = TypeVar("SpecT", bound=type[Spec])


class Registry(dict[str, Any]):
    """Name -> spec class, filled by a decorator in each module that defines one.

    The name is read from the class's `Literal` tag field, so the tag in the case file and the
    registry key cannot drift apart.
    """

    def __init__(self, what: str, tag_field: str) -> None:
        super().__init__()
        self.what = what
        self.tag_field = tag_field

    def register(self, cls: SpecT) -> SpecT:
        (tag,) = typing.get_args(cls.model_fields[self.tag_field].annotation)
        if tag in self:
            raise RuntimeError(f"{self.what} {tag!r} registered twice")
        self[tag] = cls
        return cls

    def known(self) -> str:
        return ", ".join(sorted(self))


def by_key(*keys: str, fallback_field: str | None = None) -> Callable[[Any], str | None]:
    """A pydantic callable discriminator: the tag is whichever of `keys` the mapping holds.

    Lets a case write `{values: [...]}` or `{uniform: {low: 0, high: 1}}` instead of a
    separate `kind:` field.
    """

    def discriminate(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            return getattr(value, "_tag", None)
        if not isinstance(value, dict):
            return None
        present = [key for key in keys if key in value]
        if len(present) == 1:
            return present[0]
        if fallback_field and fallback_field in value and not present:
            return str(value[fallback_field])
        return None

    return discriminate


def axis_range(rank: int) -> str:
    """The axes a layer may name in a tensor of `rank` (batch axis 0 excluded), for messages."""
    return "1" if rank == 2 else f"1 to {rank - 1}"
