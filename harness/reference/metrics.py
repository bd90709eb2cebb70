"""Metrics besides the loss: the meaning of each one here, and its float64 NumPy reference.

A case lists them under `metrics:`; the reference, every framework (with its own metric where it
has one, see each adapter's metrics.py) and every port compute them on the single pass over the
whole data, and the `metrics` check compares them:

* accuracies count predictions: each one is right or wrong, so what is compared is the *count*
  of right predictions, exactly (a float32 port that matches to 1e-6 may still flip the sign or
  the arg-max of a sample near a tie, and that is what a user of the port sees);
* error metrics (mean_absolute_error, mean_squared_error) are compared like the loss, with the
  `forward` tolerance.

Every metric reads one model output `y` and one target `t` (named like a loss's, defaulting to
the only one) and returns a float64 scalar: the share of right predictions for accuracies,
the mean error otherwise. Predictions are made per element (sign, binary) or per position over
the last (class) axis (categorical, sparse categorical, top-k); `predictions(y)` returns them
so the report can list the samples on which two backends predict differently.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

import numpy as np
from pydantic import Field

from harness.reference.spec import Registry, Spec

METRICS = Registry("metric", "type")


class MetricSpec(Spec):
    type: str
    name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="how results name it; default: the type (give one when a type is listed twice)")
    output: str | None = Field(default=None, description="model output it reads; default: the only output")
    target: str | None = Field(default=None, description="target it compares with; default: the only target")

    counted: ClassVar[bool] = True
    """True for accuracies: right predictions are counted and the counts compared exactly."""
    integer_targets: ClassVar[bool] = False
    """True where targets are class indices (the output's shape without the class axis)."""
    per_position: ClassVar[bool] = False
    """True where one prediction is made per position over the last axis (class scores)."""

    @property
    def label(self) -> str:
        return self.name or self.type

    def right(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Per prediction: 1.0 where right, 0.0 where wrong (accuracies only)."""
        raise NotImplementedError

    def compute(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The metric as a float64 scalar."""
        return np.asarray(self.right(np.asarray(y, np.float64), np.asarray(t)).mean(), dtype=np.float64)

    def predictions(self, y: np.ndarray) -> np.ndarray | None:
        """What each prediction says (a label per element or per position), or None."""
        return None

    def total(self, output_shape: tuple[int, ...]) -> int:
        """How many predictions an output of this shape (batch axis first) makes."""
        shape = output_shape[:-1] if self.per_position else output_shape
        return int(np.prod(shape, dtype=np.int64))

    def count(self, value: float, output_shape: tuple[int, ...]) -> int:
        """Right predictions from the share of them: frameworks return the share (a mean of
        ones and zeros, exact in float32 up to 2**24 predictions), the count is compared."""
        return int(np.rint(float(value) * self.total(output_shape)))

    def describe(self) -> str:
        extra = self.model_dump(exclude={"type", "name", "output", "target"})
        return f"{self.type}(" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")"


@METRICS.register
class SignAccuracy(MetricSpec):
    """Share of elements with t y > 0, targets in {-1, +1} (as for the hinge loss): the sign of
    y is the predicted label. y = 0 is wrong for either label (it lies on the margin, where hinge
    charges both the same). No framework has this metric under this name: Keras'
    binary_accuracy(threshold=0) and chainer's F.binary_accuracy count y = 0 as a prediction of
    one of the labels."""

    type: Literal["sign_accuracy"]

    def right(self, y, t):
        return (t * y > 0).astype(np.float64)

    def predictions(self, y):
        return np.sign(y)


@METRICS.register
class BinaryAccuracy(MetricSpec):
    """Share of elements with (y > threshold) == t, targets in {0, 1}. `>` as in Keras
    (keras/src/metrics/accuracy_metrics.py, binary_accuracy: `ops.greater(y_pred, threshold)`);
    chainer's F.binary_accuracy predicts 1 where y >= 0 (chainer/functions/evaluation/
    binary_accuracy.py). The threshold has no default: Keras' is 0.5 (for probabilities),
    chainer's 0 (for logits)."""

    type: Literal["binary_accuracy"]
    threshold: float = Field(description="y > threshold predicts 1. Required: Keras' default is 0.5, chainer's 0.")

    def right(self, y, t):
        return ((y > self.threshold).astype(np.float64) == t).astype(np.float64)

    def predictions(self, y):
        return (y > self.threshold).astype(np.int64)


class _ArgMaxAccuracy(MetricSpec):
    per_position = True

    def predictions(self, y):
        return np.argmax(y, axis=-1)

    def labels(self, y, t):
        raise NotImplementedError

    def right(self, y, t):
        return (np.argmax(y, axis=-1) == self.labels(y, t)).astype(np.float64)


@METRICS.register
class CategoricalAccuracy(_ArgMaxAccuracy):
    """Share of positions where arg-max of y over the last axis is the arg-max of the one-hot
    target. Ties go to the first maximum (numpy.argmax)."""

    type: Literal["categorical_accuracy"]

    def labels(self, y, t):
        return np.argmax(t, axis=-1)


@METRICS.register
class SparseCategoricalAccuracy(_ArgMaxAccuracy):
    """Share of positions where arg-max of y over the last axis is the class index t (targets
    shaped like y without the class axis, or with a trailing axis of 1)."""

    type: Literal["sparse_categorical_accuracy"]
    integer_targets = True

    def labels(self, y, t):
        return np.asarray(t).astype(np.int64).reshape(y.shape[:-1])


@METRICS.register
class TopKAccuracy(MetricSpec):
    """Share of positions where the target class is among the k highest scores: fewer than k
    classes score strictly higher than it (so classes tied with it at the boundary count as in
    the top k, as TensorFlow's in_top_k, which Keras uses, documents). Targets are class indices
    (shaped like y without the class axis) or one-hot (shaped like y)."""

    type: Literal["top_k_accuracy"]
    k: int = Field(gt=0, description="how many of the highest scores count. Required (Keras' default is 5).")
    per_position = True

    def labels(self, y, t):
        t = np.asarray(t)
        if t.shape == y.shape:
            return np.argmax(t, axis=-1)
        return t.astype(np.int64).reshape(y.shape[:-1])

    def right(self, y, t):
        labels = self.labels(y, t)
        scores = np.take_along_axis(y, labels[..., None], axis=-1)
        return ((y > scores).sum(axis=-1) < self.k).astype(np.float64)

    def predictions(self, y):
        return np.argmax(y, axis=-1)


class _ErrorMetric(MetricSpec):
    counted = False

    def error(self, y, t):
        raise NotImplementedError

    def compute(self, y, t):
        y, t = np.asarray(y, np.float64), np.asarray(t, np.float64)
        return np.asarray(self.error(y, t).mean(), dtype=np.float64)


@METRICS.register
class MeanAbsoluteErrorMetric(_ErrorMetric):
    """mean |y - t| over every element (Keras averages the last axis, then the batch: the same
    for every output of one shape)."""

    type: Literal["mean_absolute_error"]

    def error(self, y, t):
        return np.abs(y - t)


@METRICS.register
class MeanSquaredErrorMetric(_ErrorMetric):
    """mean (y - t)^2 over every element."""

    type: Literal["mean_squared_error"]

    def error(self, y, t):
        return (y - t) ** 2


MetricField = Annotated[Union[tuple(METRICS.values())], Field(discriminator="type")]  # type: ignore[valid-type]


DIFFERING_ROWS = 50
"""Predictions listed per metric where backends differ (the count of them is always given)."""


def differing_predictions(metric: MetricSpec, reference: np.ndarray, outputs: dict[str, np.ndarray],
                          targets: np.ndarray) -> dict[str, object] | None:
    """Where the backends' predictions differ from the reference's (and so, where any two of them
    differ): per position, the target, the reference's prediction and each backend's, and how
    close the reference is to a tie (its margin). None for a metric without predictions."""
    expected = metric.predictions(np.asarray(reference, np.float64))
    if expected is None:
        return None
    predicted = {name: metric.predictions(np.asarray(y, np.float64)) for name, y in outputs.items()
                 if np.shape(y) == np.shape(reference)}
    differs = np.zeros(expected.shape, dtype=bool)
    for values in predicted.values():
        differs |= values != expected
    positions = np.argwhere(differs)
    margins = _margins(metric, np.asarray(reference, np.float64))
    labels = _target_labels(metric, np.asarray(reference), np.asarray(targets))
    rows = [{"index": [int(i) for i in position],
             "target": _plain(labels[tuple(position)]) if labels is not None else None,
             "reference": _plain(expected[tuple(position)]),
             "backends": {name: _plain(values[tuple(position)]) for name, values in predicted.items()},
             "margin": float(margins[tuple(position)])}
            for position in positions[:DIFFERING_ROWS]]
    return {"metric": metric.label, "count": int(len(positions)), "total": int(expected.size), "rows": rows,
            "margin": MARGINS.get(type(metric).__name__, "")}


MARGINS = {
    "SignAccuracy": "|y|: how far the reference's score is from 0",
    "BinaryAccuracy": "|y - threshold|",
    "CategoricalAccuracy": "the reference's highest score minus its second highest",
    "SparseCategoricalAccuracy": "the reference's highest score minus its second highest",
    "TopKAccuracy": "the reference's highest score minus its second highest",
}


def _margins(metric: MetricSpec, y: np.ndarray) -> np.ndarray:
    if isinstance(metric, SignAccuracy):
        return np.abs(y)
    if isinstance(metric, BinaryAccuracy):
        return np.abs(y - metric.threshold)
    if y.shape[-1] < 2:
        return np.full(y.shape[:-1], np.inf)
    top = np.sort(y, axis=-1)
    return top[..., -1] - top[..., -2]


def _target_labels(metric: MetricSpec, y: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    if metric.per_position:
        if t.shape == y.shape:
            return np.argmax(t, axis=-1)
        return t.astype(np.int64).reshape(y.shape[:-1])
    return t


def _plain(value) -> object:
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value
