"""The defaults sections (hooks of sections.py): the defaults table of the run's frameworks on
the index page, and on a case page the framework defaults each framework used for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.defaults.table import display_rows
from harness.output.report.sections import Section, case_section, index_section


@index_section(order=50)
def defaults_table(view) -> Section | None:
    table = view.results.get("defaults")
    if not table:
        return None
    if "rows" not in table:  # the table could not be built; results.json says why
        return Section("defaults", "Framework defaults", "sections/defaults.html.j2",
                       data={"error": table.get("error", "")})
    return Section("defaults", "Framework defaults", "sections/defaults.html.j2",
                   data={"frameworks": table["frameworks"], "versions": table["versions"],
                         "rows": display_rows(table)})


@dataclass
class UsedDefault:
    framework: str
    where: str
    """The layer, `loss:<i>` or `optimizer`."""
    field: str
    value: Any
    source: str


def used_defaults(summary: dict[str, Any]) -> list[UsedDefault]:
    """Every framework_default field of the case, as each backend resolved it (results.json)."""
    found = []
    for framework, outcome in summary["frameworks"].items():
        for where, built in outcome.get("implementations", {}).items():
            found += [UsedDefault(framework, where, d["field"], d["value"], d["source"])
                      for d in built.get("defaults", [])]
    training = summary.get("training") or {}
    for framework, built in (training.get("implementations") or {}).items():
        found += [UsedDefault(framework, "optimizer", d["field"], d["value"], d["source"])
                  for d in (built or {}).get("defaults", [])]
    return found


@case_section(order=60)
def defaults_used(view) -> Section | None:
    found = used_defaults(view.summary)
    if not found:
        return None
    return Section("defaults", "Framework defaults used", "sections/defaults_used.html.j2", data=found)
