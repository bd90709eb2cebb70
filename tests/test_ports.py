"""Ports (a user's own implementation as a backend): wrong ones fail on the right check at the
right layer, broken ones are a clear `error` while the other backends still run, the shipped
ones pass, and each `weights_as` layout matches a port written from the framework's own
documentation (tests/ports/native_ports.py).

The wrong ports (tests/ports/wrong_ports.py) carry one mistake each; what they are judged against
is the float64 NumPy reference, whose gradients tests/test_reference_gradients.py checks against
finite differences, never the port code itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.weights import cases_from_data, load_cases_from_file
from harness.entry.cli import main
from harness.ports.command_line import parse_ports
from harness.checks.runner import ERROR, FAIL, NOT_RETURNED, PASS, SKIPPED, CaseRunner, run_case
from tests.conftest import backend_or_skip

ROOT = Path(__file__).resolve().parent.parent
PORTS = ROOT / "tests" / "ports"
CASES = ROOT / "cases"

THREE_DENSE = {
    "name": "three_dense", "samples": 16, "dtype": "float32",
    "inputs": {"x": {"shape": [3], "data": {"normal": {}}}},
    "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
    "model": {"sequential": [{"type": "Dense", "name": "first", "units": 4, "activation": "tanh"},
                             {"type": "Dense", "name": "second", "units": 4, "activation": "tanh"},
                             {"type": "Dense", "name": "third", "units": 2}]},
    # Non-zero biases: with Keras' default zeros a forgotten bias would change nothing.
    "weights": {"seed": 5, "defaults": {"bias": {"initializer": "random_uniform", "minval": -0.5, "maxval": 0.5}}},
    "loss": {"type": "mean_squared_error", "reduction": "mean"},
    "checks": ["forward", "intermediates"],
}

ONE_DENSE = {
    "name": "one_dense", "samples": 8, "dtype": "float32",
    "inputs": {"x": {"shape": [3], "data": {"normal": {}}}},
    "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
    "model": {"sequential": [{"type": "Dense", "name": "dense", "units": 2, "activation": "tanh"}]},
    "weights": {"seed": 1, "defaults": {"bias": {"initializer": "random_uniform", "minval": -0.5, "maxval": 0.5}}},
    "loss": {"type": "mean_squared_error", "reduction": "mean"},
    "checks": ["forward", "intermediates"],
}


def case_file(name: str):
    return load_cases_from_file(CASES / name)[0]


def with_port(case, text: str):
    """The case with one --port, its file relative to tests/ports; (case, port name)."""
    case = case.with_ports(parse_ports([text], PORTS))
    return case, case.port_names()[-1]


def verdicts(case, name: str) -> dict[str, object]:
    runner = CaseRunner(case)
    return {check: runner.check(name, check) for check in runner.checks()}


# --- wrong ports: fail on the right check, at the right layer -----------------------------------

WRONG = [
    # (case, function, {check: first divergent layer or failing tensors}, checks that pass)
    (lambda: cases_from_data(THREE_DENSE)[0], "dense_untransposed", {"forward": None, "intermediates": "second"}, []),
    (lambda: cases_from_data(THREE_DENSE)[0], "dense_missing_bias", {"forward": None, "intermediates": "third"}, []),
    (lambda: case_file("port_lstm_numpy.yaml"), "lstm_gate_order",
     {"forward": None, "intermediates": "lstm", "metrics": None}, []),
    (lambda: case_file("port_mlp_training.yaml"), "mlp_wrong_slope",
     {"forward": None, "intermediates": "hidden", "gradients": None, "training": None}, []),
    (lambda: case_file("port_mlp_training.yaml"), "mlp_gradient_sign",
     {"gradients": {"grad:hidden/kernel", "grad:hidden/bias", "grad:input:x"}, "training": None},
     ["forward", "intermediates"]),
]


@pytest.mark.parametrize("make_case, function, failing, passing", WRONG, ids=[w[1] for w in WRONG])
def test_a_wrong_port_fails_on_the_right_check_at_the_right_layer(make_case, function, failing, passing):
    case, name = with_port(make_case(), f"{function}=wrong_ports.py:{function}")
    results = verdicts(case, name)
    for check, where in failing.items():
        result = results[check]
        assert result.verdict == FAIL, (check, result.verdict, result.message)
        if check == "intermediates":
            assert result.first_divergent == where
            assert f"divergence starts at layer {where!r}" in result.message
            layers = [node.name for node in case.graph.nodes]
            before = layers[:layers.index(where)]
            assert all(t.passed for t in result.tensors if t.tensor in before), "layers before it agree"
        elif isinstance(where, set):
            assert {t.tensor for t in result.tensors if not t.passed} == where
        if check == "training":
            assert result.first_divergent_step == 1 and "divergence starts at step 1" in result.message
    for check in passing:
        assert results[check].verdict == PASS, (check, results[check].message)


def test_the_right_port_of_the_same_layers_passes():
    """The control of dense_untransposed and dense_missing_bias."""
    case, name = with_port(cases_from_data(THREE_DENSE)[0], "right=wrong_ports.py:dense_right")
    assert {check: r.verdict for check, r in verdicts(case, name).items()} == {"forward": PASS, "intermediates": PASS}


def test_a_wrong_port_under_pytest_names_the_port_the_check_and_the_layer(tmp_path):
    """`pytest cases/x.yaml --port NAME=...`: the failure text names case, port, check and layer."""
    (tmp_path / "cases" / "ports").mkdir(parents=True)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    shutil.copy(CASES / "port_mlp_training.yaml", tmp_path / "cases")
    shutil.copy(CASES / "ports" / "mlp_numpy.py", tmp_path / "cases" / "ports")
    # The machine's own defaults-table cache, as a run of the suite's own uses: the failing port's
    # hint reads the frameworks' defaults, and an empty cache made that 12 s of imports here.
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    environment.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.entry.pytest_plugin", "-p", "no:cacheprovider",
                          "-p", "no:xdist", "-q", "--frameworks", "numpy", "--harness-report", "none",
                          "--port", f"slope={PORTS / 'wrong_ports.py'}:mlp_wrong_slope", "cases"],
                         cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "port_mlp_training [slope] intermediates: fail" in run.stdout
    assert "divergence starts at layer 'hidden'" in run.stdout
    assert "4 failed, 8 passed" in run.stdout, run.stdout  # numpy and the case's own port pass


def test_the_command_line_prints_why_a_port_failed(tmp_path, capsys):
    status = main(["run", str(CASES / "port_mlp_training.yaml"), "--frameworks", "numpy", "--out",
                   str(tmp_path / "out"), "--port", f"slope={PORTS / 'wrong_ports.py'}:mlp_wrong_slope"])
    assert status == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["port_mlp_training", "numpy:pass", "mlp_numpy:pass", "slope:fail"]
    assert "port_mlp_training [slope] intermediates: fail\n  2 of 2 tensors out of tolerance against reference\n" \
           "  divergence starts at layer 'hidden'" in out
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["ports"] == ["mlp_numpy", "slope"]


# --- broken ports: a clear error naming port, case, expected and found --------------------------

BROKEN = [
    ("raises", ["the function raised ValueError: cannot handle a batch of 8",
                'broken_ports.py", line 15, in helper']),
    ("wrong_names", ["the outputs it returned are not the model's", "expected: the outputs ['dense']",
                     "found: ['y']"]),
    ("wrong_shape", ["output 'dense' has shape [8, 1]", "expected: [8, 2]", "found: [8, 1]"]),
    ("returns_none", ["it returned None", "expected: the outputs ['dense']"]),
    ("one_argument", ["one_argument takes 1 positional arguments", "expected: def one_argument(inputs, weights, ...)"]),
    ("unknown_layer", ["`intermediates` names unknown layers ['dens']", "expected: layer (node) names: dense"]),
    ("no_such_function", ["broken_ports.py has no function 'no_such_function'", "found: ["]),
]


@pytest.mark.parametrize("function, expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_port_is_an_error_naming_port_case_and_what_was_expected(function, expected):
    case, name = with_port(cases_from_data(ONE_DENSE)[0], f"{function}=broken_ports.py:{function}")
    report = run_case(case, ["numpy"])
    outcome = report.outcomes[name]
    assert outcome.status == ERROR
    assert outcome.reason.startswith(f"port {name!r} (broken_ports.py:{function}) on case one_dense: ")
    for text in expected:
        assert text in outcome.reason, outcome.reason
    assert "harness/ports/" not in outcome.reason and "runner.py" not in outcome.reason, "no harness traceback"
    assert {r.verdict for r in report.checks if r.framework == name} == {ERROR}
    assert {r.verdict for r in report.checks if r.framework == "numpy"} == {PASS}, "the others still run"


def test_an_import_error_names_the_file_and_the_line(tmp_path):
    (tmp_path / "broken_import.py").write_text("import numpy as np\nimport no_such_module_xyz\n")
    case = cases_from_data(ONE_DENSE)[0].with_ports(parse_ports(["imp=broken_import.py:predict"], tmp_path))
    report = run_case(case, ["numpy"])
    reason = report.outcomes["imp"].reason
    assert "importing broken_import.py failed: ModuleNotFoundError: No module named 'no_such_module_xyz'" in reason
    assert 'broken_import.py", line 2' in reason
    assert report.outcomes["numpy"].result is not None


def test_a_declared_dtype_the_outputs_do_not_have_is_an_error():
    case, name = with_port(cases_from_data(ONE_DENSE)[0], "f64=broken_ports.py:float64_outputs,dtype=float32")
    reason = run_case(case, ["numpy"]).outcomes[name].reason
    assert "output 'dense' is float64, but the port computes in float32 (its declared dtype)" in reason


def test_a_port_receives_only_the_optional_arguments_it_names():
    case, name = with_port(cases_from_data(ONE_DENSE)[0], "extras=broken_ports.py:extras")
    verdicts = {r.check: r.verdict for r in run_case(case, ["numpy"]).checks if r.framework == name}
    assert verdicts == {"forward": PASS, "intermediates": NOT_RETURNED}  # it returns no layer outputs


PROGRAMS = {
    "exit_3": (["{python}", "-c", "import sys; print('no weights here', file=sys.stderr); sys.exit(3)"],
               ["its command exited with status 3", "stderr:", "no weights here"]),
    "sleeps": (["{python}", "-c", "import time; time.sleep(30)"],
               ["its command did not finish in 1 s (the port's `timeout`)"]),
    "no_outputs": (["{python}", "-c", "pass"],
                   ["its command wrote no outputs file", "expected: an .npz file at the path given by {outputs}"]),
    "wrong_key": (["{python}", "-c", "import sys, numpy; numpy.savez(sys.argv[1], y=numpy.zeros((8, 2), 'float32'))",
                   "{outputs}"],
                  ["its outputs file has unknown keys ['y']", "expected: output:<name> (or <name>)"]),
    "misshapen": (["{python}", "-c", "import sys, numpy; numpy.savez(sys.argv[1], dense=numpy.zeros((8, 3), 'float32'))",
                   "{outputs}"],
                  ["output 'dense' has shape [8, 3]", "expected: [8, 2]"]),
    "not_npz": (["{python}", "-c", "import sys; open(sys.argv[1], 'w').write('text')", "{outputs}"],
                ["its outputs file cannot be read as .npz"]),
    "no_program": (["./no_such_program"], ["its command could not be started"]),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_a_broken_external_program_is_an_error_with_its_stderr(name):
    command, expected = PROGRAMS[name]
    # 1 s for the one that must time out; the others import numpy, which alone took 1.2 s on a
    # loaded 2-core machine: a 1 s limit made them time out instead of failing as they should.
    timeout = 1 if name == "sleeps" else 30
    data = {**ONE_DENSE, "ports": [{"name": name, "command": command, "timeout": timeout}]}
    case = cases_from_data(data, file=str(PORTS / "memory.yaml"))[0]
    report = run_case(case, ["numpy"])
    reason = report.outcomes[name].reason
    assert report.outcomes[name].status == ERROR
    assert reason.startswith(f"port {name!r} ("), reason
    assert "on case one_dense: " in reason
    for text in expected:
        assert text in reason, reason
    assert {r.verdict for r in report.checks if r.framework == "numpy"} == {PASS}


def test_an_external_program_returns_gradients_and_training_steps_through_npz_keys():
    """grad:<parameter>, grad:input:<name>, loss@step<k>, <parameter>@step<k> (harness/ports/returns.py)."""
    case, name = with_port(case_file("port_mlp_training.yaml"),
                           f"script=command:{sys.executable} mlp_script.py {{inputs}} {{weights}} {{targets}} {{outputs}}")
    results = verdicts(case, name)
    assert {check: r.verdict for check, r in results.items()} == {
        "forward": PASS, "intermediates": PASS, "gradients": PASS, "training": PASS}, \
        {check: r.message or r.reason for check, r in results.items()}
    assert {t.step for t in results["training"].tensors} == set(range(1, 7))


def test_an_external_program_that_is_not_installed_is_skipped_with_the_reason():
    data = {**ONE_DENSE, "ports": [{"name": "rust", "command": ["no-such-compiler-xyz", "{inputs}"]}]}
    case = cases_from_data(data, file=str(PORTS / "memory.yaml"))[0]
    report = run_case(case, ["numpy"])
    assert report.outcomes["rust"].status == SKIPPED
    assert "its command program 'no-such-compiler-xyz' is not installed here" in report.outcomes["rust"].reason


# --- the shipped ports pass ---------------------------------------------------------------------

SHIPPED = {
    "port_lstm_numpy.yaml": {"lstm_numpy": {"gradients"}},  # it returns no gradients: not-returned
    "port_mlp_training.yaml": {"mlp_numpy": set()},
    "port_external_programs.yaml": {"c_port": set(), "script_port": set()},
}


@pytest.mark.parametrize("file", list(SHIPPED))
def test_the_shipped_ports_pass(file):
    case = case_file(file)
    if file == "port_lstm_numpy.yaml":
        backend_or_skip("keras")  # weights_as keras: Keras builds the model the names come from
    if file == "port_external_programs.yaml" and shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on PATH: the C port cannot be built here")
    runner = CaseRunner(case)
    for name, skipped in SHIPPED[file].items():
        for check in runner.checks():
            result = runner.check(name, check)
            assert result.verdict == (NOT_RETURNED if check in skipped else PASS), (name, check, result.message)
            if result.verdict == NOT_RETURNED:
                assert f"port {name} returns no {check}" in result.reason


def test_the_shortest_path_of_the_readme(tmp_path, capsys):
    """README and docs/ports.md, Check your own port: one --port against a shipped case; the port returns only the
    output, so it passes forward and the article's known value, and says what it did not return."""
    status = main(["run", str(CASES / "seed000_dense_tanh.yaml"), "--frameworks", "numpy", "--out", str(tmp_path),
                   "--port", f"mine={CASES / 'ports' / 'dense_tanh.py'}:predict"])
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["seed000_dense_tanh.single_point", "numpy:pass",
                                "mine:pass(not-returned:intermediates,gradients)"]
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    assert any(r["framework"] == "mine" and r["check"] == "known_values" and r["verdict"] == PASS for r in records)


