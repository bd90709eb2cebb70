"""The conformance matrix: one cell per case and framework, from the check results.

Its columns are the run's frameworks, then every port of the run (harness/ports/); a case that
has no such port has no cell in that column."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from harness.common.compare import TensorComparison
from harness.checks.runner import ERROR, EXPECTED, FAIL, NOT_RETURNED, PASS, SKIPPED, CaseReport, CheckResult

# The cell shows the most serious verdict among its checks.
# A check a port returns nothing for weighs less than a pass: the cell is the verdict of what it
# returns, with "forward only" beside it (`Cell.compared_only`).
SEVERITY = {ERROR: 4, FAIL: 3, EXPECTED: 2, SKIPPED: 1, PASS: 0, NOT_RETURNED: -1}
NOT_RUN = "not-run"
"""A cell none of whose checks ran (pytest -k selected others)."""
VERDICT_ORDER = (FAIL, ERROR, EXPECTED, SKIPPED, PASS, NOT_RETURNED)
"""The order verdicts are listed in: what needs attention first."""


def most_severe(verdicts: Iterable[str]) -> str:
    return max(verdicts, key=SEVERITY.__getitem__, default=NOT_RUN)


def case_page(case_id: str) -> str:
    """The case page's path, relative to the index. Case ids are identifiers joined by dots
    (the schema says so), so they are safe file names as they are."""
    return f"cases/{case_id}.html"


@dataclass
class Cell:
    case: str
    framework: str
    checks: list[CheckResult] = field(default_factory=list)
    """The framework's checks of this case against the reference or stated values."""

    @property
    def verdict(self) -> str:
        return most_severe(check.verdict for check in self.checks)

    @property
    def compared_only(self) -> str:
        """`forward only` where a port returned nothing for some checks: the checks it was
        judged on; empty where it returned something for every check."""
        if not any(check.verdict == NOT_RETURNED for check in self.checks):
            return ""
        judged = [check.check for check in self.checks if check.verdict != NOT_RETURNED]
        return (", ".join(judged) if judged else "nothing") + " only"

    @property
    def link(self) -> str:
        return f"{case_page(self.case)}#{self.framework}"

    @property
    def worst(self) -> TensorComparison | None:
        """The tensor with the largest relative error against the reference."""
        tensors = [t for c in self.checks if c.against == "reference" for t in c.tensors
                   if not t.note and not math.isnan(t.max_rel_error)]
        return max(tensors, key=lambda t: t.max_rel_error, default=None)

    @property
    def divergence(self) -> str | None:
        """The layer where this framework's intermediate outputs first leave tolerance."""
        return next((c.first_divergent for c in self.checks
                     if c.check == "intermediates" and c.verdict in (FAIL, EXPECTED)), None)

    @property
    def failing(self) -> list[CheckResult]:
        return [c for c in self.checks if c.verdict not in (PASS, NOT_RETURNED)]

    @property
    def note(self) -> str:
        """One line for the tooltip: the first not-passing check's message or reason."""
        for check in self.failing:
            text = check.message or check.reason
            if text:
                return f"{check.check}: {text.splitlines()[0]}"
        return ""


@dataclass
class Matrix:
    cases: list[str]
    frameworks: list[str]
    """The columns: the run's frameworks, then its ports."""
    cells: dict[tuple[str, str], Cell]
    ports: list[str] = field(default_factory=list)
    """The columns that are ports (the last ones)."""

    def row(self, case: str) -> list[Cell | None]:
        """The case's cells, None in the column of a port the case does not have."""
        return [self.cells.get((case, framework)) for framework in self.frameworks]

    def column_totals(self, framework: str) -> dict[str, int]:
        verdicts = [self.cells[(case, framework)].verdict for case in self.cases if (case, framework) in self.cells]
        return {verdict: verdicts.count(verdict) for verdict in (*VERDICT_ORDER, NOT_RUN)
                if verdict in verdicts}

    def totals(self) -> dict[str, int]:
        verdicts = [cell.verdict for cell in self.cells.values()]
        return {verdict: verdicts.count(verdict) for verdict in (*VERDICT_ORDER, NOT_RUN)}


def build_matrix(reports: list[CaseReport], frameworks: list[str], ports: list[str] | None = None) -> Matrix:
    cases = [report.case.id for report in reports]
    ports = [port for port in ports or [] if port not in frameworks]
    cells = {(report.case.id, f): Cell(report.case.id, f) for report in reports
             for f in [*frameworks, *(p for p in ports if p in report.case.port_names())]}
    for report in reports:
        for check in report.checks:
            cell = cells.get((check.case, check.framework))
            if cell is not None:
                cell.checks.append(check)
    return Matrix(cases=cases, frameworks=[*frameworks, *ports], cells=cells, ports=ports)
