"""The report directory under concurrent runs, killed runs and a full disk (issue 26): one lock
per `--out`, a swap killed between its two renames restored by the next run, ENOSPC a message
naming the directory with the previous report kept."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.common.errors import CaseError
from harness.output.report import swap
from harness.output.report.swap import replace_directory, report_lock

ROOT = Path(__file__).resolve().parent.parent


def writer(text: str, pause: float = 0.0):
    def write(staging: Path) -> None:
        (staging / "cases").mkdir()
        for index in range(20):
            (staging / "cases" / f"{index}.html").write_text(text)
            time.sleep(pause / 20)
        (staging / "index.html").write_text(text)
    return write


def contents(directory: Path) -> set[str]:
    return {p.read_text() for p in directory.rglob("*.html")}


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}.") and not p.name.endswith(".lock"))


def test_two_runs_on_one_directory_wait_for_each_other(tmp_path):
    out = tmp_path / "site"
    replace_directory(out, writer("first"))
    errors = []

    def run(text):
        try:
            replace_directory(out, writer(text, pause=0.5))
        except BaseException as exc:  # noqa: BLE001  collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"run {i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(contents(out)) == 1 and contents(out) < {"run 0", "run 1", "run 2"}, "one whole report, not a mix"
    assert leftovers(tmp_path, "site") == []


def test_two_processes_on_one_directory_neither_crashes(tmp_path):
    """Before the lock: `Directory not empty` from one of them and the previous report orphaned."""
    out = tmp_path / "site"
    script = ("import sys, time; from pathlib import Path; from harness.output.report.swap import replace_directory\n"
              "def write(staging):\n"
              "    (staging / 'index.html').write_text(sys.argv[2])\n"
              "    time.sleep(0.05)\n"
              "for _ in range(15):\n"
              "    replace_directory(Path(sys.argv[1]), write)\n")
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = [subprocess.Popen([sys.executable, "-c", script, str(out), name], env=environment, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    results = [run.communicate(timeout=120) + (run.returncode,) for run in runs]
    assert [code for _, _, code in results] == [0, 0], results
    assert (out / "index.html").read_text() in ("a", "b")
    assert leftovers(tmp_path, "site") == []


def test_a_run_that_cannot_get_the_lock_in_time_says_so_and_touches_nothing(tmp_path, monkeypatch):
    out = tmp_path / "site"
    replace_directory(out, writer("previous"))
    with report_lock(out):
        monkeypatch.setattr(swap, "LOCK_WAIT_S", 0.3)
        with pytest.raises(CaseError, match=r"another run is writing this report directory \(process \d+ holds "
                                            r"\.site\.lock\); waited 0\.3 s") as raised:
            replace_directory(out, writer("new"))
    assert "give this one another --out" in raised.value.render()
    assert contents(out) == {"previous"}


KILL_BETWEEN_RENAMES = """
import os, signal, sys
from pathlib import Path
from harness.output.report.swap import replace_directory
renames = []
real = os.rename
def rename(source, destination):
    renames.append(source)
    if len(renames) == 2:  # the target is renamed away, the new one not yet in its place
        os.kill(os.getpid(), signal.SIGKILL)
    real(source, destination)
os.rename = rename
replace_directory(Path(sys.argv[1]), lambda staging: (staging / "index.html").write_text("never shown"))
"""


def test_a_swap_killed_between_its_renames_is_restored_by_the_next_run(tmp_path):
    out = tmp_path / "site"
    replace_directory(out, writer("previous"))
    killed = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, str(out)], cwd=ROOT, capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert killed.returncode == -9, killed.stderr
    assert not out.exists() and len(leftovers(tmp_path, "site")) == 2  # the .old and the .partial

    def interrupted(staging: Path) -> None:  # the next run is interrupted too, before its swap
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_directory(out, interrupted)
    assert contents(out) == {"previous"}, "the previous report is back in place"
    assert leftovers(tmp_path, "site") == []


def test_an_old_beside_a_target_is_removed(tmp_path):
    """Killed after the second rename, before deleting the old one: the target is the new report."""
    out = tmp_path / "site"
    replace_directory(out, writer("new"))
    (tmp_path / ".site.abc.old").mkdir()
    (tmp_path / ".site.abc.old" / "index.html").write_text("older")
    replace_directory(out, writer("newer"))
    assert contents(out) == {"newer"} and leftovers(tmp_path, "site") == []


def test_a_full_disk_is_a_message_naming_the_directory_and_the_previous_report_stays(tmp_path, monkeypatch):
    out = tmp_path / "site"
    replace_directory(out, writer("previous"))
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "7.html":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(CaseError) as raised:
        replace_directory(out, writer("new"))
    message = raised.value.render()
    assert "cannot write the report: no space left on the device" in message
    assert str(tmp_path) in message and "the previous report, if any, is unchanged" in message
    assert contents(out) == {"previous"}
    assert leftovers(tmp_path, "site") == []


def test_a_full_disk_under_harness_run_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    from harness.entry.cli import main

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(swap.tempfile, "mkdtemp", full)
    status = main(["run", str(ROOT / "cases" / "port_mlp_training.yaml"), "--frameworks", "numpy",
                   "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status != 0
    assert "no space left on the device" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err
