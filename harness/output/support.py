"""`python -m harness support`: what each framework can do with every layer kind, activation, loss
and optimizer, measured or read from the frameworks' registries (not typed in by hand), and where
it cannot, the reason declared on the kind's own spec (`Spec.not_covered`, harness/reference/spec.py).

The columns (harness.reference.spec.COLUMNS), per framework:

* built: every example of harness/case/examples.py built: native, composite (the framework's
  primitives, with the reason), or unsupported with the adapter's reason;
* importable: a registered import translation `produces` the kind (REGISTRY.importable_kinds(),
  harness/backends/framework_registry.py); an activation counts as `Activation:<name>`;
* exportable: each built example's weights written as the framework's own checkpoint file and read
  back equal (harness/weights/checkpoints.py, what `python -m harness export` runs); layers with
  weights only;
* reproducer: the framework's reproducer template renders the example (REGISTRY.templates, what
  `python -m harness repro` writes); layers and activations;
* defaults: every framework-default field of the spec (harness/reference/defaultable.py) has a
  reader in REGISTRY.defaults; kinds with such fields only.

`--write docs/support.md` replaces the tables between that page's support-table markers;
tests/test_coverage.py keeps the page current and tests/test_support_table.py fails on a gap
without a reason and on a declared reason whose capability exists.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends import get_backend
from harness.backends.base import FrameworkBackend, Unsupported
from harness.backends.framework_registry import FrameworkRegistry
from harness.case.examples import (LAYER_EXAMPLES, LOSS_EXAMPLES, OPTIMIZER_EXAMPLES, single_layer_case,
                                   single_loss_case, training_case)
from harness.case.schema import NATIVE_FRAMEWORKS as FRAMEWORKS
from harness.common.docs_section import read_section, replace_section
from harness.reference.activations import ACTIVATIONS
from harness.reference.defaultable import FrameworkDefault
from harness.reference.layers import LAYERS
from harness.reference.losses import LOSSES
from harness.reference.optimizers import OPTIMIZERS
from harness.reference.spec import COLUMNS, Spec
from harness.weights.checkpoints import EXPORT_SUFFIXES, canonical_weights, write_checkpoint
from harness.weights.native_weights import WeightsMismatch

START, END = "<!-- support-table:start -->", "<!-- support-table:end -->"
SECTIONS = {"layer": LAYERS, "activation": ACTIVATIONS, "loss": LOSSES, "optimizer": OPTIMIZERS}
"""Row kind -> the registry of its spec classes (where its declared reasons live)."""
ACTIVATION_KIND = "Activation:{name}"
"""What an import translation lists in `produces` for an activation it yields (an `Activation`
layer with that activation): an activation row is importable when some translation produces it."""
COVERING = ("native", "composite", "yes")
TITLES = {"built": "Built", "importable": "Importable", "exportable": "Exportable (own checkpoint format)",
          "reproducer": "Reproducer", "defaults": "Framework defaults read"}


@dataclass
class Support:
    """One cell: what the examples gave (native/composite/unsupported, or yes/no), the adapter's
    reasons where it refused (Unsupported), and failures (an error where it should have worked)."""

    kinds: set[str] = field(default_factory=set)
    details: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unknown: str = ""
    """Set where the capability cannot be read yet (the framework's imports carry no `produces`)."""

    def add(self, kind: str, detail: str = "") -> None:
        self.kinds.add(kind)
        if kind not in ("native", "yes") and detail and detail not in self.details:
            self.details.append(detail)

    def fail(self, detail: str) -> None:
        self.kinds.add("no")
        if detail not in self.failures:
            self.failures.append(detail)

    @property
    def label(self) -> str:
        order = ("native", "composite", "yes", "unsupported", "no")
        return " / ".join(kind for kind in order if kind in self.kinds) or "?"

    @property
    def covered(self) -> bool:
        return any(kind in self.kinds for kind in COVERING) and not self.failures


@dataclass
class Row:
    section: str
    name: str
    spec: type[Spec]
    cells: dict[str, dict[str, Support]] = field(default_factory=dict)
    """framework -> column -> cell; a column that does not apply to this kind has no cell."""

    def cell(self, framework: str, column: str) -> Support:
        return self.cells.setdefault(framework, {}).setdefault(column, Support())

    def reason(self, framework: str, column: str) -> str | None:
        return self.spec.why_not_covered(framework, column)


@dataclass
class Gap:
    section: str
    name: str
    framework: str
    column: str
    text: str

    def __str__(self) -> str:
        return f"{self.section} {self.name}, {self.framework}, {self.column}: {self.text}"


def registry_of(backend: FrameworkBackend) -> FrameworkRegistry:
    """The framework package's REGISTRY, which its backend carries (harness.output names no
    framework package: the report-framework-free import contract)."""
    return backend.registry


def defaultable_fields(spec: type[Spec]) -> list[str]:
    """The fields a case may leave to each framework's default (typed Defaultable[T])."""
    def mentions(annotation: Any) -> bool:
        if isinstance(annotation, type) and issubclass(annotation, FrameworkDefault):
            return True
        return any(mentions(arg) for arg in getattr(annotation, "__args__", ()) or ()) or \
            any(mentions(arg) for arg in getattr(annotation, "__metadata__", ()) or () if isinstance(arg, type))
    return [name for name, info in spec.model_fields.items() if mentions(info.annotation)]


def example_key(example) -> tuple[str, str]:
    if example.type == "Activation":
        return "activation", example.config["activation"]["name"]
    return "layer", example.type


@cache
def support_matrix() -> tuple[dict[tuple[str, str], Row], list[str]]:
    """(section, name) -> Row, and the frameworks that could not be imported. Computed once per
    process: the CLI prints it, the tests read it twice."""
    rows: dict[tuple[str, str], Row] = {}

    def row(section: str, name: str) -> Row:
        return rows.setdefault((section, name), Row(section, name, SECTIONS[section][name]))

    missing = []
    # One case per example, shared by the frameworks (a case is read-only to a backend).
    layer_cases = [(example_key(example), single_layer_case(example)) for example in LAYER_EXAMPLES]
    loss_cases = [(example.config["type"], single_loss_case(example)) for example in LOSS_EXAMPLES]
    for framework in FRAMEWORKS:
        backend = get_backend(framework)
        if backend.unavailable_reason():
            missing.append(framework)
            continue
        assert isinstance(backend, FrameworkBackend)
        registry = registry_of(backend)
        mappings: set = set()
        with tempfile.TemporaryDirectory(prefix="support-") as scratch:
            for index, ((section, name), case) in enumerate(layer_cases):
                target = Path(scratch) / f"{index}{EXPORT_SUFFIXES[framework]}"
                layer_row(row(section, name), framework, backend, registry, case, target, mappings)
        for name, case in loss_cases:
            built = row("loss", name).cell(framework, "built")
            try:
                _, kind, detail = backend.build_loss(case.losses[0], case.spec.dtype)
                built.add(kind, detail)
            except Unsupported as exc:
                built.add("unsupported", str(exc))
        for optimizer in OPTIMIZER_EXAMPLES:
            row("optimizer", optimizer["type"]).cell(framework, "built").add(
                *optimizer_support(backend, training_case(optimizer, steps=1)))
        for entry in rows.values():
            defaults_read(entry, framework, registry)
            if entry.section in ("layer", "activation"):
                importable(entry, framework, registry)
    return rows, missing


def layer_row(entry: Row, framework: str, backend: FrameworkBackend, registry: FrameworkRegistry,
              case, checkpoint: Path, mappings: set) -> None:
    """Built, exportable and reproducer for one layer example (an activation's is an Activation layer).

    Exported: one example per weight mapping (`mappings`: the kind, and each binding's native
    name and transform): the round trip tests the mapping, which examples sharing it would only
    repeat (it halves the table's time)."""
    try:
        with backend.session(case):
            built = backend.build_layer(case, "layer")
        entry.cell(framework, "built").add(built.implementation, built.detail)
    except Unsupported as exc:
        entry.cell(framework, "built").add("unsupported", str(exc))
        return
    mapping = (entry.name, *((b.parameter, b.native_name, b.transform.description) for b in built.bindings),
               *(held.name for held in built.held))
    if entry.section == "layer" and case.graph.parameter_shapes and mapping not in mappings:
        mappings.add(mapping)
        exportable(entry.cell(framework, "exportable"), framework, case, checkpoint)
    reproducer(entry.cell(framework, "reproducer"), registry, case)


def exportable(cell: Support, framework: str, case, path: Path) -> None:
    """The case's weights written as the framework's own file and read back by the harness's
    reader: equal to the last bit, or the failure."""
    try:
        write_checkpoint(case, framework, path)
        back = canonical_weights(case, path, framework)
    except Unsupported as exc:
        cell.add("no", str(exc))
        return
    except WeightsMismatch as exc:
        # The tensors, not the message: it names the scratch file, and one footnote per cell suffices.
        cell.fail("the file does not read back: " + "; ".join(problem.render() for problem in exc.problems))
        return
    except Exception as exc:  # noqa: BLE001 -- one example's failure is a finding, not the end of the table
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        cell.fail(f"{type(exc).__name__}: {first.replace(str(path), path.name)}")
        return
    differing = [name for name in case.graph.parameter_shapes
                 if not np.array_equal(back[name], np.asarray(case.weights[name]).astype(case.dtype))]
    if differing:
        cell.fail(f"read back different: {', '.join(differing)}")
    else:
        cell.add("yes")


def reproducer(cell: Support, registry: FrameworkRegistry, case) -> None:
    """The framework's template for the layer rendered for this example (the source the
    reproducer runs), or the template's reason for refusing it."""
    (node,) = case.graph.nodes
    template = registry.templates.get(node.spec.type)
    if template is None:
        cell.add("no")
        return
    try:
        template(node.spec, node.input_shapes, case.spec.dtype, case.spec.mode == "training")
    except Unsupported as exc:
        cell.add("no", str(exc))
        return
    cell.add("yes")


def importable(entry: Row, framework: str, registry: FrameworkRegistry) -> None:
    cell = entry.cell(framework, "importable")
    produced = registry.importable_kinds()
    if entry.section == "layer":
        cell.add("yes" if entry.name in produced else "no")
    elif ACTIVATION_KIND.format(name=entry.name) in produced:
        cell.add("yes")
    elif "Activation" in produced:
        cell.unknown = (f"not read: {framework}'s translations that produce `Activation` do not say which "
                        f"activation (`produces=(\"{ACTIVATION_KIND.format(name='relu')}\",)` would)")
    else:
        cell.add("no")


def defaults_read(entry: Row, framework: str, registry: FrameworkRegistry) -> None:
    fields = defaultable_fields(entry.spec)
    if not fields:
        return
    unread = [name for name in fields if f"{entry.name}.{name}" not in registry.defaults]
    cell = entry.cell(framework, "defaults")
    if unread:
        cell.add("no", f"no reader of {', '.join(f'{entry.name}.{name}' for name in unread)}")
    else:
        cell.add("yes")


def optimizer_support(backend: FrameworkBackend, case) -> tuple[str, str]:
    """(native|composite|unsupported, detail) of the case's optimizer in this framework."""
    with backend.session(case):
        built, _ = backend.build(case)
        trainable = set(case.trainable_parameters())
        natives = [b.native for layer, layer_built in built.items() for b in layer_built.bindings
                   if f"{layer}/{b.parameter}" in trainable]
        try:
            optimizer = backend.build_optimizer(case.spec.optimizer, natives, case.spec.dtype)
        except Unsupported as exc:
            return "unsupported", str(exc)
    return optimizer.implementation, optimizer.detail


def gaps() -> list[Gap]:
    """Every (kind, framework, column) that is neither covered nor explained: no declared reason
    and no reason from the adapter (an Unsupported message); an exportable failure needs a
    declared reason however it was measured."""
    found = []
    for entry, framework, column, cell in cells():
        if cell.unknown or cell.covered or entry.reason(framework, column):
            continue
        if cell.details and not cell.failures:
            continue
        found.append(Gap(entry.section, entry.name, framework, column,
                         "; ".join(cell.failures) or f"not {column} in {framework}, and no reason declared "
                         f"in {entry.spec.__name__}.not_covered"))
    return found


def stale_reasons() -> list[Gap]:
    """Declared reasons whose capability exists: remove them from the spec's not_covered."""
    rows, missing = support_matrix()
    found = []
    for entry in rows.values():
        for framework in FRAMEWORKS:
            if framework in missing:
                continue
            for column in COLUMNS:
                reason = entry.reason(framework, column)
                cell = entry.cells.get(framework, {}).get(column)
                if reason is None or (cell is not None and cell.unknown):
                    continue
                if cell is None:
                    found.append(Gap(entry.section, entry.name, framework, column,
                                     f"the column does not apply to it, yet a reason is declared: {reason}"))
                elif cell.covered:
                    found.append(Gap(entry.section, entry.name, framework, column,
                                     f"covered now ({cell.label}), yet declared: {reason}"))
    return found


def cells():
    rows, _ = support_matrix()
    for entry in rows.values():
        for framework, columns in entry.cells.items():
            for column, cell in columns.items():
                yield entry, framework, column, cell


def ordered_rows() -> list[Row]:
    rows, _ = support_matrix()
    return sorted(rows.values(), key=lambda entry: (list(SECTIONS).index(entry.section), entry.name))


class Footnotes:
    """Reasons numbered once per table, so a reason shared by many cells is printed once."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def render(self) -> str:
        return "\n".join(f"{number}. {text}" for number, text in enumerate(self.texts, 1))


def cell_text(entry: Row, framework: str, column: str, notes: Footnotes) -> str:
    cell = entry.cells.get(framework, {}).get(column)
    if cell is None:
        return "-"
    if cell.unknown:
        reason = entry.reason(framework, column)
        return f"? {notes.mark(cell.unknown)}" + (f" {notes.mark(reason)}" if reason else "")
    label = cell.label
    if cell.covered and column != "built":
        # Partly covered (some examples refused): the refusals are the templates' own reasons.
        return label + "".join(f" {notes.mark(detail)}" for detail in cell.details)
    if cell.covered:
        return label
    reason = entry.reason(framework, column)
    marks = [notes.mark(reason)] if reason else []
    marks += [notes.mark(f"failed: {failure}") for failure in cell.failures]
    if not reason and not cell.failures:
        marks += [notes.mark(detail) for detail in cell.details]
    if not marks:
        return f"{label} **(no reason declared)**"
    return f"{label} {' '.join(marks)}"


def built_table(rows: list[Row], frameworks: list[str]) -> str:
    """The built column as before: one cell per framework, the composites' reasons listed below."""
    lines = ["| kind | name | numpy (reference) | " + " | ".join(frameworks) + " |",
             "|---|---|---|" + "---|" * len(frameworks)]
    notes = []
    for entry in rows:
        cells_ = []
        for framework in frameworks:
            cell = entry.cells.get(framework, {}).get("built", Support())
            cells_.append(cell.label)
            notes += [f"- {entry.section} `{entry.name}`, {framework}: {detail}" for detail in cell.details]
        lines.append(f"| {entry.section} | `{entry.name}` | reference | " + " | ".join(cells_) + " |")
    text = "\n".join(lines)
    if notes:
        text += "\n\nComposite and unsupported, and why:\n\n" + "\n".join(notes)
    return text


def column_table(column: str, rows: list[Row], frameworks: list[str]) -> str:
    applies = [entry for entry in rows if any(column in entry.cells.get(f, {}) for f in frameworks)]
    notes = Footnotes()
    lines = ["| kind | name | " + " | ".join(frameworks) + " |", "|---|---|" + "---|" * len(frameworks)]
    for entry in applies:
        lines.append(f"| {entry.section} | `{entry.name}` | "
                     + " | ".join(cell_text(entry, framework, column, notes) for framework in frameworks) + " |")
    text = "\n".join(lines)
    if notes.texts:
        text += "\n\n" + notes.render()
    return text


def render_markdown() -> str:
    _, missing = support_matrix()
    frameworks = [f for f in FRAMEWORKS if f not in missing]
    rows = ordered_rows()
    parts = [f"### {TITLES['built']}\n\n{built_table(rows, frameworks)}"]
    parts += [f"### {TITLES[column]}\n\n{column_table(column, rows, frameworks)}" for column in COLUMNS[1:]]
    text = "\n\n".join(parts)
    if missing:
        text += f"\n\n(Not installed when this table was made: {', '.join(missing)}.)"
    return text


def write_into(path: Path, table: str) -> bool:
    """Replace the table between the page's markers; True if the file changed."""
    return replace_section(path, START, END, table)


def table_in(path: Path) -> str:
    return read_section(path, START, END)
