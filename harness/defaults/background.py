"""Reading the defaults table in a background process while a run goes on.

A run writes the defaults table of its frameworks into results.json. Read in the run's own
process on a machine without a stored copy, it costs seconds at the end of the first run
(torch's optimizer probes import torch._dynamo, about 1.8 s; Keras' first layer calls), which
made a first run twice as long as the next. So a run looks its copy up at the start, by the
installed distributions' versions (cache.installed_versions, no framework imported), and on a
miss starts `python -m harness defaults --json` for its frameworks, which reads the table on the
other core while the run uses this one; at the end it takes the process's table, stores it, and
only if that process failed reads the table itself, as before. Either way results.json notes
where the table came from (`defaults.cache`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

from harness.defaults.cache import installed_versions, store_table, stored_table
from harness.defaults.reading import DefaultContext
from harness.defaults.table import DefaultsSource, failed_table, for_results, table_frameworks

WAIT_SECONDS = 300
"""How long the end of a run waits for the background read before reading the table itself."""
HARNESS_PARENT = Path(__file__).resolve().parent.parent.parent
"""The directory that holds this `harness` package: the background process imports the same one."""


def stored_defaults(frameworks: list[str]) -> tuple[list[str], dict[str, str], int, dict[str, Any] | None]:
    """(the frameworks with defaults to audit, their installed versions, the readers' rank, the
    table stored under that key or None): the lookup, without importing a framework."""
    names = table_frameworks(frameworks)
    versions, rank = installed_versions(names), DefaultContext().rank
    return names, versions, rank, stored_table(versions, rank) if names else None


class DefaultsPrefetch:
    """The defaults table for a run's frameworks, started when the run starts."""

    def __init__(self, frameworks: list[str]) -> None:
        self.names, self.versions, self.rank, self.table = stored_defaults(frameworks)
        self.process: subprocess.Popen | None = None
        self._output = None
        if self.names and self.table is None:
            self._start()

    def _start(self) -> None:
        self._output = tempfile.TemporaryFile()
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(HARNESS_PARENT)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else []))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harness", "defaults", "--json", "--frameworks", ",".join(self.names)],
                stdout=self._output, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=environment,
                cwd=HARNESS_PARENT)
        except OSError:
            self.process = None  # read in this process at the end

    def result(self, backends: Callable[[list[str]], Mapping[str, DefaultsSource]]) -> dict[str, Any] | None:
        """results.json's `defaults`; `backends(names)` gives the backends to read from here if the
        background read failed. Never raises: a failure is recorded."""
        if not self.names:
            return None
        if self.table is not None:
            return self.table
        table = self._background_table()
        if table is not None:
            return store_table(self.versions, self.rank, table, "read afresh in a background process")
        try:
            return for_results(backends(self.names))
        except Exception as exc:  # the table is a by-product of the run
            return failed_table(exc)

    def _background_table(self) -> dict[str, Any] | None:
        if self.process is None:
            return None
        try:
            if self.process.wait(timeout=WAIT_SECONDS) != 0:
                return None
            self._output.seek(0)
            table = json.loads(self._output.read().decode("utf-8"))
        except (subprocess.TimeoutExpired, OSError, ValueError):
            self.cancel()
            return None
        finally:
            self._output.close()
        return table if isinstance(table, dict) and table.get("frameworks") == self.names else None

    def cancel(self) -> None:
        """Stop the background read (a run that ends without a report)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def defaults_now(frameworks: list[str],
                 backends: Callable[[list[str]], Mapping[str, DefaultsSource]]) -> dict[str, Any] | None:
    """The table of these frameworks at once, in this process, for a caller that cannot wait for
    the end of a run (a diagnosis hint's alternatives: transforms/base.py framework_context):
    the copy DefaultsPrefetch stores, looked up by the same key, else read here from
    `backends(names)` (importing the frameworks) and stored under that key for the next run."""
    names, versions, rank, table = stored_defaults(frameworks)
    if not names or table is not None:
        return table
    table = for_results(backends(names))
    return store_table(versions, rank, table) if table is not None and "error" not in table else table
