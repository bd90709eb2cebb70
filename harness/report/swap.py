"""Replace a whole directory at once: build the new one beside it, then swap it in.

An interrupted run leaves either the previous report or the new one, never a mix and never a
half-written page: the new site is written completely into `.NAME.*.partial` beside the target,
then the target is renamed away and the new directory renamed into its place (two renames on
one file system), and the old one is deleted. Leftovers of a run killed in between
(`.NAME.*.partial`, `.NAME.*.old`) are removed by the next run.

Because the whole directory is replaced, it must be one the report owns: it is refused if it
holds files that a report does not write (say, `--out .` or a directory of notes), so a typo
in `--out` cannot delete anything else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from harness.errors import CaseError

MARKER = ".harness-report"
"""Written into every report directory: it is what makes a directory safe to replace."""
LEFTOVER_AGE_S = 60
"""Writing a report takes well under a second: a staging directory this old is a dead run's."""
OWNED = {MARKER, "index.html", "results.json", "junit.xml", "cases", "artifacts"}
"""What a report directory holds (an older report without the marker holds only these)."""


def replace_directory(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write(staging)` to fill a new directory, then make it `target`."""
    target = Path(os.path.abspath(target))
    refuse_foreign(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        write(staging)
        (staging / MARKER).write_text("Written by `python -m harness run` or the pytest plugin; "
                                      "the next run replaces this whole directory.\n")
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a report is for reading
        if target.exists():
            old = staging.with_name(staging.name.removesuffix(".partial") + ".old")
            os.rename(target, old)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def refuse_foreign(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise CaseError("is a file, not a report directory", file=str(target),
                        expected="a new directory or an earlier report's")
    entries = {entry.name for entry in target.iterdir()}
    if _is_own_readme(target / "README.md"):
        entries.discard("README.md")  # the repository's reports/README.md, which every report writes
    if MARKER in entries or entries <= OWNED:
        return
    foreign = sorted(entries - OWNED)
    raise CaseError(
        f"holds files a report does not write ({', '.join(foreign[:5])}"
        f"{', ...' if len(foreign) > 5 else ''}); the report replaces its whole directory",
        file=str(target), expected="a new or empty directory, or an earlier report's",
        hint="choose another directory (make report and pytest use reports/)")


def _is_own_readme(path: Path) -> bool:
    from harness.report.site import REPORTS_README

    return path.is_file() and path.read_bytes() == REPORTS_README.read_bytes()


def remove_leftovers(target: Path) -> None:
    """Remove what killed runs left; recent ones may belong to a run still writing."""
    now = time.time()
    for pattern in (f".{target.name}.*.partial", f".{target.name}.*.old"):
        for leftover in target.parent.glob(pattern):
            if (leftover.is_dir() and not leftover.is_symlink()
                    and now - leftover.stat().st_mtime > LEFTOVER_AGE_S):
                shutil.rmtree(leftover, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
