"""Loading a case file is bounded and never ends a run: each broken kind the issue-26 probe found
is a CaseError naming the file (and the field where there is one), within a stated limit, and
a directory holding good and broken files is run and reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.weights import load_cases_from_file
from harness.common.errors import CaseError

ROOT = Path(__file__).parents[1]

GOOD = """\
name: {name}
inputs:
  x: {{shape: [2], data: {{uniform: {{low: 0.0, high: 1.0}}}}}}
targets:
  t: {{shape: [1], data: {{uniform: {{low: 0.0, high: 1.0}}}}}}
samples: 4
model:
  sequential:
    - {{type: Dense, units: 1}}
loss: {{type: mean_squared_error, reduction: mean}}
"""


def alias_bomb() -> str:
    """Nine levels of nine aliases: 9^9 values once expanded, from about 550 bytes."""
    lines = ["a0: &a0 [" + ", ".join(["1.0"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return GOOD.format(name="bomb") + "\n".join(lines) + "\n"


BROKEN: dict[str, tuple[bytes, str, str | None]] = {
    # file name: (content, text the error must hold, field the error must name)
    "non_utf8.yaml": (b"\xff\xfe", "not UTF-8", None),
    "deep.yaml": (("name: deep\nx: " + "[" * 5000 + "]" * 5000 + "\n").encode(), "nested more than", None),
    "bomb.yaml": (alias_bomb().encode(), "aliases", None),
    "inf_bound.yaml": (GOOD.format(name="inf").replace("high: 1.0}}}\ntargets", "high: .inf}}}\ntargets")
                       .encode(), "finite", "inputs.x.data.uniform.high"),
    "ragged.yaml": (GOOD.format(name="ragged").replace("x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}",
                                                       "x: {data: {values: [[0.1, 0.2], [0.3]]}}")
                    .replace("samples: 4\n", "").encode(), "ragged", "inputs.x.data.values"),
    "string_values.yaml": (GOOD.format(name="strings").replace(
        "x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}", "x: {data: {values: [['a', 'b']]}}")
        .encode(), "numbers", "inputs.x.data.values"),
    "null_values.yaml": (GOOD.format(name="nulls").replace(
        "x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}", "x: {data: {values: [[null, null]]}}")
        .encode(), "null", "inputs.x.data.values"),
    "doubled_brace.yaml": (GOOD.format(name="brace").replace("loss: {type: mean_squared_error, reduction: mean}",
                                                             "loss: {{type: mean_squared_error}: 1}").encode(),
                           "loss", "loss"),
    "huge_samples.yaml": (GOOD.format(name="huge").replace("samples: 4", "samples: 1000000000000").encode(),
                          "elements", "samples"),
    "huge_units.yaml": (GOOD.format(name="units").replace("units: 1}", "units: 1}\n    - {type: Dense, units: 100000000}")
                        .encode(), "elements", "weights"),
    "infinite_tolerance.yaml": ((GOOD.format(name="tol") + "tolerance: {rtol: .inf, atol: 0.0}\n").encode(),
                                "finite", "tolerance"),
    "infinite_learning_rate.yaml": ((GOOD.format(name="lr") + "optimizer: {type: sgd, learning_rate: .inf}\n"
                                     "training: {steps: 1, batch_size: 4}\n").encode(),
                                    "finite", "optimizer"),
    "nan_input_values.yaml": (GOOD.format(name="nan_in").replace(
        "x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}", "x: {data: {values: [[.nan, 1.0]]}}")
        .replace("samples: 4\n", "").encode(), "not finite", "inputs.x.data"),
    "nan_expression.yaml": (GOOD.format(name="nan_expr").replace(
        "t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}", "t: {data: {expression: \"log(x[:, :1] - 2.0)\"}}")
        .encode(), "not finite", "targets.t.data"),
    "nan_weights.yaml": ((GOOD.format(name="nan_w") + "weights:\n  parameters:\n    dense/kernel: {values: "
                          "[[.nan], [1.0]]}\n").encode(), "not finite", "weights.parameters.dense/kernel"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_kind_is_a_case_error_with_file_and_field(tmp_path, name):
    content, text, field = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(content)
    started = time.perf_counter()
    with pytest.raises(CaseError) as info:
        load_cases_from_file(path)
    rendered = info.value.render()
    assert str(path) in rendered and text in rendered, rendered
    if field is not None:
        assert f": {field}" in rendered, rendered
    assert time.perf_counter() - started < 15  # the bomb hung, the deep file took 25 s


def test_a_file_past_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text(GOOD.format(name="big") + "# " + "x" * 200_000 + "\n")
    with pytest.raises(CaseError, match="bytes long"):
        load_cases_from_file(path)
    monkeypatch.setenv("HARNESS_MAX_CASE_BYTES", "1000000")
    assert len(load_cases_from_file(path)) == 1


def test_the_element_limit_is_a_stated_flag(tmp_path, monkeypatch):
    path = tmp_path / "case.yaml"
    path.write_text(GOOD.format(name="small"))
    monkeypatch.setenv("HARNESS_MAX_ELEMENTS", "5")
    with pytest.raises(CaseError) as info:
        load_cases_from_file(path)
    assert "HARNESS_MAX_ELEMENTS" in info.value.render() and "--max-elements" in info.value.render()


def test_duplicate_names_name_both_files(tmp_path):
    from harness.entry.session import load_all

    for stem in ("first", "second"):
        (tmp_path / f"{stem}.yaml").write_text(GOOD.format(name="same"))
    cases, errors = load_all([tmp_path])
    assert len(cases) == 1 and len(errors) == 1
    assert "first.yaml" in errors[0] and "second.yaml" in errors[0]


def broken_directory(tmp_path: Path) -> Path:
    cases = tmp_path / "cases"  # the pytest plugin collects YAML directly inside a cases/ directory
    cases.mkdir()
    (cases / "good_a.yaml").write_text(GOOD.format(name="good_a"))
    (cases / "good_b.yaml").write_text(GOOD.format(name="good_b"))
    (cases / "zz_duplicate.yaml").write_text(GOOD.format(name="good_a"))
    for name, (content, _, _) in BROKEN.items():
        if name != "deep.yaml":  # 5000 brackets cost seconds to scan; the unit test above has it
            (cases / name).write_bytes(content)
    return cases


def environment() -> dict[str, str]:
    # Not `python -I`: this worktree's harness must be the one imported.
    return {**os.environ, "PYTHONPATH": str(ROOT), "SETUPTOOLS_USE_DISTUTILS": "stdlib"}


def test_a_run_over_good_and_broken_files_reports_the_good_ones(tmp_path):
    cases = broken_directory(tmp_path)
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(cases), "--frameworks", "numpy",
                           "--no-strength", "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT, env=environment(), timeout=300)
    assert done.returncode != 0, done.stdout  # the broken files are errors of the run
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert sorted(case["id"] for case in results["cases"]) == ["good_a", "good_b"]
    errors = "\n".join(results["load_errors"])
    for name in [*BROKEN, "zz_duplicate.yaml"]:
        if name != "deep.yaml":
            assert name in errors, name


def test_pytest_over_good_and_broken_files_runs_the_good_items(tmp_path):
    cases = broken_directory(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pytest", str(cases), "-p", "harness.entry.pytest_plugin",
                           "-p", "no:randomly", "-p", "no:cacheprovider", "-n", "0", "-q",
                           "--frameworks", "numpy", "--harness-report", "none", "--rootdir", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=environment(), timeout=300)
    output = done.stdout + done.stderr
    assert "INTERNALERROR" not in output and "Traceback" not in output, output
    assert "not UTF-8" in output and "aliases" in output  # the collection errors show the message
    assert done.returncode == 1, output  # failures, not an interrupted collection (2) or INTERNALERROR (3)
    summary = output.strip().splitlines()[-1]
    broken = len(BROKEN) - 1 + 1  # every broken kind but the deep file, and the duplicate name
    assert f"{broken} failed" in summary and "passed" in summary, summary


def nonfinite_case(values: str) -> list:
    from harness.weights import cases_from_data

    text = GOOD.format(name="nan_case").replace("x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}",
                                                f"x: {{data: {{values: {values}}}}}").replace("samples: 4\n", "")
    text = text.replace("t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}",
                        "t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}\nsamples: 2")
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(text)
    data["nonfinite"] = "tests that NaN inputs propagate as NaN in every framework"
    return cases_from_data(data)


def test_nan_agreement_is_reported_as_such_never_a_plain_pass():
    from harness.checks.runner import CaseRunner

    (case,) = nonfinite_case("[[.nan, 1.0], [0.5, 0.25]]")
    result = CaseRunner(case).check("numpy", "forward")
    assert result.verdict == "pass" and result.message.startswith("NaN agrees"), result.message
    assert "tests that NaN inputs propagate" in result.message


def test_a_reference_that_is_nan_everywhere_is_an_error_of_the_case():
    from harness.checks.runner import CaseRunner

    (case,) = nonfinite_case("[[.nan, 1.0], [.nan, 0.25]]")
    result = CaseRunner(case).check("numpy", "forward")
    assert result.verdict == "error" and "NaN or inf everywhere" in result.message, result.message


def test_whole_number_values_become_floats_unless_a_layer_takes_indices(tmp_path):
    path = tmp_path / "ints.yaml"
    path.write_text(GOOD.format(name="ints").replace(
        "x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}", "x: {data: {values: [[1, 2], [3, 4]]}}")
        .replace("samples: 4\n", ""))
    (case,) = load_cases_from_file(path)
    assert case.dataset.inputs["x"].dtype == "float32" and case.dataset.inputs["x"].tolist() == [[1, 2], [3, 4]]
    embedding = load_cases_from_file(ROOT / "cases" / "discovered_keras_sparse_embedding_updates.yaml")
    assert all(case.dataset.inputs["x"].dtype == "int64" for case in embedding)


def test_whole_number_target_values_must_say_what_they_are(tmp_path):
    path = tmp_path / "int_targets.yaml"
    path.write_text(GOOD.format(name="ints").replace(
        "t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}", "t: {data: {values: [[1], [0], [1], [0]]}}"))
    with pytest.raises(CaseError, match="class indices or values"):
        load_cases_from_file(path)


def test_the_security_page_lists_every_limit_with_its_default_and_variable():
    from harness.case.limits import LIMITS

    page = (ROOT / "docs" / "security.md").read_text()
    for limit in LIMITS:
        row = next(line for line in page.splitlines() if line.startswith(f"| {limit.what} |"))
        assert f"| {limit.default:,} |" in row and f"`{limit.environment}=N`" in row, limit.name
        if limit.flag:
            assert f"`{limit.flag} N`" in row
