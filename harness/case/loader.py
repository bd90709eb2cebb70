"""Read a case file: YAML with line numbers, variants laid over shared keys, schema validation.

Errors name the file, the line, the field path, what was expected and what was found. ruamel.yaml
is used rather than PyYAML because it keeps the line of every key (for those messages), follows
YAML 1.2 (`1e-5` is a float, `no` is a string) and rejects duplicate keys.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from harness.case.data import DATA_SOURCE_KEYS
from harness.case.limits import MAX_FILE_BYTES, MAX_NESTING, MAX_YAML_NODES
from harness.case.schema import CaseSpec, PORT_KINDS, VariantSpec
from harness.common.errors import CaseError, CaseErrors
from harness.reference.activations import ACTIVATIONS
from harness.reference.defaultable import UNION_TAGS as DEFAULTABLE_TAGS
from harness.reference.initializers import INITIALIZERS
from harness.reference.layers import LAYERS
from harness.reference.losses import LOSSES
from harness.reference.metrics import METRICS
from harness.reference.optimizers import OPTIMIZERS


@dataclass
class LoadedCase:
    """A validated case and where it came from."""

    spec: CaseSpec
    file: Path
    source_text: str
    case_id: str
    """`name`, or `name.variant` for a variant."""
    raw_nodes: tuple[Any, ...]
    """The YAML nodes the case was built from (variant first), for locating later errors."""

    def locate(self, path: tuple[Any, ...]) -> tuple[str, int | None]:
        return locate(self.raw_nodes, path)

    def error(self, message: str, path: tuple[Any, ...] = (), **details: Any) -> CaseError:
        field, line = self.locate(path)
        return CaseError(message, file=str(self.file), field=field or None, line=line, **details)


def load_case_file(path: str | Path) -> list[LoadedCase]:
    """All cases in one file (one, or one per variant). Raises CaseError on any problem."""
    path = Path(path)
    text = read_text(path)
    root = parse_yaml(text, path)
    check_tree(root, path)
    if not isinstance(root, CommentedMap):
        raise CaseError("a case file must be a YAML mapping", file=str(path), line=1,
                        expected="keys such as name, inputs, model, loss", found=type(root).__name__)
    if "variants" not in root:
        return [validate(root, (root,), path, text, case_id=str(root.get("name", path.stem)))]
    return load_variants(root, path, text)


def load_case_data(data: dict[str, Any], file: str = "<memory>") -> list[LoadedCase]:
    """Cases from an already-parsed mapping (tests and programmatic use).

    The mapping becomes the tree the YAML loader would give (commented), not a YAML text that
    is dumped and parsed again: that round trip cost about 30 ms a case, most of the unit tests'
    time. Error messages then give the line the field would have in a block-style dump."""
    root, text = commented(data), ""  # no source text: nothing was read
    if "variants" in root:
        return load_variants(root, Path(file), text)
    return [validate(root, (root,), Path(file), text, case_id=str(root.get("name", file)))]


def commented(value: Any, lines: Iterator[int] | None = None, line: int | None = None) -> Any:
    """Plain dicts and lists (tuples) as ruamel's round-trip containers, each key and item with a
    line in dump order (what `locate` reads); scalars as they are."""
    lines = itertools.count() if lines is None else lines
    if isinstance(value, dict):
        node = CommentedMap()
        for index, (key, item) in enumerate(value.items()):
            # The first key of a mapping that is a list item sits on the item's line (`- a: 1`).
            at = line if index == 0 and line is not None else next(lines)
            node.lc.add_kv_line_col(key, [at, 0, at, 0])
            node[key] = commented(item, lines)
        return node
    if isinstance(value, (list, tuple)):
        node = CommentedSeq()
        for index, item in enumerate(value):
            at = line if index == 0 and line is not None else next(lines)
            node.lc.add_kv_line_col(index, [at, 0, at, 0])
            node.append(commented(item, lines, at) if isinstance(item, (dict, list, tuple)) and item else item)
        return node
    return value


def read_text(path: Path) -> str:
    """The file's text, refused past MAX_FILE_BYTES before it is read, and as UTF-8 only."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES.value():
            raise CaseError(f"the case file is {size:,} bytes long", file=str(path),
                            hint=MAX_FILE_BYTES.hint() + "; large weights belong in a file beside "
                                 "the case (weights: {file: NAME.npz})")
        data = path.read_bytes()
    except OSError as exc:
        raise CaseError(f"cannot read the case file: {exc.strerror}", file=str(path),
                        hint="check the path; case files live in cases/*.yaml") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CaseError(f"the case file is not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                        f"{exc.start})", file=str(path), line=line,
                        hint="save the file as UTF-8") from None


