"""Campaigns: many generated cases run on local worker processes or a Dask cluster, each result
written as it completes, findings grouped and shrunk (docs/discovery.md: Finding differences nobody
listed). Apart from tests/test_discovery.py (generator, shrinker, reproducers) so that the two
files, each about half a minute of worker processes and subprocesses, run side by side under
`pytest -n auto --dist loadfile`."""

from __future__ import annotations

import pytest

from tests.test_discovery import inject_torch_fault, require


@pytest.mark.parametrize("dask", [False, True], ids=["processes", "dask-localcluster"])
def test_a_small_campaign_writes_each_result_and_resumes(tmp_path, dask):
    """Six cases on two local processes (numpy and torch: a real framework imported in spawned
    workers) or a 2-worker Dask LocalCluster (numpy alone: what is Dask's here is the executor,
    and each Dask worker importing torch cost this test 10 s); run again into the same
    directory, it runs nothing twice."""
    from harness.discovery.campaign.executors import DaskExecutor, LocalExecutor
    from harness.discovery.campaign.run import run_campaign

    if dask:
        pytest.importorskip("distributed")
    else:
        require("torch")
    frameworks = ("numpy",) if dask else ("numpy", "torch")

    def executor():
        return DaskExecutor(2, frameworks) if dask else LocalExecutor(2, frameworks)

    out = tmp_path / "campaign"
    # Shrinking through the executor is covered by the processes variant; on Dask it doubled
    # this test's time (13 s) without exercising anything of Dask's that running does not.
    summary = run_campaign(11, 6, out, frameworks=frameworks, executor=executor(), echo=lambda _: None,
                           shrink_findings=not dask)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 6 and summary["cases"] == 6
    assert (out / "index.html").read_text().count("<h1>") == 1
    assert len(list((out / "cases").glob("*.yaml"))) == 6
    again = run_campaign(11, 6, out, frameworks=frameworks, executor=executor(), echo=lambda _: None,
                         shrink_findings=not dask)
    assert len((out / "results.jsonl").read_text().splitlines()) == 6
    assert again["cases"] == 6


def test_findings_are_deduplicated_by_framework_check_kind_and_hint(tmp_path):
    from harness.discovery.campaign.run import Store, collect_findings, key_of

    store = Store(tmp_path)
    failure = {"framework": "torch", "check": "gradients", "verdict": "fail", "kind": "Conv2D", "layer": "c",
               "hint": "", "message": "m"}
    for name, hint in [("a", ""), ("b", ""), ("c", "transposed kernel")]:
        store.append("results.jsonl", {"name": name, "layers": 2, "failures": [
            {"primary": {**failure, "hint": hint}, "also": []}]})
    findings = collect_findings(store)
    assert sorted(len(f.cases) for f in findings) == [1, 2]
    assert key_of({**failure, "hint": "transposed kernel"}) == "torch|gradients|Conv2D|transposed kernel"


def crash_on_b(payload):
    """A task that kills its worker process for the case named 'b' (as a native crash would)."""
    import os

    if payload["name"] == "b":
        os._exit(1)
    return {"name": payload["name"], "failures": []}


def test_a_worker_crash_loses_no_other_result_and_names_the_crashing_case():
    from harness.discovery.campaign.executors import LocalExecutor

    payloads = [{"name": name, "frameworks": ["numpy"]} for name in "abcdef"]
    with LocalExecutor(2, ("numpy",)) as executor:
        results = list(executor.run(crash_on_b, payloads))
    by_name = {r["name"]: r for r in results}
    assert sorted(by_name) == list("abcdef")
    assert by_name["b"].get("crashed") and "numpy" in by_name["b"]["error"]
    assert not any(by_name[name].get("crashed") or by_name[name].get("lost") for name in "acdef")


def test_a_difference_of_meaning_survives_float64_and_float32_rounding_does_not(monkeypatch):
    """The campaign's `suspect`: the minimal case is run again in float64. The torch
    LayerNormalization input gradient the seed-0 campaign met (two features, epsilon 2^-16: a
    cancellation to about 2e-5) is outside float32's tolerance and agrees in float64; the same
    case with a fault injected into the torch builder (output + 0.01) fails in float64 too."""
    require("torch")
    from harness.discovery.campaign.report import suspect
    from harness.discovery.campaign.tasks import precision_checks
    from harness.discovery.shrink import failure_in

    data = {"name": "rounding", "dtype": "float32", "samples": 1, "data_seed": 922,
            "inputs": {"x": {"shape": [2], "data": {"normal": {"mean": 0.0, "std": 2.0}}}},
            "targets": {"t": {"shape": [2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "model": {"sequential": [{"type": "LayerNormalization", "name": "norm", "epsilon": 1.52587890625e-05}]},
            "weights": {"seed": 690}, "loss": {"type": "mean_squared_error", "reduction": "mean"},
            "checks": ["forward", "intermediates", "gradients"]}
    failure = failure_in(data, "torch", None)
    assert (failure.check, failure.kind) == ("gradients", "LayerNormalization")
    checks = precision_checks(data, "torch", "gradients")
    assert checks == {"numpy_fails": False, "float64": "passes"}
    assert suspect(failure.to_json(), 0, checks).startswith("float32 rounding")

    inject_torch_fault(monkeypatch, "LayerNormalization", 0.01)
    failure = failure_in(data, "torch", None)
    checks = precision_checks(data, "torch", failure.check)
    assert checks == {"numpy_fails": False, "float64": "fails"}
    assert suspect(failure.to_json(), 0, checks) == "difference"


def test_errors_are_one_finding_per_clause_whatever_the_sizes():
    from harness.discovery.findings import error_clause

    sizes = [error_clause(f"Computed output size would be zero or negative. Received `inputs shape=(None, {n}, 1)`")
             for n in "12"]
    assert sizes[0] == sizes[1] == "Computed output size would be zero or negative"
    assert error_clause("Argument `output` must have rank (ndim) `target.ndim - N`. Received") \
        == "Argument `output` must have rank"
