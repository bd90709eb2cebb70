"""The port friction of issue 24, on the shipped ports (cases/ports/): the LSTM port that returns
only its forward pass is "pass" with "forward only" beside it, never "skipped"; the MLP port with
one `.astype(z.dtype)` left out (the usual way a float32 port returns float64 gradients) is an
`error` on the checks whose tensors are float64, naming each tensor and the fix, while what it
returns in float32 is still judged."""

from __future__ import annotations

import json
import shutil

from harness.checks.runner import ERROR, NOT_RETURNED, PASS, CaseRunner
from harness.entry.cli import main
from harness.ports.command_line import parse_ports
from harness.weights import load_cases_from_file
from tests.test_ports import CASES


def test_the_shipped_forward_only_lstm_port_passes_with_forward_only_beside_it(tmp_path, capsys):
    from tests.conftest import backend_or_skip

    backend_or_skip("keras")  # weights_as: keras: Keras builds the model whose get_weights() the port gets
    status = main(["run", str(CASES / "port_lstm_numpy.yaml"), "--frameworks", "numpy", "--out", str(tmp_path),
                   "--no-strength"])
    assert status == 0
    assert "lstm_numpy:pass(not-returned:gradients)" in capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    port = {r["check"]: r["verdict"] for r in results["records"] if r["framework"] == "lstm_numpy"}
    assert port == {"forward": PASS, "intermediates": PASS, "metrics": PASS, "gradients": NOT_RETURNED}
    index = (tmp_path / "index.html").read_text()
    assert "forward, intermediates, metrics only" in index and "skipped" not in index.split("<table")[1]


def test_the_shipped_mlp_port_with_float64_gradients_is_an_error_with_the_fix(tmp_path):
    ports = tmp_path / "ports"
    ports.mkdir()
    source = (CASES / "ports" / "mlp_numpy.py").read_text()
    assert "np.where(z > 0, 1, SLOPE).astype(z.dtype)" in source
    (ports / "mlp_float64.py").write_text(source.replace("np.where(z > 0, 1, SLOPE).astype(z.dtype)",
                                                         "np.where(z > 0, 1, SLOPE)"))  # a float64 array
    shutil.copy(CASES / "port_mlp_training.yaml", tmp_path)
    (case,) = load_cases_from_file(tmp_path / "port_mlp_training.yaml")
    case = case.with_ports(parse_ports(["mine=mlp_float64.py:train"], ports))
    runner = CaseRunner(case, diagnose=False)
    verdicts = {check: runner.check("mine", check) for check in runner.checks()}
    assert verdicts["forward"].verdict == PASS and verdicts["intermediates"].verdict == PASS
    gradients = verdicts["gradients"]
    assert gradients.verdict == ERROR, gradients.message
    assert "grad:hidden/kernel is float64" in gradients.reason and "astype(np.float32)" in gradients.reason