def parse_yaml(text: str, path: Path) -> Any:
    yaml = YAML(typ="rt")
    yaml.max_depth = MAX_NESTING.value()  # refused as the parser reaches it, before any recursion
    try:
        return yaml.load(text)
    except RecursionError:
        raise CaseError("the YAML is nested too deeply to parse", file=str(path),
                        hint=MAX_NESTING.hint()) from None
    except ReaderError as exc:  # a control character: not a MarkedYAMLError, it has a position
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        raise CaseError(f"invalid YAML: character {exc.character!r} is not allowed in YAML text",
                        file=str(path), line=line, hint="remove the control character") from None
    except MaxDepthExceededError as exc:
        raise CaseError(f"the case file is nested more than {MAX_NESTING.value()} levels deep",
                        file=str(path), line=exc.problem_mark.line + 1 if exc.problem_mark else None,
                        hint=MAX_NESTING.hint()) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc).splitlines()[0]
        raise CaseError(f"invalid YAML: {problem}", file=str(path), line=line,
                        hint="see the YAML at that line (indentation, duplicate keys, quotes)") from None


def check_tree(root: Any, path: Path) -> None:
    """Bound the number of values the tree holds once its aliases are expanded, and its depth,
    before anything walks it recursively or copies it.

    An alias (`*name`) is a reference to a node defined earlier: ruamel keeps it shared, and
    `to_plain` and pydantic expand it, so nine levels of nine aliases in 550 bytes become 9^9
    values (the issue-26 alias bomb) and a recursive alias never ends. Aliases have honest uses
    (one tolerance mapping for several checks, as tests/report_cases do), so they are counted as
    expanded, not refused: this walk visits every expanded value and stops at the budget, and
    it is iterative, so a recursive alias stops at the depth limit instead of Python's."""
    max_depth, max_values = MAX_NESTING.value(), MAX_YAML_NODES.value()
    stack: list[tuple[Any, int, Any, Any]] = [(root, 1, None, None)]
    values = 0
    while stack:
        node, depth, parent, key = stack.pop()
        values += 1
        if values > max_values:
            raise CaseError(f"the case file holds more than {max_values:,} values once its aliases "
                            "(*name) are expanded", file=str(path), line=_line_in(parent, key),
                            hint=MAX_YAML_NODES.hint())
        if depth > max_depth:
            raise CaseError(f"the case file is nested more than {max_depth} levels deep (with its "
                            "aliases expanded)", file=str(path), line=_line_in(parent, key),
                            hint=MAX_NESTING.hint())
        if isinstance(node, dict):
            stack.extend((item, depth + 1, node, item_key) for item_key, item in node.items())
        elif isinstance(node, list):
            stack.extend((item, depth + 1, node, index) for index, item in enumerate(node))


def _line_in(parent: Any, key: Any) -> int | None:
    try:
        if isinstance(parent, CommentedMap):
            return parent.lc.key(key)[0] + 1
        if isinstance(parent, CommentedSeq):
            return parent.lc.item(key)[0] + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return None


def load_variants(root: CommentedMap, path: Path, text: str) -> list[LoadedCase]:
    variants = root["variants"]
    if not isinstance(variants, CommentedSeq) or not variants:
        field, line = locate((root,), ("variants",))
        raise CaseError("`variants` must be a non-empty list of mappings", file=str(path),
                        field=field, line=line, found=to_plain(variants))
    shared = {key: value for key, value in root.items() if key != "variants"}
    cases, errors, seen = [], [], set()
    for index, variant in enumerate(variants):
        variant_path: tuple[Any, ...] = ("variants", index)
        try:
            VariantSpec.model_validate(to_plain(variant))
        except ValidationError as exc:
            errors.extend(validation_errors(exc, (root,), path, prefix=variant_path))
            continue
        name = variant["name"]
        if name in seen:
            field, line = locate((root,), (*variant_path, "name"))
            errors.append(CaseError(f"variant name {name!r} is used twice", file=str(path),
                                    field=field, line=line, hint="give every variant its own name"))
            continue
        seen.add(name)
        merged = CommentedMap({**shared, **{k: v for k, v in variant.items() if k != "name"}})
        case_id = f"{root.get('name', path.stem)}.{name}"
        try:
            cases.append(validate(merged, (variant, root), path, text, case_id=case_id))
        except CaseErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise CaseErrors(errors)
    return cases


def validate(data: CommentedMap, nodes: tuple[Any, ...], path: Path, text: str,
             case_id: str) -> LoadedCase:
    try:
        spec = CaseSpec.model_validate(to_plain(data))
    except ValidationError as exc:
        raise CaseErrors(validation_errors(exc, nodes, path)) from None
    return LoadedCase(spec=spec, file=path, source_text=text, case_id=case_id, raw_nodes=nodes)


