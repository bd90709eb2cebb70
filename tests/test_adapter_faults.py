"""Faults injected into a real adapter's binding or settings on the shipped cases
(tests/adapter_faults.py, issue 24): the gradient and training checks carry the same exact hint as
the forward ones, also for a re-scaled bias, and the two search-bound faults of the issue (slope
0.01 in all three leaky layers of seed003, the forget bias doubled in both layers of a stacked
LSTM) are named within the time bound. The whole fault set in every adapter is the measurement
`python -m tests.adapter_faults` (docs/diagnosis.md); here torch, a few faults of it."""

from __future__ import annotations

import pytest

from harness.backends import get_backend
from harness.diagnosis.hints import TIME_BUDGET_S
from tests import adapter_faults

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(get_backend("torch").unavailable_reason() is not None,
                                reason="torch is not installed")


def fault(name):
    return next(f for f in adapter_faults.FAULTS if f.name == name)


def rows_of(name):
    rows = adapter_faults.run_fault("torch", fault(name))
    assert all(row["check"] is not None for row in rows), rows  # the fault made checks fail
    return {row["check"]: row for row in rows}


@pytest.mark.parametrize("name", ["Dense bias doubled", "Dense bias doubled (Adam)", "Dense bias dropped"])
def test_a_rescaled_bias_is_named_on_every_failed_check(name):
    """A binding that doubles the bias reads its gradient and trained value back halved: the
    reference read back the same way matches (harness/diagnosis/layer_transforms.py)."""
    rows = rows_of(name)
    assert "training" in rows
    assert {check: row["exact"] for check, row in rows.items()} == {check: True for check in rows}, rows
    if "doubled" in name:
        assert "read back through the same layout" in rows["training"]["hint"]


def test_three_leaky_layers_with_torchs_slope_are_named_together_in_seed003():
    rows = rows_of("leaky_relu slope 0.01 in all three layers")
    assert set(rows) == {"forward", "intermediates", "gradients"}
    for row in rows.values():
        assert row["exact"], row
        assert "in layers hidden1, hidden2 and output" in row["hint"]
        assert row["search_seconds"] < TIME_BUDGET_S


def test_the_forget_bias_doubled_in_both_layers_of_the_stacked_lstm():
    """recurrent_lstm.stacked has Keras' bias: ones in the forget block, zeros elsewhere. Forward,
    doubling the whole bias and doubling the forget block are the same, and the hint names both
    and says so; the gradients (read back through the binding) tell them apart: exact."""
    rows = rows_of("LSTM forget bias doubled in both layers")
    assert rows["gradients"]["exact"], rows["gradients"]
    for check in ("forward", "intermediates"):
        row = rows[check]
        assert row["among_equal_fits"], row
        assert "the forget gate's bias is added twice in layers lstm_sequences and lstm_last" in row["hint"]
        assert "cannot tell these apart" in row["hint"] and "lstm_last and out" not in row["hint"]
    assert all(row["search_seconds"] < TIME_BUDGET_S for row in rows.values())


def test_a_setting_fault_of_an_optimizer_formula_is_named_on_training():
    rows = rows_of("RMSprop epsilon inside the root")
    assert set(rows) == {"training"} and rows["training"]["exact"], rows
