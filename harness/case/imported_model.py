"""What a framework's importer returns: the saved model in the case's terms, and what the case
cannot express of it.

Apart from harness/weights/importing.py (which writes the case and dispatches to the importers) so that
each framework's importer (`harness/backends/<framework>/importer.py`) imports only this
module: importing.py imports the three importers, and importing back from it made a cycle
through which every framework package reached the other two (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class ImportProblem:
    layer: str
    type: str
    reason: str

    def render(self) -> str:
        return f"{self.layer} ({self.type}): {self.reason}"


@dataclass
class ImportedModel:
    """A framework's model in the case's terms (what the framework's importer returns)."""

    framework: str
    dtype: str
    inputs: dict[str, tuple[tuple[int, ...], str]]
    """Input name -> (shape without the batch axis, dtype)."""
    layers: list[dict[str, Any]]
    """Case layer specs in order: graph form (each with `inputs`) or sequential (none has)."""
    outputs: list[str]
    problems: list[ImportProblem]
    write_weights: Callable[[Path], Path]
    """Writes the model's weights in the framework's own format into a directory, returns the
    file; called only when there is no problem (or `partial`)."""
    predict: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    """The framework's own model on the case's inputs -> each output (names as `outputs`)."""
    weights_format: str = ""
    graph: bool = False
    write_cut_weights: Callable[[Path, list[str]], Path | None] | None = None
    """`--partial` on a graph, where the format binds tensors by position: writes the weights of
    the sub-model ending at the given outputs (None: the generic cut through the mapping)."""
