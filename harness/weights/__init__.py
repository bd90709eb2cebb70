"""A case's weights in and out of framework files: each framework's own names and layouts
(native_weights), checkpoint files (checkpoints), saved models turned into cases (importing).

The loaders here are the case layer's, with the checkpoint reader handed in, so that a case whose
weights come from a file (`weights: {file}`) is read whole; use them wherever a case file may
name one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.case import Case
from harness.case import case as case_loading
from harness.weights.checkpoints import weights_from_case_file

__all__ = ["cases_from_data", "load_cases", "load_cases_from_file"]


def load_cases(paths: str | Path | list[str | Path]) -> list[Case]:
    """Every case in the files or directories (harness.case.load_cases), weights files read."""
    return case_loading.load_cases(paths, weights_from_case_file)


def load_cases_from_file(path: str | Path) -> list[Case]:
    return case_loading.load_cases_from_file(path, weights_from_case_file)


def cases_from_data(data: dict[str, Any], file: str = "<memory>") -> list[Case]:
    return case_loading.cases_from_data(data, file, weights_from_case_file)
