"""Port verdicts that read right (issue 24): a port judged on what it returns passes, and the
checks it returns nothing for are `not-returned` (counted apart from `skipped`, in the console,
the matrix and results.json); a tensor in another dtype than the port computes in is an `error`
with the fix, never a fail with no value compared."""

from __future__ import annotations

import json

from harness.weights import cases_from_data
from harness.entry.cli import main
from harness.output.report.matrix import Cell
from harness.checks.runner import ERROR, NOT_RETURNED, PASS, CaseRunner
from tests.test_ports import CASES, ONE_DENSE, with_port

GRADIENTS = {**ONE_DENSE, "checks": ["forward", "gradients"]}


def judged(text):
    case, name = with_port(cases_from_data(GRADIENTS)[0], text)
    runner = CaseRunner(case)
    return {check: runner.check(name, check) for check in runner.checks()}


def test_float64_gradients_from_a_float32_port_are_an_error_with_the_fix():
    results = judged("f64=dtype_ports.py:float64_gradients")
    assert results["forward"].verdict == PASS  # what can be judged still is
    gradients = results["gradients"]
    assert gradients.verdict == ERROR
    assert "grad:dense/kernel is float64" in gradients.reason and "grad:dense/bias is float64" in gradients.reason
    assert "astype(np.float32)" in gradients.reason


def test_the_same_gradients_cast_to_float32_pass():
    """The control: the values of the float64 port are right; only their dtype was wrong."""
    results = judged("f32=dtype_ports.py:float32_gradients")
    assert {check: r.verdict for check, r in results.items()} == {"forward": PASS, "gradients": PASS}


def test_a_port_without_gradients_passes_forward_and_is_not_returned_elsewhere(tmp_path, capsys):
    status = main(["run", str(CASES / "seed000_dense_tanh.yaml"), "--frameworks", "numpy", "--out", str(tmp_path),
                   "--port", f"mine={CASES / 'ports' / 'dense_tanh.py'}:predict"])
    assert status == 0
    assert "mine:pass(not-returned:intermediates,gradients)" in capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["schema_version"] == 2
    mine = [r for r in results["records"] if r["framework"] == "mine"]
    assert {r["verdict"] for r in mine} == {PASS, NOT_RETURNED}
    assert not any(r["verdict"] == "skipped" for r in mine)
    totals = results["summary"]
    assert totals.get(NOT_RETURNED) and not totals.get("skipped")
    index = (tmp_path / "index.html").read_text()
    assert "forward, known_values only" in index and "forward only" in index  # the two variants' cells


def test_a_cell_reads_pass_with_what_it_was_judged_on():
    from harness.checks.runner import CheckResult

    checks = [CheckResult("c", "mine", "forward", "reference", PASS),
              CheckResult("c", "mine", "gradients", "reference", NOT_RETURNED)]
    cell = Cell("c", "mine", checks)
    assert cell.verdict == PASS and cell.compared_only == "forward only" and cell.failing == []


def test_show_lists_a_keras_port_weights_by_get_weights_index_and_shape(capsys):
    import pytest

    from harness.backends import get_backend

    if get_backend("keras").unavailable_reason():
        pytest.skip("keras is not installed: it builds the model whose get_weights() order is listed")
    assert main(["show", str(CASES / "port_lstm_numpy.yaml")]) == 0
    out = capsys.readouterr().out
    assert "port lstm_numpy receives model.get_weights() (weights_as keras):" in out
    # Keras' LSTM: kernel (in, 4 units), recurrent kernel (units, 4 units), bias; then the Dense.
    assert "weights[0]  lstm/lstm_cell/kernel  (6, 64)  -> lstm/kernel" in out
    assert "weights[4]  next/bias  (6,)  -> next/bias" in out
    from harness.weights import load_cases_from_file
    from harness.ports.layouts import KerasLayout

    case = load_cases_from_file(CASES / "port_lstm_numpy.yaml")[0]
    (first, *_), = [KerasLayout().bindings(case, "lstm")]
    assert first["native_name"] == "weights[0]" and first["transform"].startswith("lstm/lstm_cell/kernel; ")
