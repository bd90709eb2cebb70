"""The one exception type the harness raises for bad user input.

Tracebacks are for the harness's own bugs. A malformed case file, an unknown layer or an
impossible shape is the user's to fix, so the message names the file, the place in it, what was
expected, what was found, and what to do next.
"""

from __future__ import annotations


class CaseError(Exception):
    """A problem in a case file, reported without a traceback."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 line: int | None = None, expected: str | None = None,
                 found: object = None, hint: str | None = None) -> None:
        self.message = message
        self.file = file
        self.field = field
        self.line = line
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f": {self.field}" if where else self.field
        parts = [f"{where}: {self.message}" if where else self.message]
        if self.expected is not None:
            parts.append(f"  expected: {self.expected}")
        if self.found is not None:
            parts.append(f"  found: {_short(self.found)}")
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class CaseErrors(CaseError):
    """Several problems found in one file, reported together so one edit fixes them all."""

    def __init__(self, errors: list[CaseError]) -> None:
        # A mistake in a file's shared part shows up once per variant: say it once.
        unique = {error.render(): error for error in errors}
        self.errors = errors = list(unique.values())
        Exception.__init__(self, "\n".join(error.render() for error in errors))
        self.message = str(self)
        self.file = errors[0].file if errors else None
        self.field = self.line = self.expected = self.found = self.hint = None

    def render(self) -> str:
        return "\n".join(error.render() for error in self.errors)


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Unsupported(Exception):
    """A backend (a framework, or the reference) cannot express what the case asks; the message
    says why. Reported as `skipped` with that reason, never as a pass.

    Defined here rather than in harness/backends/base.py so that a layer's reference can raise it
    too (harness/reference/layers must not import the adapters, which import the case and the layers)."""
