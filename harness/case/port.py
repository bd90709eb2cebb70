"""A port as the case declares it: plain data (its schema entry and where its paths start).

The runtime side, which runs it as a backend, is harness/backends/ports/; a `Case` holds only
this declaration, so the case layer imports nothing of the backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
