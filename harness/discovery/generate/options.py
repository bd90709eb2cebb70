"""Drawing a spec's options from its pydantic schema.

Every registered layer kind, activation, loss, optimizer and initializer is a pydantic model, so
its fields, their types and their constraints (`gt=0`, `Literal[...]`, a union of nested
models) say what values a case may write. `draw_spec(cls, context, rng)` walks those fields and
draws a value for each: required fields always, optional ones half of the time (otherwise the
schema's default applies). A kind registered tomorrow is drawn the same way, without editing
this module.

What the schema cannot say is what a field *means* for shapes: `units` should stay small,
`kernel_size` has one entry per spatial axis, `dims` is a permutation, `target_shape` must hold
as many elements as the input. Those rules are keyed by field name in `FIELD_RULES` (a field of
that name means the same in every kind); a draw that still does not fit is rejected by the
spec's own validators and `output_shape`, and drawn again (harness/discovery/generate/model.py).

`framework_default` is never drawn: asking each framework for its own default is a documented
difference by design (the defaults audit), not one to discover. Floats are dyadic (k / 2^n), so
that float32 represents them exactly (Keras casts some hyper-parameters through float32).
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union

import numpy as np
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from harness.reference.activations import ACTIVATIONS
from harness.reference.defaultable import FrameworkDefault

SKIPPED_FIELDS = frozenset({"type", "name", "inputs", "output", "target", "initializer",
                            "initial_state", "return_state"})
"""Structural fields the model builder sets (or the registry tag), never drawn. A recurrent
layer's initial_state and return_state change its inputs and outputs (graph wiring the model
builder does not draw)."""

OMIT = object()
"""A rule's answer for 'leave this field out' (its default applies)."""


@dataclass
class DrawContext:
    """What a draw may depend on: the input shapes (no batch axis) of the layer being drawn,
    and the size limits of the distribution."""

    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    max_units: int = 6
    max_kernel: int = 3
    omit_probability: float = 0.5
    activations: tuple[str, ...] | None = None
    """Activation names to draw from (None: every registered one)."""
    coincidence_probability: float = 0.0
    """Share of widths drawn equal to one of the input's axis lengths (Distribution's
    `coincidence_probability`); at 0 no random number is spent on it."""

    @property
    def rank(self) -> int:
        """Rank of the first input with the batch axis."""
        return len(self.input_shapes[0]) + 1 if self.input_shapes else 2

    @property
    def spatial_rank(self) -> int:
        """Spatial axes of the first input, for per-axis sizes (kernel_size, strides, ...)."""
        return max(self.rank - 2, 1)


class CannotDraw(Exception):
    """A required field of a type this module cannot draw."""


