"""The conformance matrix: one cell per case and framework, from the check results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harness.runner import ERROR, EXPECTED, FAIL, PASS, SKIPPED

# The cell shows the most serious verdict among its checks.
SEVERITY = {ERROR: 4, FAIL: 3, EXPECTED: 2, SKIPPED: 1, PASS: 0}


@dataclass
class Cell:
    case: str
    framework: str
    verdict: str = SKIPPED
    worst_rel_error: float = float("nan")
    worst_tensor: str = ""
    checks: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def worst_text(self) -> str:
        value = self.worst_rel_error
        if isinstance(value, str):
            return value
        return "" if math.isnan(value) else f"{value:.1e}"


def build_matrix(results: dict[str, Any]) -> tuple[list[str], list[str], dict[tuple[str, str], Cell]]:
    cases = [case["id"] for case in results["cases"]]
    frameworks = list(results["frameworks"])
    cells = {(c, f): Cell(c, f) for c in cases for f in frameworks}
    seen: dict[tuple[str, str], bool] = {}
    for record in results["records"]:
        if record["against"] == "known values" or record["against"] == "reference":
            key = (record["case"], record["framework"])
            cell = cells.get(key)
            if cell is None:
                continue
            if not seen.get(key):
                cell.verdict, seen[key] = record["verdict"], True
            elif SEVERITY[record["verdict"]] > SEVERITY[cell.verdict]:
                cell.verdict = record["verdict"]
            cell.checks[record["check"]] = record["verdict"]
            if record["verdict"] in (SKIPPED, ERROR) and not cell.reason:
                text = record.get("message") or record.get("reason") or ""
                cell.reason = text.splitlines()[0] if text else ""
            if record["against"] == "reference" and record.get("tensor") is not None:
                value = _number(record.get("max_rel_error"))
                if not math.isnan(value) and (math.isnan(_number(cell.worst_rel_error)) or value > cell.worst_rel_error):
                    cell.worst_rel_error, cell.worst_tensor = value, record["tensor"]
    return cases, frameworks, cells


def _number(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
