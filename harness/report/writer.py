"""Render the report's pages with Jinja2 (autoescaped: text from case files shows as text)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.report.matrix import build_matrix
from harness.results import write_atomically


def environment() -> Environment:
    return Environment(loader=PackageLoader("harness.report", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def write_report(out_dir: Path, results: dict[str, Any]) -> Path:
    cases, frameworks, cells = build_matrix(results)
    totals = Counter(cell.verdict for cell in cells.values())
    page = environment().get_template("index.html.j2").render(
        results=results, cases=cases, frameworks=frameworks, cells=cells, totals=totals,
        case_info={case["id"]: case for case in results["cases"]})
    index = out_dir / "index.html"
    write_atomically(index, page)
    return index
