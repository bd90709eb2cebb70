"""Metrics (harness/reference/metrics.py) against hand computations: the float64 reference, and each
framework's own metric (its adapter's metrics.py) on the same arrays. The expected values are
counted by hand in the comments, not computed by the code under test."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from harness.reference.metrics import MetricField, differing_predictions
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip


def metric(**fields):
    return TypeAdapter(MetricField).validate_python(fields)


F = np.float32
HAND = [
    # sign: t*y > 0 right; y = 0 is wrong for either label: right, wrong, wrong (0), wrong, right
    ({"type": "sign_accuracy"}, F([[0.5], [-0.2], [0.0], [1.0], [-3.0]]), F([[1], [1], [1], [-1], [-1]]), 2 / 5),
    # binary, threshold 0.5, strict >: predictions 1, 0 (0.5 is not > 0.5), 0, 1 vs 1, 1, 0, 0
    ({"type": "binary_accuracy", "threshold": 0.5}, F([[0.6], [0.5], [0.2], [0.9]]), F([[1], [1], [0], [0]]), 2 / 4),
    # categorical: arg-max 1, 0, 2 vs one-hot classes 1, 1, 2
    ({"type": "categorical_accuracy"}, F([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.3, 0.2, 0.5]]),
     F([[0, 1, 0], [0, 1, 0], [0, 0, 1]]), 2 / 3),
    # sparse: arg-max 1, 0, 2 vs classes 1, 1, 0
    ({"type": "sparse_categorical_accuracy"}, F([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.3, 0.2, 0.5]]),
     np.array([1, 1, 0]), 1 / 3),
    # top 2: target 0 scores 0.1 with two above it (wrong); target 1 scores 0.3, one above (right);
    # target 2 scores 0.5, none above (right)
    ({"type": "top_k_accuracy", "k": 2}, F([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.3, 0.2, 0.5]]),
     np.array([0, 1, 2]), 2 / 3),
    # |1-0| + |2-2| + |3-5| + |4-1| = 6 over 4 elements
    ({"type": "mean_absolute_error"}, F([[1, 2], [3, 4]]), F([[0, 2], [5, 1]]), 6 / 4),
    # 1 + 0 + 4 + 9 = 14 over 4 elements
    ({"type": "mean_squared_error"}, F([[1, 2], [3, 4]]), F([[0, 2], [5, 1]]), 14 / 4),
]


@pytest.mark.parametrize("fields, y, t, expected", HAND, ids=[h[0]["type"] for h in HAND])
def test_reference_metric_by_hand(fields, y, t, expected):
    value = metric(**fields).compute(y, t)
    assert value.dtype == np.float64 and float(value) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
@pytest.mark.parametrize("fields, y, t, expected", HAND, ids=[h[0]["type"] for h in HAND])
def test_framework_metric_by_hand(framework, fields, y, t, expected):
    backend = backend_or_skip(framework)
    function, implementation, detail = backend.build_metric(metric(**fields), "float32")
    assert implementation in ("native", "composite") and detail
    value = backend.to_numpy(function(backend.tensor(y, requires_grad=False), backend.tensor(t, requires_grad=False)))
    # Accuracies are shares of 3-5 predictions, exact; errors are float32 sums of small integers.
    assert float(value) == pytest.approx(expected, abs=1e-6)


def test_ties_go_to_the_first_maximum_and_count_as_in_the_top_k():
    y = F([[0.5, 0.5, 0.1]])
    assert float(metric(type="categorical_accuracy").compute(y, F([[1, 0, 0]]))) == 1.0
    assert float(metric(type="categorical_accuracy").compute(y, F([[0, 1, 0]]))) == 0.0
    # class 1 ties with class 0 at the top: no class scores strictly higher, so it is in the top 1
    assert float(metric(type="top_k_accuracy", k=1).compute(y, np.array([1]))) == 1.0
    assert float(metric(type="top_k_accuracy", k=1).compute(y, np.array([2]))) == 0.0


def test_counts_come_from_shares():
    accuracy = metric(type="categorical_accuracy")
    assert accuracy.total((64, 6)) == 64 and accuracy.count(13 / 64, (64, 6)) == 13
    assert metric(type="sign_accuracy").total((200, 1)) == 200


def test_differing_predictions_lists_the_flipped_samples_with_the_reference_margin():
    reference = np.array([[0.40, 0.35, 0.25], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
    port = np.array([[0.36, 0.39, 0.25], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])  # sample 0 flips 0 -> 1
    targets = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    found = differing_predictions(metric(type="categorical_accuracy"), reference, {"port": port}, targets)
    assert found["count"] == 1 and found["total"] == 3
    (row,) = found["rows"]
    assert row["index"] == [0] and row["target"] == 0 and row["reference"] == 0 and row["backends"] == {"port": 1}
    assert row["margin"] == pytest.approx(0.40 - 0.35)  # its highest score minus its second highest


def test_error_metrics_have_no_predictions():
    assert differing_predictions(metric(type="mean_squared_error"), np.zeros((2, 1)), {"a": np.ones((2, 1))},
                                 np.zeros((2, 1))) is None
