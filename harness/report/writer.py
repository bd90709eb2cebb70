"""Render the report's pages with Jinja2 (autoescaped: text from case files shows as text)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from harness.report.matrix import build_matrix
from harness.report.training_plot import divergence_svg
from harness.results import write_atomically


def environment() -> Environment:
    return Environment(loader=PackageLoader("harness.report", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def write_report(out_dir: Path, results: dict[str, Any]) -> Path:
    cases, frameworks, cells = build_matrix(results)
    totals = Counter(cell.verdict for cell in cells.values())
    # The SVG is built from numbers only, with every text escaped (training_plot.py).
    training_plots = {case["id"]: Markup(divergence_svg(case["training"]["divergence"], title=case["id"]))
                      for case in results["cases"] if case.get("training")}
    page = environment().get_template("index.html.j2").render(
        results=results, cases=cases, frameworks=frameworks, cells=cells, totals=totals,
        case_info={case["id"]: case for case in results["cases"]}, training_plots=training_plots)
    index = out_dir / "index.html"
    write_atomically(index, page)
    return index
