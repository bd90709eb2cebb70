"""A real headless browser for the report tests: the system's Chromium driven by Playwright.

Playwright's own browser download (`playwright install`) is never used: tools/install.py
installs Debian's chromium, and Playwright drives it through `executable_path`. Two launch
arguments matter: `--no-sandbox` (CI runs as root) and `--host-resolver-rules=MAP * ~NOTFOUND`,
which makes every outside host unresolvable, so a report that tried to fetch anything (a CDN,
a font) would log a console error and fail the tests: they prove the report is self-contained.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Looked up on PATH in this order (tools/install.py looks for the same names)."""
LAUNCH_ARGS = ["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND"]


def find_chromium() -> str | None:
    """$HARNESS_CHROMIUM, else the first Chromium on PATH."""
    explicit = os.environ.get("HARNESS_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def unavailable_reason() -> str | None:
    """None if a browser test can run here, else why not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (tools/install.py installs it with the test tools)"
    if find_chromium() is None:
        return ("no Chromium found (tools/install.py installs Debian's chromium when run as root; "
                "or set HARNESS_CHROMIUM to a Chromium binary)")
    return None


def launch(playwright):
    """A headless Chromium from the system, through a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=find_chromium(), args=LAUNCH_ARGS)


class PageErrors:
    """Collects a page's console errors and uncaught exceptions."""

    def __init__(self, page) -> None:
        self.messages: list[str] = []
        page.on("console", lambda message: self.messages.append(f"console: {message.text}")
                if message.type == "error" else None)
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))
