"""results.json: one record per case, framework, check and tensor, with every figure and the
verdict; plus, per case, how each framework built each layer and what each run cost.

The report writes it beside the HTML pages (harness/report/site.py, which replaces the whole
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

from harness.runner import VERDICTS, CaseReport, CheckResult

SCHEMA_VERSION = 1


def check_records(check: CheckResult) -> list[dict[str, Any]]:
    """Flatten one check into a record per tensor (one record without a tensor if none)."""
    common = {"case": check.case, "framework": check.framework, "check": check.check,
              "against": check.against, "verdict": check.verdict, "reason": check.reason,
              "message": check.message}
    if not check.tensors:
        return [{**common, "tensor": None}]
    records = []
    for tensor in check.tensors:
        record = {**common, **tensor.to_dict()}
        record["tensor_verdict"] = "pass" if tensor.passed else "fail"
        records.append(record)
    return records


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
        "frameworks": {
            name: {
                "status": outcome.status,
                "reason": outcome.reason,
                "seconds": outcome.seconds,
                "implementations": {layer: asdict(impl) for layer, impl in
                                    (outcome.result.implementations.items() if outcome.result else [])},
            }
            for name, outcome in report.outcomes.items()
        },
    }


def build_results(reports: list[CaseReport], *, environment: dict[str, Any], command: str,
                  frameworks: list[str], seconds: float, load_errors: list[str]) -> dict[str, Any]:
    checks = [check for report in reports for check in report.checks]
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "frameworks": frameworks,
        "seconds": seconds,
        "environment": environment,
        "summary": summarise(checks),
        "load_errors": load_errors,
        "cases": [case_summary(report) for report in reports],
        "records": [record for report in reports for check in [*report.checks, *report.pairwise]
                    for record in check_records(check)],
    }


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
    return json.dumps(results, indent=1, allow_nan=False, default=str)


def write_results(path: Path, results: dict[str, Any]) -> None:
    write_atomically(path, results_json(results))
