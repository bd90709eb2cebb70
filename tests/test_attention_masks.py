"""Attention masks (True = may attend) as the case states them: the refusals of a mask the
frameworks would read differently, and the reference's masked softmax against an independent
per-row computation. Agreement of each framework with the reference is tests/test_adapters.py
(the mask examples of harness/case/examples.py) and cases/attention_{mha,sdpa}.yaml."""

from __future__ import annotations

import numpy as np
import pytest

from harness.case import cases_from_data
from harness.common.errors import CaseError
from harness.reference.layers import LAYERS


def sdpa_case(**fields) -> dict:
    return {
        "name": "mask", "dtype": "float64", "samples": 2,
        "inputs": {name: {"shape": [3, 1, 4], "data": {"normal": {"mean": 0.0, "std": 1.0}}}
                   for name in ("query", "key", "value")},
        "targets": {"y": {"shape": [3, 1, 4], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        "loss": {"type": "mean_squared_error", "reduction": "mean"},
        "model": {"nodes": [{"name": "attention", "type": "ScaledDotProductAttention",
                             "inputs": ["query", "key", "value"], **fields}]},
    }


def test_a_row_with_nothing_to_attend_is_refused_with_both_frameworks_answers():
    mask = [[True, False, False], [False, False, False], [True, True, True]]
    with pytest.raises(CaseError) as refused:
        cases_from_data(sdpa_case(mask=mask))
    message = str(refused.value)
    assert "query positions [1] nothing to attend to" in message
    assert "_get_large_negative" in message and "returns zeros" in message


def test_the_causal_triangle_counts_when_a_row_is_checked():
    # Row 0 allows key 2 only; causal allows key 0 only: together nothing.
    mask = [[False, False, True], [True, True, True], [True, True, True]]
    cases_from_data(sdpa_case(mask=mask))  # alone it is fine
    with pytest.raises(CaseError, match=r"query positions \[0\] nothing to attend to \(with the causal"):
        cases_from_data(sdpa_case(mask=mask, causal=True))


def test_a_mask_of_the_wrong_shape_names_the_shape_it_needs():
    with pytest.raises(CaseError, match=r"mask is \[2, 3\]: .* \[3, 3\] here"):
        cases_from_data(sdpa_case(mask=[[True, True, True], [True, True, True]]))


def test_masked_softmax_matches_a_softmax_over_the_allowed_keys_only():
    """Independent of the reference's -inf trick: each row's softmax computed over the allowed
    key positions alone, zeros elsewhere."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 2, 4)) for _ in range(3))
    mask = [[True, False, True], [False, True, False], [True, True, False]]
    spec = LAYERS["ScaledDotProductAttention"](type="ScaledDotProductAttention", mask=mask, causal=True)
    y = spec.reference(spec, {}).forward(q, k, v)
    allowed = np.array(mask) & np.tril(np.ones((3, 3), dtype=bool))
    for b in range(2):
        for n in range(2):
            for t in range(3):
                keys = np.flatnonzero(allowed[t])
                scores = k[b, keys, n] @ q[b, t, n] / 2.0  # 1 / sqrt(head_dim 4)
                weights = np.exp(scores - scores.max())
                weights /= weights.sum()
                np.testing.assert_allclose(y[b, t, n], weights @ v[b, keys, n], rtol=1e-12)
