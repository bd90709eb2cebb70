"""The conformance report: a static HTML site beside results.json and junit.xml.

`write_site(out_dir, reports, results)` writes it (site.py); `case_section` and
`index_section` add sections to its pages (sections.py explains how).
"""

from harness.output.report.sections import Section, case_section, index_section
from harness.output.report.site import write_site
from harness.output.report import defaults_section, gate_section, metrics_section, training_section  # noqa: F401,E402  (registers their sections)

__all__ = ["write_site", "Section", "case_section", "index_section"]
