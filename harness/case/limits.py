"""How much a case file may ask for: stated limits, checked before anything is allocated.

A case file is untrusted input (it travels between people: a colleague's repository, a campaign's
output, a pull request), so reading one must cost a bounded amount of time and memory whatever it
says. Each limit is generous for the shipped cases (the largest asks for about 10^4 elements) and
can be raised for a big real model, by an environment variable (read when the limit is needed, so
it reaches pytest and every subprocess) or by `python -m harness run/show --max-elements N`, which
sets that variable. docs/security.md lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.common.errors import CaseError


@dataclass(frozen=True)
class Limit:
    name: str
    environment: str
    default: int
    what: str
    flag: str | None = None

    def value(self) -> int:
        text = os.environ.get(self.environment, "").strip()
        if not text:
            return self.default
        try:
            value = int(float(text))
        except ValueError:
            raise CaseError(f"{self.environment} must be a whole number", field=self.environment,
                            found=text, expected=f"e.g. {self.default}") from None
        if value <= 0:
            raise CaseError(f"{self.environment} must be positive", field=self.environment, found=text)
        return value

    def hint(self) -> str:
        how = f"{self.flag} N or {self.environment}=N" if self.flag else f"{self.environment}=N"
        return f"{self.what} is limited to {self.value():,} (raise it with {how}; see docs/security.md)"


MAX_ELEMENTS = Limit("max_elements", "HARNESS_MAX_ELEMENTS", 20_000_000,
                     "the elements of a case's generated data, of its parameters, of its layers' outputs "
                     "for the batch (each counted before it is made) and of any one array an "
                     "expression makes", "--max-elements")
MAX_FILE_BYTES = Limit("max_file_bytes", "HARNESS_MAX_CASE_BYTES", 128 * 1024,
                       "the size of a case file in bytes", "--max-case-bytes")
"""ruamel.yaml's round-trip parser (kept for the line of every key) reads about 25-40 KB a second
on a loaded two-core machine (a 240 KB `values` list took 22 s there): 128 KiB bound a parse to
about 10 s. The largest shipped case is 12 KB;
weights of real models belong in a file beside the case (`weights: {file: NAME.npz}`)."""
MAX_NESTING = Limit("max_nesting", "HARNESS_MAX_NESTING", 64, "the nesting depth of a case file")
MAX_YAML_NODES = Limit("max_yaml_nodes", "HARNESS_MAX_YAML_NODES", 200_000,
                       "the number of values (scalars, lists, mappings) in a case file, its aliases "
                       "(*name) expanded")
"""A case file of MAX_FILE_BYTES holds at most about 65,000 values written out; the rest of the
budget is for aliases, whose expansion it bounds (the alias bomb: 9^9)."""
MAX_EXPRESSION_SECONDS = Limit("max_expression_seconds", "HARNESS_MAX_EXPRESSION_SECONDS", 10,
                               "the wall-clock time of one `expression` in seconds")
MAX_EXPRESSION_CHARS = Limit("max_expression_chars", "HARNESS_MAX_EXPRESSION_CHARS", 2000,
                             "the length of one `expression` in characters")

LIMITS = (MAX_ELEMENTS, MAX_FILE_BYTES, MAX_NESTING, MAX_YAML_NODES, MAX_EXPRESSION_SECONDS,
          MAX_EXPRESSION_CHARS)
