"""The campaign report: index.html (in the harness report's style), results.json and junit.xml.

One row per distinct finding (harness/discovery/campaign/run.py groups failures by signature): what
differs where, in how many cases, whether it is float32 rounding rather than a framework's
meaning (the minimal case agrees in float64, or the NumPy backend in float32 fails too; see
`suspect`), the minimal case inline and the reproducer beside it.
"""

from __future__ import annotations

import collections
import functools
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from harness.output.report.site import first_line, format_number


@functools.cache
def environment() -> Environment:
    env = Environment(loader=ChoiceLoader([PackageLoader("harness.discovery.campaign", "templates"),
                                           PackageLoader("harness.output.report", "templates")]),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=format_number, first_line=first_line)
    return env


def write_report(store, campaign: dict[str, Any], findings, rejected: list[dict[str, Any]]) -> dict[str, Any]:
    rows = store.read_lines("results.jsonl")
    summary = summarise(campaign, rows, findings, rejected)
    for finding in summary["findings"]:
        folder = store.path(finding["folder"]) if finding.get("folder") else None
        finding["minimal"] = (folder / "minimal.yaml").read_text(encoding="utf-8") \
            if folder is not None and (folder / "minimal.yaml").exists() else ""
    html = environment().get_template("campaign.html.j2").render(
        summary=summary, sections=[], results={"command": summary["command"]}, root="")
    store.path("index.html").write_text(html, encoding="utf-8")
    plain = {**summary, "findings": [{k: v for k, v in f.items() if k != "minimal"} for f in summary["findings"]]}
    store.path("results.json").write_text(json.dumps(plain, indent=1, default=str), encoding="utf-8")
    store.path("junit.xml").write_text(junit(summary), encoding="utf-8")
    return summary


def summarise(campaign, rows, findings, rejected) -> dict[str, Any]:
    settings = campaign["settings"]
    verdicts = collections.Counter(v for row in rows for checks in row.get("verdicts", {}).values()
                                   for v in checks.values())
    focus = collections.Counter(row.get("focus", "") for row in rows)
    present = collections.Counter(kind for row in rows for kind in row.get("kinds", []))
    run_seconds = sum(i.get("run_seconds", 0) for i in campaign["invocations"])
    cases_run = sum(i.get("cases_run", 0) for i in campaign["invocations"])
    failing_cases = sum(1 for row in rows if row.get("failures"))
    return {
        "command": f"python -m harness campaign --seed {settings['seed']} --count {settings['count']}",
        "settings": settings,
        "invocations": campaign["invocations"],
        "cases": len(rows),
        "task_errors": [row["name"] for row in rows if row.get("error")],
        "failing_cases": failing_cases,
        "verdicts": dict(verdicts),
        "rejected": len(rejected),
        "rejected_reasons": collections.Counter(r["reason"].split(":")[0] for r in rejected).most_common(8),
        "run_seconds": round(run_seconds, 1),
        "cases_per_minute": round(cases_run / run_seconds * 60, 1) if run_seconds else None,
        "coverage": sorted((kind, focus.get(kind, 0), present.get(kind, 0))
                           for kind in set(focus) | set(present) if kind),
        "findings": sorted((finding_row(f) for f in findings), key=lambda row: suspect_order(row["suspect"])),
    }


def finding_row(finding) -> dict[str, Any]:
    failure = finding.failure
    shrunk = finding.shrunk or {}
    return {
        "id": finding.id, "key": finding.key, "framework": failure["framework"], "check": failure["check"],
        "kind": failure["kind"], "hint": failure.get("hint") or "", "message": failure.get("message", ""),
        "layer": failure.get("layer", ""), "cases": len(finding.cases), "examples": finding.cases[:8],
        "numpy_too": finding.numpy_too,
        "suspect": suspect(failure, finding.numpy_too, shrunk),
        "float64": shrunk.get("float64", ""),
        "shrunk": bool(shrunk), "summary": shrunk.get("summary", ""),
        "shrink_error": (shrunk.get("error") or "").splitlines()[0] if shrunk.get("error") else "",
        "repro_error": shrunk.get("repro_error", ""), "has_repro": bool(shrunk.get("has_repro")),
        "folder": shrunk.get("folder", ""), "representative": finding.smallest[1],
    }


def suspect_order(suspect_text: str) -> int:
    """Crashes and differences first, rounding last (the sort is stable: by case count within)."""
    return 2 if suspect_text.startswith("float32") else 0 if suspect_text == "crash" else 1


def suspect(failure: dict[str, Any], numpy_too: int, shrunk: dict[str, Any]) -> str:
    """What the finding probably is. Errors are crashes. A minimal float32 case that passes in
    float64 is float32 rounding; so, probably, is one where the NumPy backend (the reference's
    math in float32) fails too. What is left is a difference worth reading."""
    if failure["kind"].startswith(("error:", "crash:")):
        return "crash"
    if shrunk.get("float64") == "passes":
        return "float32 rounding (the minimal case agrees in float64)"
    if numpy_too or shrunk.get("numpy_fails"):
        return "float32 rounding suspected (the NumPy backend fails too)"
    return "difference"


def junit(summary) -> str:
    cases = []
    for finding in summary["findings"]:
        cases.append(f'  <testcase classname="campaign" name="{escape(finding["key"], {chr(34): "&quot;"})}">'
                     f'<failure message="{escape(finding["message"], {chr(34): "&quot;"})}">'
                     f'{escape(str(finding["cases"]))} case(s); minimal case {escape(finding["folder"])}'
                     f'</failure></testcase>')
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="campaign" tests="{len(cases)}" '
            f'failures="{len(cases)}">\n' + "\n".join(cases) + "\n</testsuite>\n")
