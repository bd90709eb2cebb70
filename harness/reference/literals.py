"""Literal numbers written in a case file (`values:` of data and of weights), checked as data.

Without this, NumPy decides: a null becomes a silent NaN, ragged rows an object array or a
ValueError traceback, a string a string array. Here each is a field error instead.
"""

from __future__ import annotations

from typing import Any


def literal_shape(values: Any) -> tuple[int, ...]:
    """The shape of nested lists of numbers; ValueError (a field error) for anything else: a
    string, a null (which NumPy would make a silent NaN), a boolean, or ragged lists (which NumPy
    would make an object array or refuse with a traceback). Iterative: depth costs no recursion."""
    shapes: set[tuple[int, ...]] = set()
    stack: list[tuple[Any, tuple[int, ...]]] = [(values, ())]
    while stack:
        value, at = stack.pop()
        if isinstance(value, list):
            if not value:
                shapes.add((*at, 0))
            stack.extend((item, (*at, len(value))) for item in value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            shown = "null" if value is None else repr(value)
            hint = " (write .nan, with `nonfinite:` on the case, for a NaN)" if value is None else ""
            raise ValueError(f"values are numbers, found {shown}{hint}")
        else:
            shapes.add(at)
        if len(shapes) > 1:
            raise ValueError("values are ragged: lists at the same depth have different lengths, or "
                             "numbers and lists are mixed (every row needs as many numbers)")
    if not isinstance(values, list) or not shapes or not next(iter(shapes)):
        raise ValueError("values are nested lists of numbers, the batch axis first, e.g. [[0.3, 0.1]]")
    return next(iter(shapes))
