"""The HTML conformance report written beside results.json."""

from harness.report.writer import write_report

__all__ = ["write_report"]
