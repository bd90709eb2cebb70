"""`python -m harness run|show|schema` end to end (numpy backend only, to stay fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.entry.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED000 = str(ROOT / "cases" / "seed000_dense_tanh.yaml")
SEED001 = str(ROOT / "cases" / "seed001_mnist_mlp.yaml")


def test_run_writes_results_and_index(tmp_path, capsys):
    assert main(["run", SEED000, "--frameworks", "numpy", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [case["id"] for case in results["cases"]] == ["seed000_dense_tanh.single_point",
                                                         "seed000_dense_tanh.uniform_batch"]
    records = [r for r in results["records"] if r["framework"] == "numpy"]
    assert {r["check"] for r in records} == {"forward", "intermediates", "gradients", "known_values"}
    record = next(r for r in records if r["tensor"] == "grad:hidden/kernel")
    for field in ("shape", "expected_shape", "dtype", "expected_dtype", "max_abs_error", "max_rel_error",
                  "mismatched", "total", "rtol", "atol", "verdict"):
        assert field in record
    assert record["shape"] == [2, 5] and record["dtype"] == "float32" and record["verdict"] == "pass"
    index = (tmp_path / "index.html").read_text()
    assert index.count('class="cell') == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["seed000_dense_tanh.single_point", "numpy:pass"]


def test_a_broken_file_is_reported_and_the_others_still_run(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nmodel: {sequential: [{type: Nope}]}\n")
    status = main(["run", str(broken), SEED000, "--frameworks", "numpy", "--out", str(tmp_path / "out")])
    assert status == 1
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results["cases"]) == 2
    assert "broken.yaml" in results["load_errors"][0]
    assert "unknown type 'Nope'" in capsys.readouterr().out


def test_unknown_framework_is_a_clear_error(tmp_path, capsys):
    assert main(["run", SEED000, "--frameworks", "tensorflow", "--out", str(tmp_path)]) == 2
    assert "unknown framework 'tensorflow'" in capsys.readouterr().err


def test_show_prints_the_keras_style_summary(capsys):
    assert main(["show", SEED001]) == 0
    out = capsys.readouterr().out
    assert "| hidden (Dense)    | (None, 128)    | 100,480 | flatten      |" in out
    assert "| classes (Dense)   | (None, 10)     |   1,290 | hidden       |" in out
    assert " Total params: 101,770" in out


def test_show_counts_a_reused_layer_once(capsys):
    assert main(["show", str(ROOT / "cases" / "seed002_functional.yaml")]) == 0
    out = capsys.readouterr().out
    assert "shared_again (Dense, reuses shared)" in out
    assert " Total params: 30\n" in out


def test_schema_check_passes_on_the_committed_schema():
    assert main(["schema", "--check"]) == 0


def test_show_reports_a_bad_file_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert main(["show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "required field is missing" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0


def test_a_framework_that_cannot_be_imported_is_skipped_with_the_reason(tmp_path):
    """Hide torch from a fresh interpreter (sys.modules[name] = None makes `import torch` fail
    as if it were not installed) and run the torch column."""
    import subprocess
    import sys

    script = ("import sys; sys.modules['torch'] = None\n"
              "from harness.entry.cli import main\n"
              f"sys.exit(main(['run', {SEED000!r}, '--frameworks', 'torch,numpy', '--out', {str(tmp_path)!r}]))")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    torch_records = [r for r in results["records"] if r["framework"] == "torch"]
    assert torch_records and {r["verdict"] for r in torch_records} == {"skipped"}
    assert "torch is not installed" in torch_records[0]["reason"]
    assert {r["verdict"] for r in results["records"] if r["framework"] == "numpy"} == {"pass"}
