"""results.json: one record per case, framework, check and tensor, with every figure and the
verdict; plus, per case, how each framework built each layer and what each run cost. A case's
ports (harness/ports/) are backends like the frameworks: their records carry the port's name as
`framework`, `cases[i].frameworks` has their outcomes, `cases[i].ports` what each one is, and
the top-level `ports` lists every port of the run (the report's extra columns).

The report writes it beside the HTML pages (harness/output/report/site.py, which replaces the whole
report directory at once); `write_results` writes it alone, atomically (a temporary file, then
a rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.audit.strength import strength_totals
from harness.checks.runner import VERDICTS, CaseReport, CheckResult
from harness.common.compare import _finite
from harness.reference.metrics import differing_predictions

SCHEMA_VERSION = 2
"""2: the verdict `not-returned` (a check a port returns no tensors for; counted apart from
`skipped`), `search` on failed checks without a hint (harness/diagnosis/hints.py),
`cases[i].frameworks.<name>.execution_paths` (the machine-dependent decisions each run took:
harness/backends/base.py `ExecutionPath`; docs/environment.md) and the environment's
`execution_paths` (every one the run took, by framework, with its cases); a shipped runtime's
`cases[i].frameworks.<name>.artifact` (the exported model the report keeps, `artifacts/...`),
where `python -m harness run` copied it."""


def check_records(check: CheckResult) -> list[dict[str, Any]]:
    """Flatten one check into a record per tensor (one record without a tensor if none)."""
    common = {"case": check.case, "framework": check.framework, "check": check.check,
              "against": check.against, "verdict": check.verdict, "reason": check.reason,
              "message": check.message, "hint": check.hint,
              "search": check.search, "backward_divergence": check.backward_divergence,
              "gate_table": check.gate_table}
    if not check.tensors:
        return [{**common, "tensor": None}]
    records = []
    for tensor in check.tensors:
        record = {**common, **tensor.to_dict()}
        record["tensor_verdict"] = "pass" if tensor.passed else "fail"
        records.append(record)
    return records


def training_divergence(check: CheckResult) -> dict[str, list]:
    """Per step of one training check: |loss difference|, the largest |parameter difference|
    (absolute, and relative to the other side) and the largest |moving statistic difference|
    (None without such state), for the report's divergence plot."""
    steps = sorted({t.step for t in check.tensors if t.step is not None})
    series: dict[str, list] = {"steps": steps, "loss": [], "parameters": [], "parameters_relative": [],
                               "state": []}
    for step in steps:
        tensors = [t for t in check.tensors if t.step == step and not t.note]
        loss = [t.max_abs_error for t in tensors if t.kind == "training_loss"]
        parameters = [t for t in tensors if t.kind == "training_parameter"]
        series["loss"].append(loss[0] if loss else None)
        series["parameters"].append(max((t.max_abs_error for t in parameters), default=None))
        series["parameters_relative"].append(max((t.max_rel_error for t in parameters), default=None))
        series["state"].append(max((t.max_abs_error for t in tensors if t.kind == "training_state"), default=None))
    return _finite(series)  # JSON has no nan or inf


def training_summary(report: CaseReport) -> dict[str, Any] | None:
    """What the case trains, how each framework built its optimizer, and the per-step divergence
    of each framework from the reference (and of each pair of frameworks)."""
    spec = report.case.spec
    if spec.training is None:
        return None
    implementations = {}
    for name, outcome in report.outcomes.items():
        trace = outcome.result.training if outcome.result is not None else None
        if trace is not None and trace.optimizer is not None:
            implementations[name] = asdict(trace.optimizer)
        elif trace is not None:
            implementations[name] = {"implementation": trace.status, "detail": trace.reason.splitlines()[0]
                                     if trace.reason else ""}
    checks = [c for c in report.checks if c.check == "training" and c.tensors]
    return {
        "optimizer": spec.optimizer.describe(),
        "steps": spec.training.steps,
        "batch_size": spec.training.batch_size,
        "implementations": implementations,
        "divergence": {c.framework: training_divergence(c) for c in checks},
        "pairwise_divergence": {f"{c.framework} vs {c.against}": training_divergence(c)
                                for c in report.pairwise if c.check == "training"},
    }


def case_summary(report: CaseReport) -> dict[str, Any]:
    case = report.case
    return {
        "id": case.id,
        "file": str(case.file),
        "description": case.spec.description.strip(),
        "dtype": case.spec.dtype,
        "mode": case.spec.mode,
        "samples": case.dataset.samples,
        "checks": list(case.spec.checks),
        "reference_seconds": report.reference_seconds,
        "strength": report.strength,
        "frameworks": {
            name: {
                "status": outcome.status,
                "reason": outcome.reason,
                "seconds": outcome.seconds,
                "implementations": {layer: asdict(impl) for layer, impl in
                                    (outcome.result.implementations.items() if outcome.result else [])},
                "execution_paths": [path.to_dict() for path in
                                    (outcome.result.execution_paths if outcome.result else [])],
                **({"artifact": outcome.artifact} if outcome.artifact else {}),
            }
            for name, outcome in report.outcomes.items()
        },
        "training": training_summary(report),
        "ports": {port.name: port.describe() for port in case.ports},
        "metrics": metrics_summary(report),
    }


