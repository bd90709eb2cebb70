"""Case files: schema, loading, graph and data. `load_cases(paths)` is the entry point."""

from harness.case.case import Case, Dataset, load_cases, load_cases_from_file

__all__ = ["Case", "Dataset", "load_cases", "load_cases_from_file"]
