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

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PortError(Exception):
    """A port that could not be run or returned something unusable: the message names the port,
    the case, what was expected and what was found (its traceback or stderr follow it). The
    runner reports it as that port's `error`, without the harness's own traceback."""


@dataclass(frozen=True)
class Port:
    """A declared port and where its relative paths start."""

    spec: Any
    """The PythonPort or CommandPort of the case schema."""
    directory: Path
    """The case file's directory (ports in the case file) or the working directory (`--port`)."""
    origin: str = "case file"
    """Where it was declared: `case file` or `--port`, for messages."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return "python" if hasattr(self.spec, "python") else "command"

    @property
    def source(self) -> str:
        """What runs: `FILE.py:FUNCTION` or the command line."""
        if self.kind == "python":
            return self.spec.python
        return " ".join(self.spec.command)

    def describe(self) -> dict[str, Any]:
        """For results.json and the report."""
        return {"kind": self.kind, "source": self.source, "directory": str(self.directory),
                "weights_as": self.spec.weights_as, "dtype": self.spec.dtype, "origin": self.origin,
                "description": self.spec.description}


def port_backend(port: Port):
    """The Backend that runs this port."""
    if port.kind == "python":
        from harness.ports.python_port import PythonPortBackend

        return PythonPortBackend(port)
    from harness.ports.command_port import CommandPortBackend

    return CommandPortBackend(port)