def validation_errors(exc: ValidationError, nodes: tuple[Any, ...], path: Path,
                      prefix: tuple[Any, ...] = ()) -> list[CaseError]:
    errors = []
    for error in exc.errors(include_url=False):
        loc = (*prefix, *error["loc"])
        field, line = locate(nodes, loc)
        if line is None and (error["type"] == "missing" or not field):
            # A missing field, or a rule over several fields (a model validator: "a training case
            # needs both `optimizer` and `training`"): the line of the mapping it belongs to.
            line = _enclosing_line(nodes, loc)
        found = error.get("input")
        if isinstance(found, dict | list) or error["type"] == "missing":
            found = None
        errors.append(CaseError(_message(error), file=str(path), field=field or None, line=line,
                                found=found, hint=_hint(error)))
    return errors


def _enclosing_line(nodes: tuple[Any, ...], loc: tuple[Any, ...]) -> int | None:
    """A missing field has no line of its own: the line of the mapping it belongs in (its first
    key), so an editor jumps to where it should be written (a variant's `name` line, or the case's
    first line)."""
    for end in range(len(loc) - 1, -1, -1):
        _, line = locate(nodes, loc[:end])
        if line is not None:
            return line
    first = nodes[0] if nodes else None
    if isinstance(first, CommentedMap) and first:
        return first.lc.key(next(iter(first)))[0] + 1
    return None


MISSING_HINTS = {
    ("loss",): "a case with gradients or training checks states a loss (a forward-only case may leave it "
               "out): e.g. `loss: {type: mean_squared_error, reduction: mean}` "
               "with a target shaped like the output, `targets: {t: {shape: [...], data: {normal: {}}}}`",
    ("loss", "reduction"): "write `reduction: mean` (average of the per-sample losses) or `reduction: sum`: "
                           "it scales every gradient by the batch size, so it is never left to a default",
}
"""Hints for required fields whose purpose is not obvious from their name, by field path."""


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown field (misspelt, or not valid here)"
    if error["type"] == "union_tag_invalid":
        ctx = error.get("ctx", {})
        known = ", ".join(sorted(str(ctx.get("expected_tags", "")).split(", ")))  # alphabetical, to scan
        return f"unknown {ctx.get('discriminator', 'type').strip(chr(39))} {ctx.get('tag')!r}; known: {known}"
    return error["msg"]


def _hint(error: dict[str, Any]) -> str | None:
    if error["type"] == "missing":
        names = tuple(part for part in error["loc"] if isinstance(part, str) and not _is_union_tag(part))
        return MISSING_HINTS.get(names)
    if error["type"] == "extra_forbidden":
        return "see harness/case/case.schema.json or docs/case-format.md for the fields each section takes"
    wrong_kind = error["type"].endswith("_type") or error["type"] == "literal_error"
    if "explicit" in error["loc"] and wrong_kind and not _quoted_number(error.get("input")):
        # A Defaultable field given neither a value nor a framework_default mapping.
        return ("write a value, or ask for each framework's own default with "
                "{framework_default: {reference: VALUE_FOR_THE_NUMPY_REFERENCE, reason: WHY}}")
    if error["type"] in ("float_type", "int_type", "bool_type") and isinstance(error.get("input"), str):
        return "write the number or boolean without quotes (YAML 1.2: 1e-5, true, false)"
    return None


def _quoted_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def locate(nodes: tuple[Any, ...], path: tuple[Any, ...]) -> tuple[str, int | None]:
    """Dotted field path and 1-based line of `path` in the first YAML node that holds it.

    Path parts that are not keys of the YAML (pydantic's union tags such as 'Dense') are skipped.
    """
    best_line, best_field, best_depth = None, "", 0
    for root in nodes:
        node, field, line, depth = root, "", None, 0
        for part in path:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                field = f"{field}.{part}" if field else str(part)
                node = node[part]
                depth += 1
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line = node.lc.item(part)[0] + 1
                field = f"{field}[{part}]"
                node = node[part]
                depth += 1
            elif isinstance(part, str) and not _is_union_tag(part):
                field = f"{field}.{part}" if field else part
        if line is not None and depth > 0 and (best_line is None or depth > best_depth):
            best_line, best_field, best_depth = line, field, depth
        elif best_line is None:
            best_field = field
    return best_field, best_line


def _is_union_tag(part: str) -> bool:
    # pydantic inserts the chosen union member into error paths: a layer type ('Dense'), an
    # activation ('leaky_relu'), an initializer, a data source ('uniform'), or a validator
    # wrapper ('function-after[...]'), an optimizer ('sgd'), a metric ('sign_accuracy'), a port's
    # kind ('python_port'). They are not keys of the YAML.
    return "[" in part or part in _union_tags()


@cache
def _union_tags() -> frozenset[str]:
    return frozenset({*LAYERS, *ACTIVATIONS, *INITIALIZERS, *LOSSES, *OPTIMIZERS, *DATA_SOURCE_KEYS,
                      *DEFAULTABLE_TAGS, *METRICS, *PORT_KINDS.values()})


def to_plain(value: Any) -> Any:
    """ruamel's commented containers and scalar subclasses -> plain dict/list/str/int/float."""
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value
