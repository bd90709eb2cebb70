"""Regenerate the screenshots of the report (README.md, docs/running.md): docs/report-index.png, docs/report-case.png.

    python tools/report_screenshots.py [--keep DIR]

Runs cases/ plus the deliberately disagreeing fixture tests/report_cases/report_demo.yaml
(into a temporary directory, or DIR with --keep), opens the report in the system's Chromium
the way tests/test_report_browser.py does, and saves the index (matrix and what did not pass)
and the top of the failing case's page (Keras' divergence, its pictures and diff views).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.entry.session import run_session  # noqa: E402
from tests.browser import PageErrors, launch, unavailable_reason  # noqa: E402

CASE = "report_demo.keras_float64_slope"
WIDTH, TALLEST = 1200, 1500


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="write the report here and keep it")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    options = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    keep, docs = (options.keep.resolve() if options.keep else None), options.docs.resolve()
    os.chdir(ROOT)  # case files by relative path, as a user would type them
    with tempfile.TemporaryDirectory() as temporary:
        site = keep or Path(temporary) / "report"
        run_session(["cases", "tests/report_cases/report_demo.yaml"],
                    frameworks=None, out_dir=site,
                    command="python -m harness run cases/ tests/report_cases/report_demo.yaml")
        docs.mkdir(exist_ok=True)
        return screenshots(site, docs)


def screenshots(site: Path, docs: Path) -> int:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        errors = PageErrors(page)
        page.goto((site / "index.html").as_uri())
        bottom = page.locator("#environment").bounding_box()["y"]
        page.screenshot(path=docs / "report-index.png", full_page=True,
                        clip={"x": 0, "y": 0, "width": WIDTH, "height": min(bottom, TALLEST)})
        page.goto((site / "cases" / f"{CASE}.html").as_uri())
        block = page.locator("article#keras").bounding_box()
        page.screenshot(path=docs / "report-case.png", full_page=True,
                        clip={"x": 0, "y": 0, "width": WIDTH,
                              "height": min(block["y"] + block["height"], TALLEST)})
        browser.close()
    for name in ("report-index.png", "report-case.png"):
        print(f"{docs / name}: {(docs / name).stat().st_size // 1024} KiB")
    if errors.messages:
        print("console errors:", *errors.messages, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
