"""junit.xml: every check of the run as a JUnit test case, for CI systems.

The pytest run has its own (`pytest --junitxml`); this one is written by `python -m harness
run` and beside every report. One `testcase` per case x framework x check, named like the
pytest items (`classname` the case, `name` `framework::check`). Verdicts map as in pytest:
fail -> failure, error -> error, skipped and not-returned -> skipped, expected-difference -> skipped with
type `expected-difference` (pytest's xfail is a skip in JUnit XML too).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.checks.runner import ERROR, EXPECTED, FAIL, NOT_RETURNED, SKIPPED, CaseReport, CheckResult

# XML 1.0 forbids most control characters; a traceback may carry some.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(reports: list[CaseReport], *, seconds: float, name: str = "harness") -> bytes:
    checks = [check for report in reports for check in report.checks]
    files = {report.case.id: str(report.case.file) for report in reports}
    suite = ET.Element("testsuite", name=name, tests=str(len(checks)),
                       failures=str(sum(c.verdict == FAIL for c in checks)),
                       errors=str(sum(c.verdict == ERROR for c in checks)),
                       skipped=str(sum(c.verdict in (SKIPPED, EXPECTED, NOT_RETURNED) for c in checks)),
                       time=f"{seconds:.3f}")
    for check in checks:
        suite.append(_testcase(check, files.get(check.case, "")))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _testcase(check: CheckResult, file: str) -> ET.Element:
    case = ET.Element("testcase", classname=check.case, name=f"{check.framework}::{check.check}",
                      file=file, time=f"{check.seconds:.3f}")
    worst = check.worst
    properties = {"verdict": check.verdict, "against": check.against}
    if worst is not None:
        properties.update(worst_tensor=worst.tensor, max_abs_error=f"{worst.max_abs_error:.3g}",
                          max_rel_error=f"{check.max_rel_error:.3g}")
    if check.check == "intermediates" and check.first_divergent:
        properties["first_divergent_layer"] = check.first_divergent
    listed = ET.SubElement(case, "properties")
    for key, value in properties.items():
        ET.SubElement(listed, "property", name=key, value=_text(value))
    message = check.message or check.reason
    first_line = message.splitlines()[0] if message else check.verdict
    if check.verdict == FAIL:
        ET.SubElement(case, "failure", message=_text(first_line)).text = _text(
            "\n".join(filter(None, [check.message, check.reason])))
    elif check.verdict == ERROR:
        ET.SubElement(case, "error", message=_text(first_line)).text = _text(check.reason or check.message)
    elif check.verdict == SKIPPED:
        ET.SubElement(case, "skipped", message=_text(first_line))
    elif check.verdict == NOT_RETURNED:  # JUnit has no other word for "not compared"
        ET.SubElement(case, "skipped", type="not-returned", message=_text(first_line))
    elif check.verdict == EXPECTED:
        ET.SubElement(case, "skipped", type="expected-difference",
                      message=_text(f"expected difference: {check.reason}")).text = _text(check.message)
    return case


def _text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))
