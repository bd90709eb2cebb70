"""A seeded mutator of case files, for tests/test_case_fuzz.py: each mutant is the text of a
shipped case file with one or two edits of the kinds a damaged or hostile file shows."""

from __future__ import annotations

import random
import re
from pathlib import Path

CASES = Path(__file__).parents[1] / "cases"

HOSTILE_VALUES = [
    ".inf", "-.inf", ".nan", "null", "~", "-1", "0", "1e308", "1000000000000", "99999999999999999999999",
    "''", "'x'", "\"loadtxt('/etc/passwd')\"", "[]", "{}", "[[1, 2], [3]]", "[[null, null]]", "true",
    "&anchor 1", "*anchor", "{{a: 1}: 2}", "[" * 80 + "]" * 80, "!!python/object:os.system 'true'",
    "\"ones((15000, 15000))\"", "\"x.tofile('f')\"", "2.5", "-0.0", "[1, 2, 3]", "{values: [[1]]}",
]
NUMBER = re.compile(r"(?<![\w.])-?\d+(\.\d+)?([eE]-?\d+)?(?![\w.])")
SCALAR = re.compile(r"(?<=: )[^\s{}\[\],#][^{}\[\],#\n]*")


def shipped_texts() -> list[tuple[str, str]]:
    return [(path.name, path.read_text(encoding="utf-8")) for path in sorted(CASES.glob("*.yaml"))]


def mutate(text: str, rng: random.Random) -> str | bytes:
    return MUTATIONS[rng.randrange(len(MUTATIONS))](text, rng)


def _replace_match(pattern: re.Pattern[str], text: str, rng: random.Random) -> str:
    matches = list(pattern.finditer(text))
    if not matches:
        return text
    match = rng.choice(matches)
    return text[:match.start()] + rng.choice(HOSTILE_VALUES) + text[match.end():]


def replace_number(text, rng):
    return _replace_match(NUMBER, text, rng)


def replace_scalar(text, rng):
    return _replace_match(SCALAR, text, rng)


def scale_number(text, rng):
    matches = list(NUMBER.finditer(text))
    if not matches:
        return text
    match = rng.choice(matches)
    factor = rng.choice(["000", "000000", "0000000000"])
    return text[:match.end()] + (factor if "." not in match.group() else "e9") + text[match.end():]


def delete_span(text, rng):
    start = rng.randrange(len(text))
    return text[:start] + text[start + rng.randint(1, 40):]


def duplicate_line(text, rng):
    lines = text.splitlines(keepends=True)
    index = rng.randrange(len(lines))
    return "".join(lines[:index + 1] + [lines[index]] + lines[index + 1:])


def swap_lines(text, rng):
    lines = text.splitlines(keepends=True)
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return "".join(lines)


def reindent_line(text, rng):
    lines = text.splitlines(keepends=True)
    index = rng.randrange(len(lines))
    lines[index] = " " * rng.randint(0, 9) + lines[index].lstrip(" ")
    return "".join(lines)


def insert_bytes(text, rng) -> bytes:
    data = text.encode()
    at = rng.randrange(len(data))
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return data[:at] + junk + data[at:]


def truncate(text, rng):
    return text[:rng.randrange(len(text))]


def swap_keys(text, rng):
    keys = ["samples", "shape", "units", "values", "expression", "type", "name", "seed", "dtype", "low",
            "high", "rtol", "atol", "learning_rate", "classes", "steps", "batch_size", "kernel_size"]
    present = [key for key in keys if f"{key}:" in text]
    if not present:
        return text
    old, new = rng.choice(present), rng.choice(keys)
    return text.replace(f"{old}:", f"{new}:", 1)


MUTATIONS = [replace_number, replace_number, replace_scalar, replace_scalar, scale_number, delete_span,
             duplicate_line, swap_lines, reindent_line, insert_bytes, truncate, swap_keys]


def mutants(count: int, seed: int) -> list[tuple[str, str | bytes]]:
    """`count` mutants (name, content), one or two edits each, cycling over the shipped files."""
    rng = random.Random(seed)
    texts = shipped_texts()
    result = []
    for index in range(count):
        name, text = texts[index % len(texts)]
        content: str | bytes = text
        for _ in range(rng.choice((1, 1, 2))):
            if isinstance(content, bytes):
                break
            content = mutate(content, rng)
        result.append((f"{index:03d}_{name}", content))
    return result
