"""chainer versions of the harness's metrics: (callable(y, t) -> scalar, native|composite, detail).

chainer has F.accuracy (arg-max over axis 1 against int labels) and F.binary_accuracy, which
predicts 1 where y >= 0, takes int targets in {0, 1} and ignores targets of -1
(chainer/functions/evaluation/binary_accuracy.py): a threshold on logits, not on probabilities.
"""

from __future__ import annotations

import numpy as np

from harness.backends.chainer._import import F
from harness.backends.chainer.registry import METRIC_BUILDERS as builders


def array(x):
    return x.array if hasattr(x, "array") else np.asarray(x)


def class_labels(y, t) -> np.ndarray:
    """int32 class indices, one per position (one-hot targets: their arg-max)."""
    t = array(t)
    if t.shape == y.shape:
        t = t.argmax(axis=-1)
    return t.reshape(-1).astype(np.int32)


def rows(y):
    """Scores as (positions, classes): F.accuracy takes the class axis at 1."""
    return F.reshape(y, (-1, y.shape[-1]))


@builders.register("sign_accuracy")
def sign_accuracy(spec, dtype):
    return (lambda y, t: np.mean(array(t) * array(y) > 0)), "composite", \
        "mean(t * y > 0): chainer has no sign accuracy, and F.binary_accuracy counts y = 0 as a prediction of 1"


@builders.register("binary_accuracy")
def binary_accuracy(spec, dtype):
    threshold = spec.threshold

    def metric(y, t):
        # F.binary_accuracy(x, u) is right where (x >= 0) == u. With x = threshold - y and
        # u = 1 - t: (y <= threshold) == (1 - t), i.e. (y > threshold) == t, exactly (the
        # difference of two floats is 0 only when they are equal, so no sign flips).
        flipped = (1 - array(t)).astype(np.int32)
        return F.binary_accuracy(threshold - y, flipped)
    return metric, "native", f"F.binary_accuracy({threshold} - y, 1 - t): F.binary_accuracy predicts 1 " \
        f"where its input >= 0; this is (y > {threshold}) == t"


@builders.register("categorical_accuracy", "sparse_categorical_accuracy")
def argmax_accuracy(spec, dtype):
    return (lambda y, t: F.accuracy(rows(y), class_labels(y, t))), "native", \
        "F.accuracy on (positions, classes)" + (" with the one-hot targets' arg-max"
                                                 if spec.type == "categorical_accuracy" else "")


@builders.register("top_k_accuracy")
def top_k_accuracy(spec, dtype):
    k = spec.k

    def metric(y, t):
        scores = array(rows(y))
        picked = scores[np.arange(len(scores)), class_labels(y, t)][:, None]
        return np.mean((scores > picked).sum(axis=-1) < k)
    return metric, "composite", f"count(y > y[t]) < {k}: chainer has no top-k accuracy"


@builders.register("mean_absolute_error")
def mean_absolute_error(spec, dtype):
    return (lambda y, t: F.mean_absolute_error(y, t)), "native", "F.mean_absolute_error"


@builders.register("mean_squared_error")
def mean_squared_error(spec, dtype):
    return (lambda y, t: F.mean_squared_error(y, t)), "native", "F.mean_squared_error"
