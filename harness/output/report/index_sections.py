"""The built-in sections of the index page (see sections.py for the order and how to add one)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from harness.output.report.case_view import layer_settings
from harness.output.report.matrix import VERDICT_ORDER, Cell, Matrix
from harness.output.report.sections import Section, index_section
from harness.checks.runner import PASS, CaseReport


@dataclass
class IndexView:
    reports: list[CaseReport]
    results: dict[str, Any]
    """The run's results.json content."""
    matrix: Matrix

    @property
    def frameworks(self) -> list[str]:
        return self.matrix.frameworks

    def case_info(self, case_id: str) -> dict[str, Any]:
        """The case's entry in results.json (id, file, description, dtype, mode, ...)."""
        return next((case for case in self.results["cases"] if case["id"] == case_id), {})

    def layer_settings(self, case_id: str, node: str) -> str:
        """`Dense: units=4, activation=...` for a node of a case, to say what diverged."""
        report = next((r for r in self.reports if r.case.id == case_id), None)
        return layer_settings(report.case, node) if report is not None else ""


@index_section(order=10)
def matrix(view: IndexView) -> Section:
    return Section("matrix", "Conformance matrix", "sections/matrix.html.j2", data=view.matrix)


@index_section(order=20)
def disagreements(view: IndexView) -> Section | None:
    """Every cell that did not pass, most serious first: what differs, where, by how much."""
    order = {verdict: rank for rank, verdict in enumerate(VERDICT_ORDER)}
    cells: list[Cell] = [cell for case in view.matrix.cases for cell in view.matrix.row(case)
                         if cell is not None and cell.checks and cell.verdict != PASS]
    if not cells:
        return None
    cells.sort(key=lambda cell: order[cell.verdict])
    return Section("disagreements", "What did not pass", "sections/disagreements.html.j2", data=cells)


@index_section(order=30)
def load_errors(view: IndexView) -> Section | None:
    errors = view.results.get("load_errors") or []
    if not errors:
        return None
    return Section("load-errors", "Case files that could not be loaded", "sections/load_errors.html.j2",
                   data=errors)


@index_section(order=90)
def environment(view: IndexView) -> Section:
    results = view.results
    env = results["environment"]
    rows: list[tuple[str, Any]] = [("Python", env["python"]), ("platform", env["platform"]),
                                   ("CPU", f"{env['cpu']} ({env['cpu_count']} logical cores)")]
    rows += [(package, version) for package, version in env["packages"].items()]
    rows += [(name, value) for name, value in env["threads"].items()]
    rows += [(name, value) for name, value in env.get("numerics", {}).items()]
    rows += [(f"${name}", value) for name, value in env["settings"].items()]
    rows += [(f"execution paths ({framework})", "; ".join(_path_text(path, len(results["cases"])) for path in paths))
             for framework, paths in env.get("execution_paths", {}).items()]
    dtypes = Counter(case["dtype"] for case in results["cases"])
    rows.append(("case dtypes", ", ".join(f"{dtype} ({count} case{'s' * (count != 1)})"
                                          for dtype, count in sorted(dtypes.items()))))
    return Section("environment", "Environment", "sections/environment.html.j2",
                   data={"rows": rows, "command": results["command"], "seconds": results["seconds"]})


def _path_text(path: dict[str, Any], total: int) -> str:
    """"Conv2D channels_first native (oneDNN) (2 cases)"; settings every case shares say so."""
    count = len(path["cases"])
    return f"{path['description']} ({'every case' if count == total else f'{count} case' + 's' * (count != 1)})"


@index_section(order=40)
def strength(view: IndexView) -> Section | None:
    """The share of applicable transforms each case detects, and the run's total."""
    totals = view.results.get("strength")
    if not totals:
        return None
    rows = [(case["id"], case["strength"]) for case in view.results["cases"] if case.get("strength")]
    return Section("strength", "Case strength", "sections/strength_index.html.j2",
                   data={"totals": totals, "rows": rows})
