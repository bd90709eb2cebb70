"""Weight initializers: seeded, generated once in the canonical layout, shared by every backend.

Each parameter draws from its own generator, seeded by the case's weight seed and the
parameter's name, so adding a layer does not change the weights of the others. Fan-in and
fan-out follow Keras' rule on the canonical (Keras) layout: for a kernel of shape
(..., in, out) the receptive field is the product of the leading axes.

A case writes an initializer as a name (`glorot_uniform`), a mapping with parameters
(`{initializer: random_normal, stddev: 0.1}`) or explicit values (`{values: [[...]]}`).
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator

from harness.reference.literals import literal_shape
from harness.reference.spec import Registry, Shape, Spec, by_key

INITIALIZERS = Registry("initializer", "initializer")


class InitializerSpec(Spec):
    initializer: str

    def generate(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        params = self.model_dump(exclude={"initializer"})
        inner = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"{self.initializer}({inner})" if inner else self.initializer


def fans(shape: Shape) -> tuple[float, float]:
    """Keras' compute_fans: (in, out) of the last two axes times the receptive field."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def truncated_normal(rng: np.random.Generator, shape: Shape, stddev: float) -> np.ndarray:
    """Normal(0, stddev) redrawn outside two standard deviations, as Keras' TruncatedNormal."""
    values = rng.normal(0.0, stddev, size=shape)
    outside = np.abs(values) > 2 * stddev
    while outside.any():
        values[outside] = rng.normal(0.0, stddev, size=int(outside.sum()))
        outside = np.abs(values) > 2 * stddev
    return values


def variance_scaling(shape: Shape, rng: np.random.Generator, scale: float, mode: str,
                     distribution: str) -> np.ndarray:
    """Keras' VarianceScaling: variance = scale / fan, uniform or truncated normal."""
    fan_in, fan_out = fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    variance = scale / max(1.0, fan)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(-limit, limit, size=shape)
    # .879... is the stddev of a unit normal truncated at +-2 (Keras' constant).
    return truncated_normal(rng, shape, math.sqrt(variance) / 0.87962566103423978)


@INITIALIZERS.register
class VarianceScaling(InitializerSpec):
    """variance = scale / fan (fan_in, fan_out or their mean), uniform or truncated normal."""

    initializer: Literal["variance_scaling"]
    scale: float = 1.0
    mode: Literal["fan_in", "fan_out", "fan_avg"] = "fan_in"
    distribution: Literal["uniform", "truncated_normal"] = "truncated_normal"

    def generate(self, shape, rng):
        return variance_scaling(shape, rng, self.scale, self.mode, self.distribution)


class _Recipe(InitializerSpec):
    """A named variance-scaling recipe with no parameters of its own."""

    recipe: ClassVar[tuple[float, str, str]]

    def generate(self, shape, rng):
        return variance_scaling(shape, rng, *self.recipe)


@INITIALIZERS.register
class GlorotUniform(_Recipe):
    """U(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras' Dense/Conv kernel default."""

    initializer: Literal["glorot_uniform"]
    recipe = (1.0, "fan_avg", "uniform")


@INITIALIZERS.register
class GlorotNormal(_Recipe):
    """Truncated normal, stddev sqrt(2 / (fan_in + fan_out)) after truncation (Keras: the
    underlying normal has stddev / 0.8796)."""

    initializer: Literal["glorot_normal"]
    recipe = (1.0, "fan_avg", "truncated_normal")


@INITIALIZERS.register
class HeUniform(_Recipe):
    """U(-l, l), l = sqrt(6 / fan_in)."""

    initializer: Literal["he_uniform"]
    recipe = (2.0, "fan_in", "uniform")


@INITIALIZERS.register
class HeNormal(_Recipe):
    """Truncated normal, stddev sqrt(2 / fan_in) after truncation (Keras: the
    underlying normal has stddev / 0.8796)."""

    initializer: Literal["he_normal"]
    recipe = (2.0, "fan_in", "truncated_normal")


@INITIALIZERS.register
class LecunUniform(_Recipe):
    """U(-l, l), l = sqrt(3 / fan_in)."""

    initializer: Literal["lecun_uniform"]
    recipe = (1.0, "fan_in", "uniform")


@INITIALIZERS.register
class LecunNormal(_Recipe):
    """Truncated normal, stddev sqrt(1 / fan_in) after truncation (Keras: the
    underlying normal has stddev / 0.8796)."""

    initializer: Literal["lecun_normal"]
    recipe = (1.0, "fan_in", "truncated_normal")


@INITIALIZERS.register
class RandomNormal(InitializerSpec):
    """N(mean, stddev^2)."""

    initializer: Literal["random_normal"]
    mean: float = 0.0
    stddev: float = 0.05

    def generate(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)


@INITIALIZERS.register
class RandomUniform(InitializerSpec):
    """U(minval, maxval)."""

    initializer: Literal["random_uniform"]
    minval: float = -0.05
    maxval: float = 0.05

    def generate(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)


@INITIALIZERS.register
class Zeros(InitializerSpec):
    initializer: Literal["zeros"]

    def generate(self, shape, rng):
        return np.zeros(shape)


@INITIALIZERS.register
class Ones(InitializerSpec):
    initializer: Literal["ones"]

    def generate(self, shape, rng):
        return np.ones(shape)


@INITIALIZERS.register
class Constant(InitializerSpec):
    initializer: Literal["constant"]
    value: float

    def generate(self, shape, rng):
        return np.full(shape, self.value, dtype=np.float64)


@INITIALIZERS.register
class Orthogonal(InitializerSpec):
    """Keras' Orthogonal: Q of the QR decomposition of a normal matrix of shape
    (prod(shape[:-1]), shape[-1]) (transposed if wider than tall), signs fixed by diag(R)."""

    initializer: Literal["orthogonal"]
    gain: float = 1.0

    def generate(self, shape, rng):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)


class ExplicitValues(Spec):
    """Values written out in the case file, in the canonical layout."""

    values: Any = Field(description="nested lists in the parameter's canonical shape")

    @field_validator("values")
    @classmethod
    def _rectangular_numbers(cls, values: Any) -> Any:
        literal_shape(values)
        return values

    def generate(self, shape, rng):
        array = np.asarray(self.values, dtype=np.float64)
        if array.shape != tuple(shape):
            raise ValueError(f"values have shape {array.shape}, the parameter has shape {tuple(shape)}")
        return array

    def describe(self) -> str:
        return "explicit values"


def _from_string(value: Any) -> Any:
    return {"initializer": value} if isinstance(value, str) else value


_INITIALIZER_UNION = Union[tuple(INITIALIZERS.values()) + (ExplicitValues,)]  # type: ignore[valid-type]

InitializerField = Annotated[
    Union[
        tuple(Annotated[cls, Tag(name)] for name, cls in INITIALIZERS.items())  # type: ignore[misc]
        + (Annotated[ExplicitValues, Tag("values")],)
    ],
    Discriminator(
        by_key("values", fallback_field="initializer"),
        custom_error_type="initializer",
        custom_error_message="expected an initializer name (" + INITIALIZERS.known()
                             + ") or a mapping with `initializer:` or `values:`",
    ),
    # The published JSON Schema accepts the string shorthand too.
    BeforeValidator(_from_string, json_schema_input_type=Union[
        Literal[tuple(INITIALIZERS)], _INITIALIZER_UNION]),  # type: ignore[valid-type]
]


def parameter_rng(seed: int, name: str) -> np.random.Generator:
    """A generator of its own per parameter: the same name and seed give the same values."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, digest])