def test_the_c_port_is_skipped_with_the_reason_where_there_is_no_compiler(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    case = case_file("port_external_programs.yaml")
    outcome = run_case(case, ["numpy"]).outcomes["c_port"]
    assert outcome.status == SKIPPED
    assert "its build program 'cc' is not installed here" in outcome.reason and "C compiler" in outcome.reason


# --- weights_as: each framework's layout, checked by ports written from its documentation -------

NATIVE = [
    ("torch", "port_mlp_training.yaml", "torch_mlp", {"forward", "intermediates", "gradients", "training"}),
    ("chainer", "port_mlp_training.yaml", "chainer_mlp", {"forward", "intermediates", "gradients", "training"}),
    ("keras", "port_mlp_training.yaml", "keras_mlp", {"forward", "intermediates", "gradients", "training"}),
    ("torch", "port_lstm_numpy.yaml", "torch_lstm", {"forward", "intermediates", "metrics"}),
    ("chainer", "port_lstm_numpy.yaml", "chainer_lstm", {"forward", "intermediates", "metrics"}),
]


@pytest.mark.parametrize("framework, file, function, passing", NATIVE, ids=[n[2] for n in NATIVE])
def test_weights_as_a_framework_layout(framework, file, function, passing):
    """Gradients and trained parameters in the framework's layout come back to the canonical one."""
    backend_or_skip(framework)
    case, name = with_port(case_file(file), f"{function}=native_ports.py:{function},weights_as={framework}")
    results = verdicts(case, name)
    assert {check for check, r in results.items() if r.verdict == PASS} == passing, \
        {check: r.message for check, r in results.items()}


def test_state_in_torch_buffer_names_comes_back_as_the_moving_statistics():
    """A training-mode BatchNorm port returns its moving statistics as torch's buffers; the
    `forward` check compares them (state:bn/moving_mean, state:bn/moving_variance)."""
    backend_or_skip("torch")
    case = next(c for c in load_cases_from_file(CASES / "batchnorm_mlp.yaml") if c.id.endswith("training_keras_conventions"))
    case, name = with_port(case, "bn=native_ports.py:torch_batchnorm_training,weights_as=torch")
    forward = verdicts(case, name)["forward"]
    assert forward.verdict == PASS, forward.message
    assert {"state:bn/moving_mean", "state:bn/moving_variance"} <= {t.tensor for t in forward.tensors}


def test_weights_as_torch_hands_the_state_dict_names_and_shapes():
    backend_or_skip("torch")
    from harness.ports.layouts import layout_for

    case = case_file("port_lstm_numpy.yaml")
    weights = layout_for("torch").to_port(case, case.weights)
    assert {key: value.shape for key, value in weights.items()} == {
        "lstm.weight_ih_l0": (64, 6), "lstm.weight_hh_l0": (64, 16), "lstm.bias_ih_l0": (64,),
        "lstm.bias_hh_l0": (64,), "next.weight": (6, 16), "next.bias": (6,)}
    assert not weights["lstm.bias_hh_l0"].any()  # the second bias, held at zero
    np.testing.assert_array_equal(weights["next.weight"], case.weights["next/kernel"].T)


def test_gradients_keyed_by_unknown_names_are_an_error():
    backend_or_skip("torch")
    case, name = with_port(case_file("port_mlp_training.yaml"), "t=native_ports.py:chainer_mlp,weights_as=torch")
    reason = run_case(case, ["numpy"]).outcomes[name].reason
    assert "the function raised KeyError: 'hidden/W'" in reason


def test_a_keras_list_of_the_wrong_length_is_an_error():
    backend_or_skip("keras")
    case, name = with_port(cases_from_data(ONE_DENSE)[0], "k=broken_ports.py:keras_list_too_long,weights_as=keras")
    reason = run_case(case, ["numpy"]).outcomes[name].reason
    assert "its gradients are not keyed like its weights" in reason
    assert "gradients: a list of 3 arrays; expected 2 (model.get_weights() order: [0] dense/kernel, [1] dense/bias)" in reason


def test_a_layout_whose_framework_is_missing_skips_the_port(monkeypatch):
    import harness.weights.native_weights as native_weights
    from harness.backends import UnavailableBackend

    monkeypatch.setattr(native_weights, "get_backend",
                        lambda name: UnavailableBackend(name, f"{name} is not installed (pip install {name})"))
    case, name = with_port(case_file("port_mlp_training.yaml"), "t=native_ports.py:torch_mlp,weights_as=torch")
    outcome = run_case(case, ["numpy"]).outcomes[name]
    assert outcome.status == SKIPPED
    assert "weights_as torch: torch weights need torch itself" in outcome.reason
    assert "torch is not installed (pip install torch)" in outcome.reason


NPZ_PORTS = {
    # weights.npz as the framework lays them out: Keras' get_weights() list as arr_0, arr_1, ...;
    # chainer's names, with their slashes, as keys (W is (out, in): chainer/links/connection/linear.py)
    "keras": "w = np.load(sys.argv[2]); kernel, bias = w['arr_0'], w['arr_1']",
    "chainer": "w = np.load(sys.argv[2]); kernel, bias = w['dense/W'].T, w['dense/b']",
}


@pytest.mark.parametrize("framework", list(NPZ_PORTS))
def test_an_external_program_reads_a_framework_layout_from_the_weights_file(framework):
    backend_or_skip(framework)
    script = ("import sys; import numpy as np; x = np.load(sys.argv[1])['x']; " + NPZ_PORTS[framework]
              + "; np.savez(sys.argv[3], dense=np.tanh(x @ kernel + bias))")
    data = {**ONE_DENSE, "ports": [{"name": "npz", "weights_as": framework,
                                    "command": ["{python}", "-c", script, "{inputs}", "{weights}", "{outputs}"]}]}
    case = cases_from_data(data, file=str(PORTS / "memory.yaml"))[0]
    report = run_case(case, ["numpy"])
    assert {r.check: r.verdict for r in report.checks if r.framework == "npz"} == \
        {"forward": PASS, "intermediates": NOT_RETURNED}, report.outcomes["npz"].reason


def test_outputs_in_another_dtype_than_the_cases_are_refused_with_what_to_do():
    case, name = with_port(cases_from_data(ONE_DENSE)[0], "f64=broken_ports.py:float64_outputs")
    reason = run_case(case, ["numpy"]).outcomes[name].reason
    assert "output 'dense' is float64, but the port computes in float32 (the case's dtype" in reason
    assert "declare the port's `dtype` (--port ...,dtype=float64)" in reason


def test_a_port_declared_float64_gets_float64_and_float64_tolerances():
    case, name = with_port(cases_from_data(ONE_DENSE)[0], "f64=broken_ports.py:right,dtype=float64")
    report = run_case(case, ["numpy"])
    assert report.outcomes[name].result.dtype == "float64"
    forward = next(r for r in report.checks if r.framework == name and r.check == "forward")
    assert forward.verdict == PASS and forward.tensors[0].rtol == 1e-7


def test_expected_differences_may_name_a_port():
    data = {**THREE_DENSE,
            "ports": [{"name": "nobias", "python": "wrong_ports.py:dense_missing_bias"}],
            "expected_differences": [{"frameworks": ["nobias"], "reason": "the microcontroller build drops the last bias"}]}
    case = cases_from_data(data, file=str(PORTS / "memory.yaml"))[0]
    checks = [r for r in run_case(case, ["numpy"]).checks if r.framework == "nobias"]
    assert {r.verdict for r in checks} == {"expected-difference"}
    assert all(r.reason == "the microcontroller build drops the last bias" for r in checks)


def test_expected_differences_naming_an_unknown_port_is_a_case_error():
    from harness.common.errors import CaseError

    data = {**THREE_DENSE, "expected_differences": [{"frameworks": ["mine"], "reason": "x"}]}
    with pytest.raises(CaseError, match="unknown framework or port 'mine'"):
        cases_from_data(data)


def test_a_command_line_port_under_xdist_gives_the_same_report_as_one_process(tmp_path):
    """The controller loads the workers' cases again from their files: with the same --port."""
    pytest.importorskip("xdist")
    from tests.test_pytest_plugin import comparable, matrix, run_pytest

    port = f"mine={CASES / 'ports' / 'dense_tanh.py'}:predict"
    single, parallel = matrix(tmp_path, "single"), matrix(tmp_path, "parallel")
    one = run_pytest(single, "-p", "no:xdist", "--port", port)
    two = run_pytest(parallel, "-n", "2", "--dist", "loadfile", "--port", port)
    # seed000's network is dense_tanh.py's; on the other cases the port's weights do not fit: errors
    assert one.returncode == two.returncode == 1, one.stdout + one.stderr + two.stdout + two.stderr
    first = json.loads((single / "reports" / "results.json").read_text())
    second = json.loads((parallel / "reports" / "results.json").read_text())
    assert "mine" in first["ports"] and second["ports"] == first["ports"]
    assert comparable(second, parallel)["records"] == comparable(first, single)["records"]
    assert second["summary"] == first["summary"]
    seed000 = [r for r in second["records"] if r["framework"] == "mine" and r["case"].startswith("seed000")]
    assert seed000 and {r["verdict"] for r in seed000 if r["check"] == "forward"} == {PASS}


def test_a_ports_own_tolerance_applies_to_it_alone():
    """A port may state its own tolerance, with the reason (here loose enough to let a forgotten
    bias through: the bound is the user's statement, and the report shows it); the frameworks
    keep theirs."""
    tolerance = {"forward": {"rtol": 0.0, "atol": 2.0, "reason": "a deliberately loose bound for this test"}}
    data = {**THREE_DENSE, "checks": ["forward"],
            "ports": [{"name": "nobias", "python": "wrong_ports.py:dense_missing_bias", "tolerance": tolerance}]}
    case = cases_from_data(data, file=str(PORTS / "memory.yaml"))[0]
    runner = CaseRunner(case)
    assert runner.check("nobias", "forward").verdict == PASS
    assert runner.tolerance("forward", "nobias").atol == 2.0
    assert runner.tolerance("forward", "numpy").atol == 1e-5
