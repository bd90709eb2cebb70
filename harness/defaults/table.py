"""The defaults table: every audited hyper-parameter's default in every installed framework.

`defaults_table(backends)` asks each backend's readers (nothing here knows a default) and
marks each row: `agrees`, or differs in `value` (the effective values, in the harness's terms,
are not all equal) and/or `meaning` (the probes found different formulas behind the name: eps
inside vs outside the square root, momentum as the share kept vs the share taken).

Three forms: `to_markdown()` (the command and docs/defaults.md), `to_json()` (results.json's
`defaults`) and `display_rows(json)` (the rows the report's "Framework defaults" section
shows). A framework that is not installed is a column of "not installed" (one that fails to
import: "unavailable", its reason in the report's tooltips); a reader that fails shows its error
in its cell.

The backends come from the caller (the command line, the session, the pytest plugin: each
`harness.backends.get_backend(name)`): this package is imported by the adapters' base module, so
it never imports the adapters itself.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol

from harness.case.schema import NATIVE_FRAMEWORKS as FRAMEWORKS
from harness.common.docs_section import read_section, replace_section
from harness.defaults.cache import cached_table
from harness.defaults.probes import show
from harness.defaults.reading import DefaultContext, Reading
from harness.defaults.resolve import readings
from harness.reference.defaults_catalogue import CONCEPTS, Concept



class DefaultsSource(Protocol):
    """What the table needs of a backend (harness.backends.base.Backend has it)."""

    default_readers: Mapping[str, Any]

    def unavailable_reason(self) -> str | None: ...

    def version(self) -> str: ...
START, END = "<!-- defaults-table:start -->", "<!-- defaults-table:end -->"
READ, NOT_INSTALLED, UNAVAILABLE, ERROR = "read", "not installed", "unavailable", "error"


@dataclass
class Cell:
    status: str
    readings: list[Reading] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason,
                "readings": [reading.to_dict() for reading in self.readings]}


@dataclass
class Row:
    concept: Concept
    cells: dict[str, Cell]

    def _found(self) -> list[Reading]:
        return [r for cell in self.cells.values() for r in cell.readings if not r.missing]

    @property
    def differs_in_value(self) -> bool:
        values = {show(r.effective if r.effective is not None else r.value) for r in self._found()
                  if r.effective is not None or r.value is not None}
        return len(values) > 1

    @property
    def differs_in_meaning(self) -> bool:
        return len({r.meaning for r in self._found() if r.meaning}) > 1

    @property
    def verdict(self) -> str:
        kinds = [kind for kind, differs in (("value", self.differs_in_value),
                                            ("meaning", self.differs_in_meaning)) if differs]
        return "differs in " + " and ".join(kinds) if kinds else "agrees"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.concept.key, "group": self.concept.group, "title": self.concept.title,
                "harness_convention": self.concept.effective, "verdict": self.verdict,
                "differs_in_value": self.differs_in_value, "differs_in_meaning": self.differs_in_meaning,
                "cells": {name: cell.to_json() for name, cell in self.cells.items()}}


@dataclass
class DefaultsTable:
    frameworks: list[str]
    versions: dict[str, str]
    rows: list[Row]
    context: DefaultContext

    def to_json(self) -> dict[str, Any]:
        return {"frameworks": self.frameworks, "versions": self.versions,
                "context": {"rank": self.context.rank},
                "rows": [row.to_json() for row in self.rows]}

    def to_markdown(self) -> str:
        return render_markdown(self.to_json())


def defaults_table(backends: Mapping[str, DefaultsSource],
                   context: DefaultContext = DefaultContext()) -> DefaultsTable:
    """Read every catalogue row from every backend given, by framework name, in that order (one
    that cannot run: a column saying why). The readers cache their readings (resolve.readings),
    so a second table costs nothing."""
    versions, columns = {}, {}
    for name, backend in backends.items():
        reason = backend.unavailable_reason()
        versions[name] = _version(backend)
        columns[name] = (None, reason.splitlines()[0]) if reason else (getattr(backend, "default_readers", {}), "")
    rows = []
    for concept in CONCEPTS:
        cells = {}
        for name, (readers, reason) in columns.items():
            cells[name] = (Cell(_unavailable_label(reason), reason=reason) if readers is None
                           else _read(readers, concept, context))
        rows.append(Row(concept, cells))
    return DefaultsTable(list(backends), versions, rows, context)


def _read(readers, concept: Concept, context: DefaultContext) -> Cell:
    try:
        return Cell(READ, readings(readers, concept.key, context))
    except Exception as exc:  # one failing reader is one cell's error, not the table's
        return Cell(ERROR, reason=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")


# --- rendering (from the JSON form, so the report can render a results.json) -----------------

def reading_text(reading: dict[str, Any], *, with_meaning: bool) -> str:
    """One reading in a line: `param=value -> effective; meaning (api)`, `*` if used."""
    if reading["missing"]:
        return f"none: {reading['missing']}"
    if not reading["parameter"]:
        text = "fixed"  # no such parameter: the behaviour is built in
    else:  # `?`: not readable without running it (a builtin): the probe found the effective value
        unread = reading["value"] is None and reading["read_by"].startswith("probe")
        text = f"{reading['parameter']}={'?' if unread else show(reading['value'])}"
    if reading["effective"] is not None and show(reading["effective"]) != show(reading["value"]):
        text += f" -> {show(reading['effective'])}"
    elif reading["effective"] is None and reading["value"] is not None:
        text += " -> none"  # no value of the case field means the same (the probe found another formula)
    if with_meaning and reading["meaning"]:
        text += f"; {reading['meaning']}"
    return text + f" ({reading['api']}{'*' if reading['used'] else ''})"


def cell_lines(cell: dict[str, Any], *, with_meaning: bool) -> list[str]:
    if cell["status"] != READ:
        return [cell["status"] + (f": {cell['reason'].splitlines()[0]}" if cell["status"] == ERROR else "")]
    return [reading_text(reading, with_meaning=with_meaning) for reading in cell["readings"]]


def render_markdown(table: dict[str, Any]) -> str:
    frameworks = table["frameworks"]
    header = [version if version.startswith(name) else f"{name} {version}"
              for name, version in ((name, table["versions"][name]) for name in frameworks)]
    lines = ["| hyper-parameter | " + " | ".join(header) + " | |", "|---|" + "---|" * len(frameworks) + "---|"]
    for row in table["rows"]:
        meaning = row["differs_in_meaning"]
        cells = ["<br>".join(_md(line) for line in cell_lines(row["cells"][name], with_meaning=meaning))
                 for name in frameworks]
        verdict = f"**{row['verdict']}**" if row["verdict"] != "agrees" else "agrees"
        lines.append(f"| {_md(row['title'])} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


@dataclass
class DisplayRow:
    """One row as the report shows it: per framework, (line, how it was read) per reading."""

    key: str
    title: str
    convention: str
    verdict: str
    cells: list[list[tuple[str, str]]]

    @property
    def differs(self) -> bool:
        return self.verdict != "agrees"


def display_rows(table: dict[str, Any]) -> list[DisplayRow]:
    """The table's rows for a page (harness/output/report/defaults_section.py): each reading's line,
    with its meaning, and as a tooltip how it was read and what the probe found."""
    rows = []
    for row in table["rows"]:
        cells = []
        for name in table["frameworks"]:
            cell = row["cells"][name]
            lines = cell_lines(cell, with_meaning=True)
            tips = ([f"{r['read_by']}; {r['probe']}" if r["probe"] else r["read_by"] for r in cell["readings"]]
                    if cell["status"] == READ else [cell["reason"]])
            cells.append(list(zip(lines, tips)))
        rows.append(DisplayRow(row["key"], row["title"], row["harness_convention"], row["verdict"], cells))
    return rows


def write_into(path: Path, table_markdown: str) -> bool:
    """Replace the table between the page's markers; True if the file changed."""
    return replace_section(path, START, END, table_markdown)


