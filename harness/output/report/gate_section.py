"""The per-gate section of a case page: for a recurrent layer whose gradients or trained values
differ, how far each gate block is from tolerance, per framework, check and parameter (the
rows harness/diagnosis/gate_table.py computes; results.json `gate_table`). A mistake in one gate
(a port's forget gate read from the wrong block) shows as that gate's column out and the others
in; a mistake before the layer shows as every column out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.output.report.sections import Section, case_section


@dataclass
class GateTable:
    framework: str
    check: str
    gates: list[str]
    """The columns: every gate of the rows, in their order (LSTM i, f, c, o; GRU z, r, h)."""
    rows: list[dict[str, Any]]


@case_section(order=45)
def per_gate(view) -> Section | None:
    tables = []
    for framework, checks in view.checks.items():
        for check in checks:
            if not check.gate_table:
                continue
            gates: list[str] = []
            for row in check.gate_table:
                gates += [gate for gate in row["gates"] if gate not in gates]
            tables.append(GateTable(framework, check.check, gates, check.gate_table))
    return Section("gates", "Per gate", "sections/gates.html.j2", data=tables) if tables else None
