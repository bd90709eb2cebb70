"""Ports: a user's own implementation of a case's model, checked as one more backend.

A port is declared in a case file (`ports:`) or on the command line (`--port`) and is run behind
the same `Backend.run(case) -> RunResult` interface as the frameworks, so the runner, verdicts,
pairwise comparisons, results.json, JUnit, the pytest matrix and the report treat it as one more
column. Two kinds:

* `python: FILE.py:FUNCTION` (python_port.py): the function is called with the inputs and the
  weights in a worker process of the harness's (worker.py, worker_process.py), so that a crash,
  an exit or a hang is that port's `error` and the run goes on;
* `command: [...]` (command_port.py): an external program reads the inputs and weights from .npz
  files and writes its outputs to one.

What a port may return, and how it becomes a RunResult, is in returns.py; how the weights are
handed to it (`weights_as`) in layouts.py; `--port` in command_line.py; what `python -m harness
run` prints when a port fails or errors, in console.py.
"""

from __future__ import annotations

from harness.ports.backends import port_backend
from harness.ports.errors import PortError

__all__ = ["PortError", "port_backend"]