def table_in(path: Path) -> str:
    return read_section(path, START, END)


def _version(backend: DefaultsSource) -> str:
    reason = backend.unavailable_reason()
    return _unavailable_label(reason) if reason else backend.version()


def _unavailable_label(reason: str) -> str:
    """`not installed` only when the framework is absent; a framework (or adapter) that fails
    to import is `unavailable`, with the reason in the cell, so a bug is not taken for absence."""
    return NOT_INSTALLED if "is not installed" in reason else UNAVAILABLE


def table_frameworks(frameworks: list[str]) -> list[str]:
    """The run's frameworks that have defaults to audit, in the table's order."""
    return [name for name in FRAMEWORKS if name in frameworks]


def for_results(backends: Mapping[str, DefaultsSource]) -> dict[str, Any] | None:
    """results.json's `defaults`: the table of these backends (None if there are none, e.g. a
    numpy-only run; pass those of table_frameworks(run's frameworks)), from the on-disk copy when
    the frameworks and the readers are unchanged (harness/defaults/cache.py). It never stops a
    run: a failure is recorded."""
    if not backends:
        return None
    try:
        versions = {name: _version(backend) for name, backend in backends.items()}
        return cached_table(versions, DefaultContext().rank, lambda: defaults_table(backends).to_json())
    except Exception as exc:  # the table is a by-product of the run, not worth losing the run for
        return failed_table(exc)


def failed_table(exc: BaseException) -> dict[str, Any]:
    """results.json's `defaults` when the table could not be built (the report says so)."""
    return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