def draw_spec(cls: type[BaseModel], context: DrawContext, rng: np.random.Generator,
              fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config dict for `cls` (without `type`/`name`), drawn field by field."""
    config: dict[str, Any] = dict(fixed or {})
    for name, info in cls.model_fields.items():
        if name in config:
            continue
        if name in SKIPPED_FIELDS:
            tag = _literal_tag(info.annotation)
            if tag is not None:
                config[name] = tag
            continue
        if not info.is_required() and rng.random() < context.omit_probability:
            continue
        value = draw_field(name, info, context, rng)
        if value is not OMIT:
            config[name] = value
    return config


def draw_field(name: str, info: FieldInfo, context: DrawContext, rng: np.random.Generator) -> Any:
    rule = FIELD_RULES.get(name)
    if rule is not None:
        value = rule(info, context, rng)
        if value is not NotImplemented:
            return value
    return draw_type(info.annotation, list(info.metadata), context, rng, name)


def draw_type(annotation: Any, constraints: list[Any], context: DrawContext,
              rng: np.random.Generator, name: str = "") -> Any:
    """A value of `annotation` within `constraints` (annotated_types Gt, Ge, Lt, Le)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        extra = [m for item in metadata for m in _constraints_of(item)]
        return draw_type(inner, constraints + extra, context, rng, name)
    if origin is Literal:
        return _choice(rng, list(typing.get_args(annotation)))
    if origin in (Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if not _is_framework_default(m)]
        concrete = [m for m in members if m is not type(None)]
        if type(None) in members and rng.random() < 0.5:
            return OMIT
        return draw_type(_choice(rng, concrete), constraints, context, rng, name)
    if origin is list:
        (item,) = typing.get_args(annotation) or (int,)
        length = context.spatial_rank if name in PER_AXIS else int(rng.integers(1, 4))
        return [draw_type(item, constraints, context, rng, name) for _ in range(length)]
    if annotation is bool:
        return bool(rng.random() < 0.5)
    if annotation is int:
        return _draw_int(constraints, rng)
    if annotation is float:
        return _draw_float(constraints, rng)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return draw_model(annotation, context, rng)
    raise CannotDraw(f"no way to draw a value of {annotation!r} for field {name!r}")


def draw_model(cls: type[BaseModel], context: DrawContext, rng: np.random.Generator) -> dict[str, Any]:
    """A nested model (an activation, a weight decay, ...): its tag and drawn fields."""
    return draw_spec(cls, context, rng)


# --- plain types ------------------------------------------------------------------------------

def _constraints_of(item: Any) -> list[Any]:
    if isinstance(item, FieldInfo):
        return list(item.metadata)
    if isinstance(item, (Gt, Ge, Lt, Le)):
        return [item]
    return []


def _bounds(constraints: list[Any]) -> tuple[float | None, float | None, bool, bool]:
    low = high = None
    low_open = high_open = False
    for c in constraints:
        if isinstance(c, Gt):
            low, low_open = c.gt, True
        elif isinstance(c, Ge):
            low = c.ge
        elif isinstance(c, Lt):
            high, high_open = c.lt, True
        elif isinstance(c, Le):
            high = c.le
    return low, high, low_open, high_open


def _draw_int(constraints: list[Any], rng: np.random.Generator) -> int:
    """Small integers: from the lower bound up to four more (sizes, counts), else 0 to 2."""
    low, high, low_open, high_open = _bounds(constraints)
    start = 0 if low is None else int(low) + (1 if low_open else 0)
    stop = start + 4 if high is None else int(high) - (1 if high_open else 0)
    return int(rng.integers(start, max(start, stop) + 1))


def _draw_float(constraints: list[Any], rng: np.random.Generator) -> float:
    """Dyadic floats. [0, 1] (momenta, decay rates, probabilities): half of the time close to 1
    (1 - 2^-k, as betas and rho are), else k/16; positive and unbounded (epsilons, learning
    rates): 2^-k over five decades; unbounded (slopes, alphas, betas of activations): k/8 in
    (0, 2]."""
    low, high, low_open, high_open = _bounds(constraints)
    if low is not None and high is not None:
        if high <= 1 and low >= 0 and rng.random() < 0.5:
            value = 1.0 - 2.0 ** -int(rng.integers(1, 11))
        else:
            value = low + (high - low) * int(rng.integers(0, 17)) / 16
        if (high_open and value >= high) or value > high:
            value = high - (high - low) / 16
        if (low_open and value <= low) or value < low:
            value = low + (high - low) / 16
        return float(value)
    if low is not None:
        if not low_open and rng.random() < 0.15:
            return float(low)
        return float(max(low, 0) + 2.0 ** -int(rng.integers(1, 18)))
    return float(int(rng.integers(1, 17)) / 8)


def _choice(rng: np.random.Generator, options: list[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _literal_tag(annotation: Any) -> Any:
    if typing.get_origin(annotation) is Literal:
        args = typing.get_args(annotation)
        if len(args) == 1:
            return args[0]
    return None


def _is_framework_default(member: Any) -> bool:
    while typing.get_origin(member) is typing.Annotated:
        member = typing.get_args(member)[0]
    return isinstance(member, type) and issubclass(member, FrameworkDefault)


# --- rules keyed by field name ------------------------------------------------------------------

PER_AXIS = frozenset({"kernel_size", "pool_size", "strides", "dilation_rate", "output_size"})
"""Fields that hold one entry per spatial axis when they are a list."""

Rule = Callable[[FieldInfo, DrawContext, np.random.Generator], Any]
FIELD_RULES: dict[str, Rule] = {}


def rule(*names: str):
    def register(function: Rule) -> Rule:
        for name in names:
            FIELD_RULES[name] = function
        return function
    return register


@rule("units", "filters", "output_dim", "key_dim")
def _width(info, context, rng):
    """A layer's width; MultiHeadAttention's key_dim is one (per head): a key_dim equal to d_model
    or to the length is where a transposed or unsplit projection kernel still has the right shape."""
    lengths = coinciding_lengths(context)
    if lengths and context.coincidence_probability > 0 and rng.random() < context.coincidence_probability:
        return int(_choice(rng, lengths))
    return int(rng.integers(1, context.max_units + 1))


def coinciding_lengths(context: DrawContext) -> list[int]:
    """The input's axis lengths a width may copy (more than 1, so that the two axes can be
    told apart at all; at most max_units, to keep models small)."""
    shape = context.input_shapes[0] if context.input_shapes else ()
    return sorted({n for n in shape if 1 < n <= context.max_units})


@rule("mask")
def _attention_mask(info, context, rng):
    """An attention mask (True = may attend) of (query length, key length): the first input's
    first axis by the last input's (MultiHeadAttention's one input; ScaledDotProductAttention's
    query and value), with one True per row at least, so that no query position is left with
    nothing to attend to (the reference refuses that: the frameworks disagree there)."""
    if not context.input_shapes or any(not shape for shape in context.input_shapes):
        return OMIT
    rows, columns = context.input_shapes[0][0], context.input_shapes[-1][0]
    mask = rng.random((rows, columns)) < 0.6
    mask[np.arange(rows), rng.integers(0, columns, size=rows)] = True
    return mask.tolist()


@rule("depth_multiplier")
def _depth_multiplier(info, context, rng):
    return int(rng.integers(1, 4))


@rule("input_dim")
def _vocabulary(info, context, rng):
    return int(rng.integers(2, 9))


def _draw_window(name: str, info: FieldInfo, context: DrawContext, rng: np.random.Generator) -> Any:
    limit = {"strides": 2, "dilation_rate": 2}.get(name, context.max_kernel)
    if not info.is_required() and info.default is None and rng.random() < 0.5:
        return OMIT  # pooling strides: default pool_size
    if rng.random() < 0.7:
        return int(rng.integers(1, limit + 1))
    return [int(rng.integers(1, limit + 1)) for _ in range(context.spatial_rank)]


for _name in PER_AXIS:
    FIELD_RULES[_name] = (lambda n: (lambda info, context, rng: _draw_window(n, info, context, rng)))(_name)


@rule("groups")
def _groups(info, context, rng):
    return int(_choice(rng, [1, 1, 1, 2, 3]))


@rule("axis")
def _axis(info, context, rng):
    """An axis of the input counted with the batch axis, as Keras counts: 1..rank-1 or -1."""
    axes = [-1, *range(1, context.rank)]
    if typing.get_origin(info.annotation) in (Union, types.UnionType) and rng.random() < 0.3:
        count = int(rng.integers(1, len(axes)))
        return sorted({int(a) for a in rng.choice(range(1, context.rank), size=count, replace=False)}) \
            if context.rank > 2 else -1
    return int(_choice(rng, axes))


@rule("dims")
def _permutation(info, context, rng):
    return [int(a) + 1 for a in rng.permutation(context.rank - 1)]


@rule("target_shape")
def _reshape(info, context, rng):
    """A shape holding as many elements as the input: a random split of its size's factors."""
    size = math.prod(context.input_shapes[0]) if context.input_shapes else 1
    factors = _prime_factors(size)
    parts = int(rng.integers(1, 4))
    shape = [1] * parts
    for factor in factors:
        shape[int(rng.integers(parts))] *= factor
    if rng.random() < 0.3:
        shape[int(rng.integers(parts))] = -1
    return shape


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1 and p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors + ([n] if n > 1 else [])


@rule("padding")
def _padding(info, context, rng):
    """Convolutions and poolings: 'valid'/'same' (the schema's Literal) most of the time,
    explicit amounts (0..1 per side, or [before, after] per axis) otherwise; ZeroPadding's
    sizes 0..2. A pooling's amounts must stay below its window: a draw that does not fit is
    rejected by the spec and drawn again."""
    members = typing.get_args(info.annotation) if typing.get_origin(info.annotation) in (Union, types.UnionType) \
        else (info.annotation,)
    literals = [m for m in members if typing.get_origin(m) is Literal]
    if literals:
        if rng.random() < 0.7:
            return _choice(rng, list(typing.get_args(literals[0])))
        if rng.random() < 0.5:
            return int(rng.integers(0, 2))
        return [[int(rng.integers(0, 2)), int(rng.integers(0, 2))] for _ in range(context.spatial_rank)]
    if rng.random() < 0.5:
        return int(rng.integers(0, 3))
    return [int(rng.integers(0, 3)) for _ in range(2)]


@rule("cropping")
def _cropping(info, context, rng):
    """Cropping's sizes 0..1 per side (the generator's inputs are small)."""
    if rng.random() < 0.5:
        return int(rng.integers(0, 2))
    return [int(rng.integers(0, 2)) for _ in range(2)]


@rule("rate")
def _rate(info, context, rng):
    """Rates (Dropout's, weight decay's): 0 (an identity) a quarter of the time where the
    schema allows it, else k/8 below 1/2 (a weight decay that large shows any misplacement)."""
    low, _, low_open, _ = _bounds(list(info.metadata))
    zero_allowed = low is None or (low <= 0 and not low_open)
    return 0.0 if zero_allowed and rng.random() < 0.25 else int(rng.integers(1, 4)) / 8


@rule("activation", "recurrent_activation")
def _activation(info, context, rng):
    """One of the registered activations (or the distribution's subset), its options drawn."""
    names = [n for n in sorted(ACTIVATIONS) if context.activations is None or n in context.activations]
    if not names:
        return OMIT
    return draw_spec(ACTIVATIONS[_choice(rng, names)], context, rng)


@rule("weight")
def _loss_weight(info, context, rng):
    return OMIT
