"""The report's pages are lists of sections; a section is a function plus a template.

This is the hook for new content. To add a section to every case page (say, a training
section that plots the loss and parameter divergence per step):

    # harness/output/report/training_section.py (imported in harness/output/report/__init__.py)
    from harness.output.report.sections import Section, case_section

    @case_section(order=50)
    def training(view):                      # view: harness.output.report.case_view.CaseView
        steps = [c for c in view.report.checks if c.check == "training"]
        if not steps:
            return None                      # the case has none: no section
        return Section("training", "Training", "sections/training.html.j2", data=steps)

and write harness/output/report/templates/sections/training.html.j2, which sees `data`, `view` and
the page's macros (`macros.html.j2`: `number`, `verdict`, `picture`, ...). `index_section`
does the same for the index page (its builders get an `IndexView`), e.g. a table of framework
defaults at order 50. Sections appear in `order`; the built-in ones leave gaps:

    case page:  10 frameworks (verdicts, divergence, pictures, diff views), 20 model summary,
                30 weight mapping, 40 comparison tables, 50-80 free, 90 case file
    index page: 10 matrix, 20 disagreements, 30 load errors, 40-80 free, 90 environment

Templates are autoescaped: text from case files (descriptions, reasons, layer names, the case
file itself) shows as text. Never mark such text safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Section:
    id: str
    """The section's anchor (a fixed word from the section's code, not text from a case)."""
    title: str
    template: str
    """Template path under harness/output/report/templates, e.g. `sections/model.html.j2`."""
    data: Any = None
    """Whatever the template needs, as `data`."""


SectionBuilder = Callable[[Any], "Section | None"]
CASE_SECTIONS: list[tuple[int, SectionBuilder]] = []
INDEX_SECTIONS: list[tuple[int, SectionBuilder]] = []


def case_section(order: int) -> Callable[[SectionBuilder], SectionBuilder]:
    """Register a case-page section builder: view -> Section, or None to leave it out."""
    return _register(CASE_SECTIONS, order)


def index_section(order: int) -> Callable[[SectionBuilder], SectionBuilder]:
    """Register an index-page section builder: index view -> Section, or None."""
    return _register(INDEX_SECTIONS, order)


def _register(registry: list[tuple[int, SectionBuilder]], order: int):
    def decorate(builder: SectionBuilder) -> SectionBuilder:
        registry.append((order, builder))
        registry.sort(key=lambda entry: entry[0])
        return builder
    return decorate


def build_sections(registry: list[tuple[int, SectionBuilder]], view: Any) -> list[Section]:
    return [section for _, builder in registry if (section := builder(view)) is not None]
