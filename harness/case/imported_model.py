"""What a framework's importer returns: the saved model in the case's terms, and what the case
cannot express of it.

Apart from harness/weights/importing.py (which writes the case and dispatches to the importers) so that
each framework's importer (`harness/backends/<framework>/importer.py`) imports only this
module: importing.py imports the three importers, and importing back from it made a cycle
through which every framework package reached the other two (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness.common.errors import CaseError


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
    notes: list[str] = field(default_factory=list)
    """What the import chose that the saved model leaves open (a variable length taken from
    `--input-shape`): the case's description states it."""


def fixed_input_shapes(saved: dict[str, tuple], given: list[tuple[int, ...]] | None
                       ) -> tuple[dict[str, tuple[int, ...]], list[ImportProblem], list[str]]:
    """Each input's shape with its unknown sizes (None, a variable length: `shape=(None,)`)
    taken from `given`, one shape per input in the model's input order (`--input-shape`).
    A case's data has fixed sizes, so an unknown size with no given shape is a problem that asks
    for one; a given size where the saved model fixes another is a user error. Returns
    (shapes, problems, notes for the case's description)."""
    order = ", ".join(f"{name} {_shown(shape)}" for name, shape in saved.items())
    if given is not None and len(given) != len(saved):
        raise CaseError(f"{len(given)} shape(s) given for {len(saved)} input(s)", field="--input-shape",
                        expected=f"one --input-shape per input, in the model's order: {order}",
                        found=" ".join(",".join(map(str, shape)) for shape in given))
    shapes, problems, notes = {}, [], []
    for index, (name, shape) in enumerate(saved.items()):
        open_sizes = [axis for axis, size in enumerate(shape) if size is None]
        if given is None:
            shapes[name] = shape
            if open_sizes:
                example = ",".join(str(size or 8) for size in shape)
                problems.append(ImportProblem(name, "Input", f"shape {_shown(shape)} has an unknown size; a case's "
                                              f"data has fixed sizes: give them with --input-shape (one per input, "
                                              f"in order: {order}), e.g. --input-shape {example}"))
            continue
        chosen = tuple(given[index])
        if len(chosen) != len(shape) or any(size is not None and size != want for size, want in zip(shape, chosen)):
            raise CaseError(f"input {name}'s shape does not fit the saved model's", field="--input-shape",
                            expected=f"{_shown(shape)} with each None replaced by a size (no batch axis)",
                            found=",".join(map(str, chosen)))
        shapes[name] = chosen
        if open_sizes:
            notes.append(f"input {name}: shape {_shown(shape)} in the saved model (variable size), imported "
                         f"as {_shown(chosen)} from --input-shape")
    return shapes, problems, notes


def _shown(shape: tuple) -> str:
    return "(" + ", ".join("None" if size is None else str(size) for size in shape) + ("," if len(shape) == 1 else "") + ")"
