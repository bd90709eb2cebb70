"""The per-gate table of a recurrent layer's difference (issue 24)."""

from __future__ import annotations

import numpy as np

from harness.common.compare import Tolerance
from harness.diagnosis.gate_table import gate_ratios
from harness.checks.runner import FAIL


def test_only_the_gate_blocks_that_differ_are_out():
    expected = np.arange(24.0).reshape(2, 12)  # 4 gates of 3 units
    actual = expected.copy()
    actual[:, 3:6] += 1.0  # the f block
    ratios = gate_ratios(actual, expected, ("i", "f", "c", "o"), Tolerance(0.0, 0.01))
    assert ratios["f"] == 100.0 and ratios["i"] == ratios["c"] == ratios["o"] == 0.0


def test_a_recurrent_gradient_failure_gets_a_row_per_parameter_and_gate():
    """A doubled forget bias (weights edited for torch, tests/test_search.py): through the
    recurrence every block's gradient differs, so every block is out; the table is there, one row
    per recurrent parameter, one figure per gate."""
    from tests.test_diagnosis import base, edit_weights, run_with_fault
    from tests.test_search import STACKED, double_forget_bias

    _, checks = run_with_fault(base(STACKED, shape=[4, 3], targets=[2]), edit_weights(double_forget_bias),
                               diagnose=False)
    (gradients,) = [c for c in checks if c.check == "gradients"]
    assert gradients.verdict == FAIL and gradients.gate_table
    assert any(row["text"].startswith("lower/kernel: i ") and " f " in row["text"] for row in gradients.gate_table)
    row = next(row for row in gradients.gate_table if (row["layer"], row["parameter"]) == ("lower", "kernel"))
    assert list(row["gates"]) == ["i", "f", "c", "o"] and row["step"] is None
    assert "per gate" in gradients.message
