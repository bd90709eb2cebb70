"""`framework_default`: a case asks each framework for its own default instead of a value.

A hyper-parameter on which frameworks disagree has no default in the schema: the case states
it. With `Defaultable[T]` as its type, it may instead be written

    negative_slope: {framework_default: {reference: 0.2, reason: "keras.activations' default"}}

Then every adapter uses its own framework's default (read from the framework, see
harness/defaults/resolve.py and each adapter's `defaults` package) and records the value it
used, and the NumPy reference computes with `reference`: the reference is the oracle and needs a
concrete value, which the case states with its reason. A framework whose default is not the
reference's value then differs, and the case documents that in `expected_differences`.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar, Union

from pydantic import Discriminator, Field, Tag

from harness.reference.spec import Spec

T = TypeVar("T")

EXPLICIT, FRAMEWORK_DEFAULT = "explicit", "framework_default"
UNION_TAGS = frozenset({EXPLICIT, FRAMEWORK_DEFAULT})
"""The tags pydantic puts in error paths for a Defaultable field (not keys of the YAML)."""


class ReferenceChoice(Spec, Generic[T]):
    """What the NumPy reference computes with while each framework uses its own default."""

    reference: T = Field(description="the value the NumPy reference uses")
    reason: str = Field(min_length=1, description="why the reference uses this value")


class FrameworkDefault(Spec, Generic[T]):
    """Each framework uses its own default for this hyper-parameter (read from the framework
    and recorded in results.json); the NumPy reference uses `reference`."""

    framework_default: ReferenceChoice[T]

    @property
    def reference(self) -> Any:
        return self.framework_default.reference

    @property
    def reason(self) -> str:
        return self.framework_default.reason

    def __str__(self) -> str:
        return f"framework default (reference {self.reference!r})"


def _which(value: Any) -> str:
    if isinstance(value, FrameworkDefault) or (isinstance(value, dict) and FRAMEWORK_DEFAULT in value):
        return FRAMEWORK_DEFAULT
    return EXPLICIT


class Defaultable:
    """`Defaultable[float]`: the field takes a float, or `{framework_default: {reference, reason}}`.

    Use it only for hyper-parameters that do not change shapes (the graph is built before any
    framework is asked), and register a reader for `<spec tag>.<field>` in every adapter's
    `defaults` package (tests/test_defaults.py checks that).
    """

    def __class_getitem__(cls, value_type: Any) -> Any:
        return Annotated[
            Union[Annotated[value_type, Tag(EXPLICIT)],
                  Annotated[FrameworkDefault[value_type], Tag(FRAMEWORK_DEFAULT)]],  # type: ignore[valid-type]
            Discriminator(_which)]
