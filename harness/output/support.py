"""`python -m harness support`: which layers, activations, losses and optimizers each framework expresses
natively, as a composite of its primitives, or not at all, found by building every example in
harness/case/examples.py in every installed framework (not typed in by hand).

`--write docs/support.md` replaces the table between that page's support-table markers; a test
keeps the page in step with the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.backends import get_backend
from harness.backends.base import FrameworkBackend, Unsupported
from harness.case.examples import (LAYER_EXAMPLES, LOSS_EXAMPLES, OPTIMIZER_EXAMPLES, single_layer_case,
                              single_loss_case, training_case)
from harness.case.schema import NATIVE_FRAMEWORKS as FRAMEWORKS
from harness.common.docs_section import read_section, replace_section

START, END = "<!-- support-table:start -->", "<!-- support-table:end -->"


@dataclass
class Support:
    kinds: set[str] = field(default_factory=set)
    details: list[str] = field(default_factory=list)

    def add(self, kind: str, detail: str) -> None:
        self.kinds.add(kind)
        if kind != "native" and detail and detail not in self.details:
            self.details.append(detail)

    @property
    def label(self) -> str:
        order = ("native", "composite", "unsupported")
        return " / ".join(kind for kind in order if kind in self.kinds) or "?"


def support_matrix() -> tuple[dict[tuple[str, str], dict[str, Support]], list[str]]:
    """(section, name) -> framework -> Support, and the frameworks that could not be imported."""
    matrix: dict[tuple[str, str], dict[str, Support]] = {}
    missing = []
    # One case per example, shared by the frameworks (a case is read-only to a backend).
    layer_cases = [(example, single_layer_case(example)) for example in LAYER_EXAMPLES]
    loss_cases = [(example, single_loss_case(example)) for example in LOSS_EXAMPLES]
    for framework in FRAMEWORKS:
        backend = get_backend(framework)
        if backend.unavailable_reason():
            missing.append(framework)
            continue
        assert isinstance(backend, FrameworkBackend)
        for example, case in layer_cases:
            if example.type == "Activation":
                key = ("activation", example.config["activation"]["name"])
            else:
                key = ("layer", example.type)
            entry = matrix.setdefault(key, {}).setdefault(framework, Support())
            try:
                with backend.session(case):
                    built = backend.build_layer(case, "layer")
                entry.add(built.implementation, built.detail)
            except Unsupported as exc:
                entry.add("unsupported", str(exc))
        for loss_example, case in loss_cases:
            entry = matrix.setdefault(("loss", loss_example.config["type"]), {}).setdefault(framework, Support())
            try:
                _, kind, detail = backend.build_loss(case.losses[0], case.spec.dtype)
                entry.add(kind, detail)
            except Unsupported as exc:
                entry.add("unsupported", str(exc))
        for optimizer in OPTIMIZER_EXAMPLES:
            entry = matrix.setdefault(("optimizer", optimizer["type"]), {}).setdefault(framework, Support())
            entry.add(*optimizer_support(backend, training_case(optimizer, steps=1)))
    return matrix, missing


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


def render_markdown() -> str:
    matrix, missing = support_matrix()
    frameworks = [f for f in FRAMEWORKS if f not in missing]
    lines = ["| kind | name | numpy (reference) | " + " | ".join(frameworks) + " |",
             "|---|---|---|" + "---|" * len(frameworks)]
    notes = []
    for (section, name), per_framework in sorted(matrix.items(), key=lambda item: (
            ("layer", "activation", "loss", "optimizer").index(item[0][0]), item[0][1])):
        cells = []
        for framework in frameworks:
            support = per_framework.get(framework, Support())
            cells.append(support.label)
            for detail in support.details:
                notes.append(f"- {section} `{name}`, {framework}: {detail}")
        lines.append(f"| {section} | `{name}` | reference | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    if notes:
        text += "\n\nComposite and unsupported, and why:\n\n" + "\n".join(notes)
    if missing:
        text += f"\n\n(Not installed when this table was made: {', '.join(missing)}.)"
    return text


def write_into(path: Path, table: str) -> bool:
    """Replace the table between the page's markers; True if the file changed."""
    return replace_section(path, START, END, table)


def table_in(path: Path) -> str:
    return read_section(path, START, END)
