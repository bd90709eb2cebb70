"""Data sources for inputs and targets: seeded generators, literal values, derived expressions.

A tensor's `data` is exactly one of:

    {uniform: {low: 0.0, high: 1.0}}       U[low, high)
    {normal: {mean: 0.0, std: 1.0}}        N(mean, std^2)
    {integers: {low: 0, high: 10}}         integers in [low, high)
    {one_hot: {classes: 10}}               one-hot rows over the last axis
    {values: [[0.3, 0.1]]}                 literal values, batch axis first
    {expression: "exp(x)"}                 NumPy expression over the inputs (and earlier targets)
    {covering: {low: 0.05, high: 4.0}}     branch-covering values (see Covering)

Generators draw from a generator seeded by the case's data seed and the tensor's name, so each
tensor is reproducible on its own. An expression is array arithmetic and nothing else: an
allow-list of NumPy functions, array methods and attributes, evaluated by harness/case/expression.py
with limits on size and time (no file, network, import or process state; docs/security.md). An
expression may also draw from that same seeded generator with `uniform(low, high, shape)` and
`normal(mean, std, shape)`, e.g. to put a published value first and seeded draws after it:
`concatenate([[[0.80247033]], uniform(0.0, 1.0, (4, 1))])`.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator

from harness.case.expression import evaluate
from harness.reference.literals import literal_shape
from harness.reference.initializers import parameter_rng
from harness.reference.spec import Shape, Spec, by_key


class UniformRange(Spec):
    low: float = 0.0
    high: float = 1.0


class NormalParams(Spec):
    mean: float = 0.0
    std: float = Field(default=1.0, gt=0)


class IntegerRange(Spec):
    low: int = 0
    high: int = Field(description="exclusive upper bound")


class CoveringParams(Spec):
    low: float = Field(default=0.05, gt=0, description="the smallest per-sample scale")
    high: float = Field(default=4.0, gt=0, description="the largest per-sample scale")


class OneHotParams(Spec):
    classes: int = Field(gt=0)


class DataSource(Spec):
    def generate(self, samples: int, shape: Shape | None, rng: np.random.Generator,
                 scope: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def needs_shape(self) -> bool:
        return True


def _require_shape(shape: Shape | None, what: str) -> Shape:
    if shape is None:
        raise ValueError(f"a {what} generator needs `shape` on the tensor")
    return shape


class Uniform(DataSource):
    uniform: UniformRange

    def generate(self, samples, shape, rng, scope):
        shape = _require_shape(shape, "uniform")
        return rng.uniform(self.uniform.low, self.uniform.high, size=(samples, *shape))


class Normal(DataSource):
    normal: NormalParams

    def generate(self, samples, shape, rng, scope):
        shape = _require_shape(shape, "normal")
        return rng.normal(self.normal.mean, self.normal.std, size=(samples, *shape))


class Integers(DataSource):
    integers: IntegerRange

    def generate(self, samples, shape, rng, scope):
        shape = _require_shape(shape, "integers")
        return rng.integers(self.integers.low, self.integers.high, size=(samples, *shape))


class OneHot(DataSource):
    one_hot: OneHotParams

    def generate(self, samples, shape, rng, scope):
        classes = self.one_hot.classes
        shape = shape if shape is not None else (classes,)
        if not shape or shape[-1] != classes:
            raise ValueError(f"one_hot over {classes} classes needs a shape ending in {classes}, got {list(shape)}")
        labels = rng.integers(0, classes, size=(samples, *shape[:-1]))
        return np.eye(classes)[labels]


class Covering(DataSource):
    """Values meant to reach every branch of the layers they feed: each sample drawn N(0, 1)
    and scaled by its own factor, geometrically spaced from `low` to `high` over the samples
    (in a shuffled order), so some samples stay in the linear range of sigmoid and tanh and
    others saturate them; signs are symmetric, so piecewise activations (relu, leaky_relu, elu,
    hard_sigmoid's pieces) see both sides; values are continuous, so max pooling meets no ties
    in the input. `python -m harness strength` reports, per layer, which branches the inputs
    reached (harness/diagnosis/coverage.py)."""

    covering: CoveringParams

    def generate(self, samples, shape, rng, scope):
        shape = _require_shape(shape, "covering")
        if self.covering.high < self.covering.low:
            raise ValueError("covering needs low <= high")
        scales = np.geomspace(self.covering.low, self.covering.high, samples)
        scales = scales[rng.permutation(samples)]
        values = rng.normal(0.0, 1.0, size=(samples, *shape))
        return values * scales.reshape(samples, *([1] * len(shape)))


class Values(DataSource):
    values: Any = Field(description="nested lists of numbers, batch axis first")

    @field_validator("values")
    @classmethod
    def _rectangular_numbers(cls, values: Any) -> Any:
        literal_shape(values)
        return values

    def generate(self, samples, shape, rng, scope):
        return np.asarray(self.values)

    def is_integer(self) -> bool:
        """Every number written without a point (1, not 1.0): an index or a float? Only the
        tensor's `dtype` can say."""
        return np.asarray(self.values).dtype.kind in "iu"

    def needs_shape(self) -> bool:
        return False


class Expression(DataSource):
    expression: str = Field(description="NumPy expression over input names, e.g. \"exp(x)\"")

    def generate(self, samples, shape, rng, scope):
        return evaluate(self.expression, scope, rng)

    def needs_shape(self) -> bool:
        return False


DATA_SOURCE_KEYS = ("uniform", "normal", "integers", "one_hot", "values", "expression", "covering")

DataField = Annotated[
    Union[
        Annotated[Uniform, Tag("uniform")], Annotated[Normal, Tag("normal")],
        Annotated[Integers, Tag("integers")], Annotated[OneHot, Tag("one_hot")],
        Annotated[Values, Tag("values")], Annotated[Expression, Tag("expression")],
        Annotated[Covering, Tag("covering")],
    ],
    Discriminator(
        by_key(*DATA_SOURCE_KEYS),
        custom_error_type="data_source",
        custom_error_message="expected a mapping with exactly one of the keys uniform, normal, "
                             "integers, one_hot, values, expression, covering",
    ),
]


def generate(source: DataSource, *, name: str, samples: int, shape: Shape | None, seed: int,
             scope: dict[str, np.ndarray]) -> np.ndarray:
    return source.generate(samples, shape, parameter_rng(seed, "data/" + name), scope)
