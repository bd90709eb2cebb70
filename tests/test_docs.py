"""The README stays a first page and the documentation's links lead somewhere.

The README was 145 KB before its topics moved into docs/ (one page each); it is held at 20 KB so
that it stays what a newcomer reads first. Every relative link in README.md and docs/*.md must
name a file of the repository and, with `#anchor`, a heading of that page (GitHub's anchors:
lower case, punctuation dropped, spaces as hyphens), so moving a section cannot leave a dead
link behind. The generated tables' currency is tested beside their builders
(tests/test_coverage.py: docs/support.md; tests/test_defaults.py: docs/defaults.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT = 20 * 1024
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {anchor(match) for match in re.findall(r"^#+ (.*)$", text, re.M)}


def links_of(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def test_the_readme_is_a_first_page():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, f"README.md is {size} bytes (at most {README_LIMIT}): move a topic into docs/"


def test_every_docs_page_is_reached_from_the_readme():
    """Through links: the README's table, or a page that the README's pages link."""
    reached, todo = set(), [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in reached or not page.exists() or page.suffix != ".md":
            continue
        reached.add(page)
        todo += [(page.parent / target.split("#")[0]).resolve() for target in links_of(page) if target.split("#")[0]]
    unreached = {page.name for page in PAGES[1:]} - {page.name for page in reached}
    assert unreached == set(), "docs pages no link leads to from the README"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_leads_to_a_file_and_heading(page):
    dead = []
    for target in links_of(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            dead.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif fragment and file.suffix == ".md" and fragment not in anchors_of(file):
            dead.append(f"{target}: no heading #{fragment} in {file.relative_to(ROOT)}")
    assert dead == [], f"{page.relative_to(ROOT)}: dead links:\n" + "\n".join(dead)
