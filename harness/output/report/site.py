"""Write the report: a static site that works offline from the file system.

    DIR/index.html            the conformance matrix, what did not pass, the environment
    DIR/cases/<case id>.html  one page per case: verdicts, divergence, pictures, tables, source
    DIR/results.json          every figure, machine-readable (harness/output/results.py)
    DIR/junit.xml             every check as a JUnit test case (harness/output/report/junit.py)

Every page is self-contained: styles and the few lines of script are inline, pictures are
data URIs, nothing is fetched from anywhere. Pages are rendered in memory first, then the whole
directory is replaced at once (swap.py), so an interrupted run never leaves a half-written one.
"""

from __future__ import annotations

import functools
import math
import shutil
from pathlib import Path
from typing import Any

from jinja2 import (Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined,
                    select_autoescape)

# The built-in sections register themselves on import.
from harness.output.report import case_sections, index_sections  # noqa: F401
from harness.output.report.case_view import CaseView
from harness.output.report.index_sections import IndexView
from harness.output.report.matrix import NOT_RUN, VERDICT_ORDER, build_matrix, case_page
from harness.output.report.junit import junit_xml
from harness.output.report.sections import CASE_SECTIONS, INDEX_SECTIONS, build_sections
from harness.output.report.swap import REPORTS_README, replace_directory
from harness.output.results import results_json
from harness.checks.runner import CaseReport


@functools.cache
def environment() -> Environment:
    # Compiling the templates costs more than rendering every page (about 0.1 s against
    # 0.05 s on the seed cases): Jinja's bytecode cache (a per-user directory in the system's
    # temporary directory, which Jinja creates private and checks) pays it once per machine.
    env = Environment(loader=PackageLoader("harness.output.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      bytecode_cache=_bytecode_cache())
    env.filters.update(number=format_number, value=format_value, shape=format_shape,
                       share=format_share, first_line=first_line)
    env.globals.update(VERDICTS=VERDICT_ORDER, NOT_RUN=NOT_RUN, case_page=case_page)
    return env


class _QuietBytecodeCache(FileSystemBytecodeCache):
    """A cache that cannot be written only costs time, never the report."""

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    try:
        return _QuietBytecodeCache()
    except (OSError, RuntimeError):  # no safe temporary directory: compile every time
        return None


def render_site(reports: list[CaseReport], results: dict[str, Any]) -> dict[str, str]:
    """Relative path -> page text, for the index and every case page."""
    env = environment()
    frameworks = list(results["frameworks"])
    matrix = build_matrix(reports, frameworks, results.get("ports", []))
    summaries = {case["id"]: case for case in results["cases"]}
    index = IndexView(reports=reports, results=results, matrix=matrix)
    pages = {"index.html": env.get_template("index.html.j2").render(
        view=index, results=results, sections=build_sections(INDEX_SECTIONS, index), root="")}
    case_template = env.get_template("case.html.j2")
    for report in reports:
        view = CaseView(report, report.case.backend_names(frameworks), summaries.get(report.case.id, {}))
        pages[case_page(report.case.id)] = case_template.render(
            view=view, results=results, sections=build_sections(CASE_SECTIONS, view), root="../")
    return pages




def write_site(out_dir: Path, reports: list[CaseReport], results: dict[str, Any],
               artifacts: dict[str, Path] | None = None) -> Path:
    """Write the whole report into `out_dir` (replacing it at once); return the index path.
    `artifacts`: relative path -> file to copy beside the pages (the exported models the shipped
    runtimes ran, under `artifacts/`)."""
    pages = render_site(reports, results)
    files = {**pages, "README.md": REPORTS_README.read_text(encoding="utf-8"),
             "results.json": results_json(results),
             "junit.xml": junit_xml(reports, seconds=results.get("seconds", 0.0)).decode("utf-8")}

    def write(staging: Path) -> None:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for relative, source in (artifacts or {}).items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)

    replace_directory(out_dir, write)
    return Path(out_dir) / "index.html"


def format_number(value: Any, digits: int = 2) -> str:
    """Scientific with `digits` decimals; exact zeros as 0; inf and nan as words."""
    if value is None or value == "":
        return "–"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number == 0:
        return "0"
    return f"{number:.{digits}e}"


def format_shape(shape: Any) -> str:
    shape = list(shape or [])
    return "(" + ", ".join(str(side) for side in shape) + ("," if len(shape) == 1 else "") + ")"


def format_share(part: int, whole: int) -> str:
    if not whole:
        return "0"
    share = 100 * part / whole
    return f"{share:.0f}%" if share >= 1 or share == 0 else f"{share:.1g}%"


def format_value(value: Any) -> str:
    """An element's value: 10 significant digits show float32 values exactly (9 would do)."""
    return format_number(value) if value is None else f"{float(value):.10g}"


def first_line(text: Any) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else ""
