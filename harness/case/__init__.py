"""Case files: schema, loading, graph and data. `load_cases(paths)` is the entry point."""

from harness.case.case import Case, Dataset, cases_from_data, load_cases, load_cases_from_file

__all__ = ["Case", "Dataset", "cases_from_data", "load_cases", "load_cases_from_file"]
