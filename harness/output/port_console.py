"""What `python -m harness run` prints about ports beyond the matrix: for each port check that
failed, the check's message (which tensors, and for `intermediates` the first divergent layer),
and for each port that could not run, its error once (what was expected and found, its
traceback or stderr). A user checking a port sees why in the terminal, not only in the report.
"""

from __future__ import annotations

from harness.checks.runner import ERROR, FAIL, CaseReport

MESSAGE_LINES = 8
"""A failed check's message is cut after this many lines (the report has all of it)."""


def port_findings(reports: list[CaseReport]) -> list[str]:
    """Lines to print: one block per failed port check, one per port that errored."""
    blocks = []
    for report in reports:
        errored = set()
        for result in report.checks:
            if report.case.port(result.framework) is None or result.verdict not in (FAIL, ERROR):
                continue
            if result.verdict == ERROR:
                if result.framework in errored:
                    continue  # the same error for each of its checks: said once
                errored.add(result.framework)
                blocks.append(f"{result.case} [{result.framework}]: error\n" + _indent(result.reason or result.message))
                continue
            lines = result.message.splitlines()
            shown = lines[:MESSAGE_LINES] + ([f"... ({len(lines) - MESSAGE_LINES} more lines in the report)"]
                                             if len(lines) > MESSAGE_LINES else [])
            blocks.append(f"{result.case} [{result.framework}] {result.check}: {result.verdict}\n"
                          + _indent("\n".join(shown)))
    return blocks


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
