"""The training sections: per-step divergence plots on each training case's page, and a
summary of every training case on the index (hooks of sections.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from harness.output.report.matrix import case_page
from harness.output.report.sections import Section, case_section, index_section
from harness.output.report.training_plot import divergence_svg


@dataclass
class TrainingPlot:
    case: str
    page: str
    summary: dict[str, Any]
    """results.json `cases[i]["training"]`: optimizer, steps, batch size, how each framework
    built the optimizer, and the per-step divergence."""
    svg: Markup
    """Built from numbers only, every text in it escaped (training_plot.py)."""


def plot(case_summary: dict[str, Any]) -> TrainingPlot | None:
    training = case_summary.get("training")
    if not training:
        return None
    svg = divergence_svg(training["divergence"], title=case_summary["id"])
    return TrainingPlot(case_summary["id"], case_page(case_summary["id"]), training, Markup(svg))


@case_section(order=50)
def training(view) -> Section | None:
    found = plot(view.summary)
    return Section("training", "Training steps", "sections/training.html.j2", data=[found]) if found else None


@index_section(order=40)
def training_overview(view) -> Section | None:
    plots = [found for case in view.results["cases"] if (found := plot(case)) is not None]
    return Section("training", "Training: divergence per step", "sections/training.html.j2",
                   data=plots) if plots else None
