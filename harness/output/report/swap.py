"""Replace a whole directory at once: build the new one beside it, then swap it in.

An interrupted run leaves either the previous report or the new one, never a mix and never a
half-written page: the new site is written completely into `.NAME.*.partial` beside the target,
then the target is renamed away and the new directory renamed into its place (two renames on
one file system), and the old one is deleted.

One run at a time per directory: the whole replacement holds an exclusive lock
(`fcntl.flock` on `.NAME.lock` beside the target); a second run on the same `--out` waits for it
up to LOCK_WAIT_S, then stops with a message naming the directory. Holding the lock, a run knows
that what it finds beside the target is a dead run's: a `.NAME.*.partial` is removed; a
`.NAME.*.old` with no target is the previous report of a run killed between its two renames,
and is put back; an `.old` beside a target is removed. A disk that is full (or read-only, or
not ours to write) while the new report is written is a CaseError naming the directory, and
the previous report stays.

Because the whole directory is replaced, it must be one the report owns: it is refused if it
holds files that a report does not write (say, `--out .` or a directory of notes), so a typo
in `--out` cannot delete anything else.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

REPORTS_README = Path(__file__).resolve().parent / "templates" / "reports-README.md"
"""Written into every report, so the repository's tracked reports/README.md survives each swap
(and a directory holding only it counts as an empty report directory here)."""

from harness.common.errors import CaseError

MARKER = ".harness-report"
"""Written into every report directory: it is what makes a directory safe to replace."""
OWNED = {MARKER, "index.html", "results.json", "junit.xml", "cases", "artifacts"}
"""What a report directory holds (an older report without the marker holds only these)."""
LOCK_WAIT_S = 120.0
"""How long a run waits for another run writing the same report directory: writing one takes
seconds, so two minutes is a stuck run, not a slow one."""
LOCK_POLL_S = 0.1
ENVIRONMENT_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is used up",
                      errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied"}
"""OSErrors of the machine, not of the harness: a message, not a traceback."""


def replace_directory(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write(staging)` to fill a new directory, then make it `target`."""
    target = Path(os.path.abspath(target))
    refuse_foreign(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with report_lock(target):
            recover(target)
            refuse_foreign(target)  # what a restored report holds
            _swap(target, write)
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRORS:
            raise
        raise CaseError(f"cannot write the report: {ENVIRONMENT_ERRORS[exc.errno]} ({exc.filename or target.parent})",
                        file=str(target), expected=f"room to write the report in {target.parent}",
                        hint="the previous report, if any, is unchanged; free some space (or choose another --out) "
                             "and run again") from None


def _swap(target: Path, write: Callable[[Path], None]) -> None:
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


@contextlib.contextmanager
def report_lock(target: Path, wait: float | None = None) -> Iterator[None]:
    """Hold `.NAME.lock` beside the target; wait at most `wait` seconds (LOCK_WAIT_S) for it."""
    wait = LOCK_WAIT_S if wait is None else wait
    path = target.parent / f".{target.name}.lock"
    with open(path, "a+") as file:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    file.seek(0)
                    holder = file.read().strip() or "another process"
                    raise CaseError(f"another run is writing this report directory ({holder} holds {path.name}); "
                                    f"waited {wait:g} s", file=str(target),
                                    hint="let that run finish, or give this one another --out") from None
                time.sleep(LOCK_POLL_S)
        try:
            file.seek(0)
            file.truncate()
            file.write(f"process {os.getpid()}\n")
            file.flush()
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def recover(target: Path) -> None:
    """What killed runs left beside the target (the lock is held: no run is writing). The newest
    `.NAME.*.old` without a target is the previous report, put back."""
    for partial in target.parent.glob(f".{target.name}.*.partial"):
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial, ignore_errors=True)
    olds = sorted((p for p in target.parent.glob(f".{target.name}.*.old") if p.is_dir() and not p.is_symlink()),
                  key=lambda p: p.stat().st_mtime)
    if olds and not target.exists():
        os.rename(olds.pop(), target)
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)


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
    return path.is_file() and path.read_bytes() == REPORTS_README.read_bytes()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
