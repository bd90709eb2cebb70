"""Generated sections of a Markdown file, between two HTML comment markers.

docs/ holds tables the harness builds by running the frameworks (docs/support.md, the support
table; docs/defaults.md, the defaults table); `python -m harness support --write docs/support.md`
and `defaults --write docs/defaults.md` replace them, and tests compare them with a fresh build
so they cannot go stale.
"""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, start: str, end: str, body: str) -> bool:
    """Replace what lies between the markers by `body`; True if the file changed."""
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} ... {end} section: add the two markers where the "
                         f"table should go")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    updated = f"{before}{start}\n{body}\n{end}{after}"
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        return True
    return False


def read_section(path: Path, start: str, end: str) -> str:
    text = path.read_text(encoding="utf-8")
    return text.split(start, 1)[1].split(end, 1)[0].strip()
