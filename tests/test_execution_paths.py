"""Machine-dependent execution paths: recorded per run, in results.json and the report, and an
`expected_differences` entry that holds only on the path it names (`when`).

The runs use the NumPy float32 port (no framework needed) on report_demo.exact_float32, which
differs from the float64 reference at `squash` by construction (its tolerance is 0); a stand-in
backend records the path a test chooses, so both sides of a condition are exercised here on
any machine.
"""

from __future__ import annotations

import json

import pytest

import harness.checks.runner as runner
from harness.backends.base import ExecutionPath
from harness.weights import cases_from_data
from harness.common.errors import CaseError
from harness.backends.numpy_reference import NumpyBackend
from harness.output.results import SCHEMA_VERSION
from harness.checks.runner import EXPECTED, FAIL, PASS, CaseRunner
from harness.entry.session import run_session
from tests.test_report import DEMO

REASON = "squash rounds in float32 on the native path"


class OnPath(NumpyBackend):
    """The NumPy port, reporting that its layer `squash` ran on `path`."""

    def __init__(self, path: str) -> None:
        self.path = path

    def execution_paths(self, case):
        return [ExecutionPath("squash", self.path, f"tanh {self.path} (stand-in)"),
                ExecutionPath("numpy.threads", "1", "NumPy threads: 1")]


def demo_case(when: dict | None, tolerance: float = 0.0):
    """report_demo.exact_float32 (exact in float32 up to `squash`), with an expectation for numpy."""
    entry = {"frameworks": ["numpy"], "reason": REASON, **({"when": when} if when else {})}
    tolerances = {check: {"rtol": tolerance, "atol": tolerance, "reason": "test"}
                  for check in ("forward", "intermediates", "gradients")}
    (case,) = cases_from_data({
        "name": "paths", "dtype": "float32", "samples": 4,
        "inputs": {"x": {"data": {"values": [[0.25, -0.5, 1.0], [0.75, 0.5, -1.25], [-1.0, 0.25, 0.5],
                                             [1.5, -0.75, 0.25]]}}},
        "targets": {"t": {"data": {"values": [[0.5, -0.5], [0.25, 0.0], [-0.25, 0.75], [1.0, -1.0]]}}},
        "model": {"sequential": [{"type": "Dense", "name": "scaled", "units": 2},
                                 {"type": "Activation", "name": "squash", "activation": "tanh"}]},
        "weights": {"parameters": {"scaled/kernel": {"values": [[0.5, -0.25], [1.0, 0.75], [-0.5, 0.25]]},
                                   "scaled/bias": {"values": [0.25, -0.5]}}},
        "loss": {"type": "mean_squared_error", "reduction": "mean"},
        "tolerance": tolerances, "expected_differences": [entry]})
    return case


@pytest.mark.parametrize("path, tolerance, verdict", [
    ("native", 0.0, EXPECTED),   # the named path, and it differs: the documented difference
    ("transposes", 0.0, FAIL),   # another path, and it differs: undocumented, a failure
    ("transposes", 1e-3, PASS),  # another path, and it agrees: a plain pass, no stale-entry alarm
    ("native", 1e-3, FAIL),      # the named path, and it agrees: the entry is out of date
])
def test_a_conditional_expectation_holds_only_on_its_path(path, tolerance, verdict, monkeypatch):
    monkeypatch.setattr(runner, "get_backend", lambda name: OnPath(path))
    case = demo_case({"execution_paths": {"squash": "native"}}, tolerance)
    result = CaseRunner(case, diagnose=False).check("numpy", "intermediates")
    assert result.verdict == verdict, result.message
    assert (result.reason == REASON) == (verdict == EXPECTED or (verdict == FAIL and path == "native"))


def test_a_condition_naming_no_layer_of_the_case_is_refused():
    with pytest.raises(CaseError) as caught:
        demo_case({"execution_paths": {"sqash": "native"}})
    assert "unknown layer 'sqash'" in str(caught.value)
    assert "expected_differences" in str(caught.value)


def test_paths_reach_results_json_the_environment_and_the_case_page(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "get_backend", lambda name: OnPath("native"))
    out = tmp_path / "site"
    run_session([DEMO], frameworks=["numpy"], out_dir=out, command="test")
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == SCHEMA_VERSION == 2
    (case,) = [c for c in results["cases"] if c["id"] == "report_demo.exact_float32"]
    assert case["frameworks"]["numpy"]["execution_paths"][0] == {
        "name": "squash", "path": "native", "description": "tanh native (stand-in)"}
    assert results["environment"]["execution_paths"]["numpy"][0] == {
        "description": "tanh native (stand-in)", "cases": ["report_demo.keras_float64_slope", "report_demo.exact_float32"]}
    index = (out / "index.html").read_text()
    assert "execution paths (numpy)" in index and "tanh native (stand-in) (every case)" in index
    page = (out / "cases" / "report_demo.exact_float32.html").read_text()
    assert "Execution paths on this machine: tanh native (stand-in); NumPy threads: 1" in page


def test_the_keras_channels_first_bias_reproducer_shows_the_bug_on_this_machine():
    """The framework fact behind cases/discovered_keras_channels_first_bias.yaml, through its
    one-file reproducer, against NumPy: ops.add puts a (1, 3, 1, 1) bias 0, 1, 2 along the last
    axis of a (1, 3, 2, 3) zero tensor (off by 2 where NumPy broadcasts it along axis 1); a grouped
    channels_first Conv2D with a zero kernel and bias 1..4 is off by 3 when 4 wide (bias[k] at
    width k instead of on channel k), and exact when 5 wide. When Keras fixes it, this fails:
    then the case's expectation and this test go."""
    import runpy
    from pathlib import Path

    from tests.conftest import backend_or_skip

    backend_or_skip("keras")
    path = Path(__file__).resolve().parents[1] / "cases" / "reproducers" / "keras_channels_first_bias.py"
    reproducer = runpy.run_path(str(path))  # not as __main__: its functions only
    assert reproducer["broadcast_add"]() == 2.0
    assert reproducer["grouped_conv2d"](4) == 3.0
    assert reproducer["grouped_conv2d"](5) == 0.0