def metrics_summary(report: CaseReport) -> dict[str, Any] | None:
    """Each metric's value per backend that ran (and the reference's), how each backend computed
    it, and the positions where the backends' predictions differ."""
    case = report.case
    if not case.metrics:
        return None
    ran = {name: outcome.result for name, outcome in report.outcomes.items() if outcome.result is not None}
    results = {**({"reference": report.reference} if report.reference is not None else {}), **ran}
    summary: dict[str, Any] = {"metrics": [], "differing_predictions": []}
    for metric in case.metrics:
        summary["metrics"].append({
            "name": metric.label, "type": metric.type, "description": metric.describe(),
            "output": case.metric_output(metric), "target": case.metric_target(metric), "counted": metric.counted,
            "values": {name: float(result.metrics[metric.label]) for name, result in results.items()
                       if metric.label in result.metrics},
            "implementations": {name: asdict(result.implementations[f"metric:{metric.label}"])
                                for name, result in ran.items() if f"metric:{metric.label}" in result.implementations},
        })
        if report.reference is None:
            continue
        output = case.metric_output(metric)
        differing = differing_predictions(metric, report.reference.outputs[output],
                                          {name: result.outputs[output] for name, result in ran.items()
                                           if output in result.outputs},
                                          case.dataset.targets[case.metric_target(metric)])
        if differing is not None:
            summary["differing_predictions"].append(differing)
    return _finite(summary)


def run_ports(reports: list[CaseReport]) -> list[str]:
    """Every port of the run, in order of first appearance (the report's columns after the frameworks)."""
    return list(dict.fromkeys(port.name for report in reports for port in report.case.ports))


def build_results(reports: list[CaseReport], *, environment: dict[str, Any], command: str,
                  frameworks: list[str], seconds: float, load_errors: list[str],
                  defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """`defaults`: the defaults table of the run's frameworks (harness.defaults.table.for_results)."""
    checks = [check for report in reports for check in report.checks]
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "frameworks": frameworks,
        "ports": run_ports(reports),
        "seconds": seconds,
        "environment": {**environment, "execution_paths": run_execution_paths(reports)},
        "summary": summarise(checks),
        "load_errors": load_errors,
        "defaults": defaults,
        "cases": [case_summary(report) for report in reports],
        "strength": _strength_totals(reports),
        "records": [record for report in reports for check in [*report.checks, *report.pairwise]
                    for record in check_records(check)],
    }


def run_execution_paths(reports: list[CaseReport]) -> dict[str, list[dict[str, Any]]]:
    """Framework -> each distinct execution path description of the run, with the cases that
    took it (the report's environment section: "keras: Conv2D channels_first native (oneDNN)")."""
    seen: dict[str, dict[str, list[str]]] = {}
    for report in reports:
        for name, outcome in report.outcomes.items():
            for path in (outcome.result.execution_paths if outcome.result else []):
                cases = seen.setdefault(name, {}).setdefault(path.description, [])
                if report.case.id not in cases:
                    cases.append(report.case.id)
    return {name: [{"description": description, "cases": cases} for description, cases in paths.items()]
            for name, paths in seen.items()}


def _strength_totals(reports: list[CaseReport]) -> dict[str, Any] | None:
    measured = [report.strength for report in reports if report.strength is not None]
    if not measured:
        return None

    return strength_totals(measured)


def summarise(checks: list[CheckResult]) -> dict[str, int]:
    counts = Counter(check.verdict for check in checks)
    return {verdict: counts.get(verdict, 0) for verdict in VERDICTS}


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def results_json(results: dict[str, Any]) -> str:
    """Indented, but one line per record: a run over cases/ has some 17,000 records (every
    tensor of every check, pairwise comparisons, every training step), which indented field by
    field would triple the file; a line each keeps it greppable and diffable."""
    head = {key: value for key, value in results.items() if key != "records"}
    text = json.dumps(head, indent=1, allow_nan=False, default=str)
    if "records" not in results:
        return text
    lines = [json.dumps(record, allow_nan=False, default=str, separators=(",", ":"))
             for record in results["records"]]
    body = ',\n  '.join(lines)
    records = f'"records": [\n  {body}\n ]' if lines else '"records": []'
    return text[:-2] + f',\n {records}\n}}' if head else f'{{\n {records}\n}}'


def write_results(path: Path, results: dict[str, Any]) -> None:
    write_atomically(path, results_json(results))
