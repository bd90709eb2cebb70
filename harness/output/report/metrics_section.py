"""The case page's metrics section (a hook of sections.py): each metric's value per backend, how
each backend computed it, and the positions where backends predict differently.

A port can agree with the reference to 1e-3 and still flip the sign or the arg-max of a sample
that lies near a tie; that sample is what a user of the port sees, so it is listed with how
close the reference itself is to the tie (its margin).
"""

from __future__ import annotations

from harness.output.report.case_view import CaseView
from harness.output.report.sections import Section, case_section


@case_section(order=45)
def metrics(view: CaseView) -> Section | None:
    summary = view.summary.get("metrics")
    if not summary:
        return None
    columns = ["reference", *(name for name in view.frameworks
                              if any(name in metric["values"] for metric in summary["metrics"]))]
    return Section("metrics", "Metrics", "sections/metrics.html.j2",
                   data={"columns": columns, "metrics": summary["metrics"],
                         "differing": summary["differing_predictions"]})
