"""Losses: the meaning of each one here, and its NumPy reference forward and backward.

Every loss is defined per sample, then reduced over the batch:

* elementwise losses (mean_squared_error, mean_absolute_error, hinge, squared_hinge,
  binary_crossentropy): the per-sample loss is the mean of the elementwise terms over all
  non-batch axes (Keras averages over the last axis; for 2-D outputs that is the same thing);
* categorical losses: the per-sample loss is summed over the class axis (the last axis) and
  averaged over any axes between batch and classes (sequence outputs).

`reduction: mean` averages the per-sample losses over the batch (Keras' "sum_over_batch_size",
torch's and chainer's "mean"); `reduction: sum` adds them up. The reduction is required because
it changes every gradient by a factor of the batch size.

Probabilities are used as given: no clipping and no renormalisation. Keras clips probabilities
to [1e-7, 1 - 1e-7] and renormalises categorical predictions; torch clamps log at -100. Those
only matter for saturated predictions, where the comparison will show them.

`forward(y, t)` returns the scalar loss; `backward(y, t)` returns dL/dy.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import Field

from harness.reference.activations import sigmoid
from harness.reference.spec import Registry, Spec

LOSSES = Registry("loss", "type")


class LossSpec(Spec):
    type: str
    reduction: Literal["mean", "sum"] = Field(
        description="mean: average of per-sample losses over the batch; sum: their sum. Required.")
    output: str | None = Field(default=None, description="model output this loss reads; default: the only output")
    target: str | None = Field(default=None, description="target this loss compares with; default: the only target")
    weight: float = Field(default=1.0, description="factor of this loss in the total")

    integer_targets: ClassVar[bool] = False
    """True where targets are class indices rather than values shaped like the output."""

    def per_element(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def per_element_grad(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        per_sample = self.per_element(y, t).reshape(y.shape[0], -1).mean(axis=1)
        return per_sample.mean() if self.reduction == "mean" else per_sample.sum()

    def backward(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        batch = y.shape[0]
        per_sample_size = y.size // batch
        scale = 1.0 / per_sample_size / (batch if self.reduction == "mean" else 1)
        return self.per_element_grad(y, t) * scale

    def output_activation(self) -> str | None:
        """The activation a model output must end with for this loss to be defined on it
        (`sigmoid` or `softmax` for the cross-entropies on probabilities); None where any real
        output will do. The case generator (harness/discovery/generate/) reads it."""
        return None

    def target_data(self, output_shape: tuple[int, ...], samples: int) -> tuple[list[int], dict[str, Any]]:
        """A target's shape (without the batch axis) and `data` in this loss's domain, for a
        model output of `output_shape`: what the case generator writes."""
        return list(output_shape), {"normal": {"mean": 0.0, "std": 1.0}}

    def describe(self) -> str:
        extra = self.model_dump(exclude={"type", "reduction", "output", "target", "weight"}, exclude_none=True)
        text = f"{self.type}(reduction={self.reduction}"
        text += "".join(f", {k}={v}" for k, v in extra.items())
        return text + ")"


@LOSSES.register
class MeanSquaredError(LossSpec):
    """(y - t)^2."""

    type: Literal["mean_squared_error"]

    def per_element(self, y, t):
        return (y - t) ** 2

    def per_element_grad(self, y, t):
        return 2 * (y - t)


@LOSSES.register
class MeanAbsoluteError(LossSpec):
    """|y - t|; the gradient at y = t is taken as 0 (sign(0) = 0), as in all three frameworks."""

    type: Literal["mean_absolute_error"]

    def per_element(self, y, t):
        return np.abs(y - t)

    def per_element_grad(self, y, t):
        return np.sign(y - t)


@LOSSES.register
class Hinge(LossSpec):
    """max(0, 1 - t y) with targets in {-1, +1} used as given.

    Keras converts {0, 1} targets to {-1, +1} when every target is 0 or 1; this harness does not,
    so write -1/+1 targets. torch has no such loss (HingeEmbeddingLoss is another function) and
    chainer's F.hinge is one-vs-rest over integer labels: both build it from primitives.
    """

    type: Literal["hinge"]

    def target_data(self, output_shape, samples):
        return signed_targets(output_shape, samples)

    def per_element(self, y, t):
        return np.maximum(0, 1 - t * y)

    def per_element_grad(self, y, t):
        return -t * (1 - t * y > 0)


@LOSSES.register
class SquaredHinge(LossSpec):
    """max(0, 1 - t y)^2, targets in {-1, +1} as for hinge."""

    type: Literal["squared_hinge"]

    def target_data(self, output_shape, samples):
        return signed_targets(output_shape, samples)

    def per_element(self, y, t):
        return np.maximum(0, 1 - t * y) ** 2

    def per_element_grad(self, y, t):
        return -2 * t * np.maximum(0, 1 - t * y)


@LOSSES.register
class BinaryCrossentropy(LossSpec):
    """-(t log p + (1 - t) log(1 - p)), p = y, or p = sigmoid(y) when from_logits.

    From logits the stable form max(y, 0) - y t + log(1 + exp(-|y|)) is used.
    """

    type: Literal["binary_crossentropy"]
    from_logits: bool = Field(description="true: y are logits; false: y are probabilities. Required.")

    def output_activation(self):
        return None if self.from_logits else "sigmoid"

    def target_data(self, output_shape, samples):
        return list(output_shape), {"uniform": {"low": 0.0, "high": 1.0}}

    def per_element(self, y, t):
        if self.from_logits:
            return np.maximum(y, 0) - y * t + np.log1p(np.exp(-np.abs(y)))
        return -(t * np.log(y) + (1 - t) * np.log(1 - y))

    def per_element_grad(self, y, t):
        if self.from_logits:
            return sigmoid(y) - t
        return -(t / y - (1 - t) / (1 - y))


class _CategoricalLoss(LossSpec):
    """Shared reduction for losses summed over the class axis (the last axis of y)."""

    from_logits: bool = Field(description="true: y are logits (softmax applied inside); false: probabilities. Required.")

    def one_hot(self, y, t):
        return t

    def output_activation(self):
        return None if self.from_logits else "softmax"

    def target_data(self, output_shape, samples):
        return list(output_shape), {"one_hot": {"classes": output_shape[-1]}}

    def forward(self, y, t):
        t = self.one_hot(y, t)
        if self.from_logits:
            log_p = log_softmax(y)
        else:
            log_p = np.log(y)
        per_position = -(t * log_p).sum(axis=-1)
        per_sample = per_position.reshape(y.shape[0], -1).mean(axis=1)
        return per_sample.mean() if self.reduction == "mean" else per_sample.sum()

    def backward(self, y, t):
        t = self.one_hot(y, t)
        batch = y.shape[0]
        positions = int(np.prod(y.shape[1:-1], dtype=np.int64))
        scale = 1.0 / positions / (batch if self.reduction == "mean" else 1)
        if self.from_logits:
            p = np.exp(log_softmax(y))
            return (p * t.sum(axis=-1, keepdims=True) - t) * scale
        return -(t / y) * scale


@LOSSES.register
class CategoricalCrossentropy(_CategoricalLoss):
    """-sum_k t_k log p_k with one-hot (or soft) targets over the last axis."""

    type: Literal["categorical_crossentropy"]


@LOSSES.register
class SparseCategoricalCrossentropy(_CategoricalLoss):
    """-log p_t with integer class targets; targets have y's shape without the class axis
    (a trailing axis of size 1 is also accepted, as in Keras)."""

    type: Literal["sparse_categorical_crossentropy"]
    integer_targets = True
    ignore_label: int | None = Field(
        default=None,
        description="a label whose positions contribute nothing: loss 0 and gradient 0 there, still "
                    "counted by `mean` (chainer's ignore_label, torch's ignore_index, Keras' ignore_class). "
                    "Default: none, and every label must be a class index 0..classes-1")

    def target_data(self, output_shape, samples):
        return list(output_shape[:-1]), {"integers": {"low": 0, "high": output_shape[-1]}}

    def one_hot(self, y, t):
        # A label outside 0..classes-1 would index np.eye from the end (-1 is the last class):
        # harness/case/case.py refuses such labels at load unless they are the ignore_label,
        # whose rows of the one-hot are all zero (no term in -sum t log p, no gradient).
        labels = np.asarray(t).astype(np.int64).reshape(y.shape[:-1])
        ignored = labels == self.ignore_label if self.ignore_label is not None else np.zeros(labels.shape, bool)
        one_hot = np.eye(y.shape[-1], dtype=y.dtype)[np.where(ignored, 0, labels)]
        return np.where(ignored[..., None], 0, one_hot).astype(y.dtype)


def signed_targets(output_shape, samples) -> tuple[list[int], dict[str, Any]]:
    """Targets in {-1, +1}, as the hinge losses take them."""
    shape = tuple(int(size) for size in (samples, *output_shape))
    return list(output_shape), {"expression": f"where(uniform(0.0, 1.0, {shape}) < 0.5, -1.0, 1.0)"}


def log_softmax(y: np.ndarray) -> np.ndarray:
    shifted = y - y.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


LossField = Annotated[Union[tuple(LOSSES.values())], Field(discriminator="type")]  # type: ignore[valid-type]
