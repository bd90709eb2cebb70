"""Hints on gradient and training checks for layout faults made inside an adapter (issue 24).

The fault is injected into torch's own weight binding (tests/layout_faults.py): torch computes
with the re-laid out weight and reports its gradients and trained values back through the same
wrong map. Every failed check (forward, gradients, training) must carry the exact hint, and
gradient and training hints must say they read through the layout. On main before this change
the same faults got 5 of 15 exact hints (forward only); see docs/diagnosis.md."""

from __future__ import annotations

import numpy as np
import pytest

from harness.backends import get_backend
from tests import layout_faults

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(get_backend("torch").unavailable_reason() is not None,
                                reason="torch is not installed")


def test_every_failed_check_of_a_layout_fault_gets_the_exact_hint():
    rows = layout_faults.measure("torch")
    faults = {row["fault"] for row in rows}
    assert faults == {fault[0] for fault in layout_faults.FAULTS}, "every injected fault must fail a check"
    assert {row["check"] for row in rows} >= {"forward", "gradients", "training"}
    missing = [(row["fault"], row["check"], row["hint"]) for row in rows if not row["exact"]]
    assert not missing
    for row in rows:
        if row["check"] in ("gradients", "training"):
            assert "read back through the same layout" in row["hint"]


def test_through_layout_inverts_each_edit_in_order():
    """Two layout edits of one parameter are undone last first: the read-back of the edited
    weight is the original weight (the inverse is checked against the weight, not itself)."""
    from harness.diagnosis.base import Edit

    class Case:  # the least Edit reads: no layers, one weight
        graph = type("G", (), {"layers": {}})()
        weights = {"w": np.arange(12.0).reshape(3, 4)}
        losses = []
        spec = type("S", (), {"optimizer": None})()

    edit = Edit(Case())
    original = edit.weights["w"]
    edit.weights["w"] = np.flip(original, axis=1)
    edit.add_layout("w", lambda a: np.flip(a, axis=1))
    edit.weights["w"] = edit.weights["w"] * np.array([1, -1, 1, 1])
    edit.add_layout("w", lambda a: a * np.array([1, -1, 1, 1]))
    np.testing.assert_array_equal(edit.layouts["w"](edit.weights["w"]), original)
