"""The built-in sections of a case page (see sections.py for the order and how to add one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.common.compare import TensorComparison
from harness.output.report.case_view import CaseView, TensorPicture, layer_settings
from harness.output.report.sections import Section, case_section
from harness.checks.runner import CheckResult, FrameworkOutcome
from harness.case.summary import parameter_count


@dataclass
class FrameworkBlock:
    """What one framework did with the case: verdicts, where it diverges, pictures."""

    framework: str
    verdict: str
    outcome: FrameworkOutcome | None
    checks: list[CheckResult]
    divergence: TensorComparison | None
    divergence_layer: str
    """The divergent node's layer type and settings (e.g. `Dense: units=4, activation=...`)."""
    pictures: list[TensorPicture]
    port: dict[str, Any] | None = None
    """For a port: what it is (Port.describe())."""


@case_section(order=10)
def frameworks(view: CaseView) -> Section:
    blocks = []
    for framework in view.frameworks:
        divergence = view.divergence(framework)
        layer = layer_settings(view.case, divergence.tensor) if divergence is not None else ""
        port = view.case.port(framework)
        blocks.append(FrameworkBlock(
            framework=framework, verdict=view.verdict(framework),
            outcome=view.report.outcomes.get(framework), checks=view.checks.get(framework, []),
            divergence=divergence, divergence_layer=layer, pictures=view.pictures(framework),
            port=port.describe() if port is not None else None))
    return Section("frameworks", "Verdicts by framework", "sections/frameworks.html.j2", data=blocks)


@dataclass
class ModelRow:
    name: str
    type: str
    settings: str
    output_shape: str
    parameters: str
    inputs: list[str]
    diverging: list[str] = field(default_factory=list)
    """Frameworks whose divergence starts at this node."""
    built: dict[str, Any] = field(default_factory=dict)
    """Framework -> how it built this node's layer (Implementation), where it ran."""


@case_section(order=20)
def model(view: CaseView) -> Section:
    graph, case = view.case.graph, view.case
    rows = [ModelRow(name=name, type="Input", settings="", output_shape=_shape(shape),
                     parameters="0", inputs=[]) for name, shape in graph.inputs.items()]
    counted: set[str] = set()
    diverging: dict[str, list[str]] = {}
    for framework, layer in view.divergences.items():
        diverging.setdefault(layer, []).append(framework)
    for node in graph.nodes:
        count = 0 if node.layer in counted else parameter_count(case, node.layer)
        counted.add(node.layer)
        kind = node.spec.type + (f" (reuses {node.layer})" if node.reused else "")
        rows.append(ModelRow(
            name=node.name, type=kind, settings=node.spec.describe(),
            output_shape=_shape(node.output_shape), parameters=f"{count:,}", inputs=node.inputs,
            diverging=diverging.get(node.name, []),
            built={f: impl for f in view.frameworks
                   if (impl := _implementation(view, f, node.layer)) is not None}))
    losses = []
    for index, loss in enumerate(case.losses):
        built = {f: impl for f in view.frameworks
                 if (impl := _implementation(view, f, f"loss:{index}")) is not None}
        losses.append({"text": f"{loss.describe()} on {case.loss_output(loss)} vs "
                               f"{case.loss_target(loss)}", "built": built})
    total = sum(parameter_count(case, layer) for layer in graph.layers)
    trainable = sum(int(_size(graph.parameter_shapes[name])) for name in case.trainable_parameters())
    return Section("model", "Model", "sections/model.html.j2", data={
        "rows": rows, "losses": losses, "total": total, "trainable": trainable,
        "outputs": graph.outputs})


def _implementation(view: CaseView, framework: str, key: str):
    outcome = view.report.outcomes.get(framework)
    if outcome is None or outcome.result is None:
        return None
    return outcome.result.implementations.get(key)


@dataclass
class WeightRow:
    parameter: str
    shape: str
    initializer: str
    trainable: bool
    native: list[dict[str, Any]]
    """Per framework that ran: framework, native_name, native_shape, transform."""


@case_section(order=30)
def weights(view: CaseView) -> Section | None:
    case = view.case
    if not case.graph.parameter_shapes:
        return None
    trainable = set(case.trainable_parameters())
    rows = []
    for name, shape in case.graph.parameter_shapes.items():
        layer = name.split("/", 1)[0]
        native = []
        for framework in view.frameworks:
            implementation = _implementation(view, framework, layer)
            for binding in (implementation.bindings if implementation else []):
                if binding["parameter"] == name:
                    native.append({"framework": framework, **binding})
        rows.append(WeightRow(parameter=name, shape=_shape(shape, batch=False),
                              initializer=case.initializer_descriptions.get(name, ""),
                              trainable=name in trainable, native=native))
    return Section("weights", "Weight mapping", "sections/weights.html.j2", data=rows)


@dataclass
class ComparisonTable:
    check: str
    against: str
    tensors: list[str]
    columns: list[str]
    """Frameworks (against the reference) or pairs `a vs b`."""
    cells: dict[tuple[str, str], TensorComparison]
    """(tensor, column) -> its comparison."""
    divergence: dict[str, str] = field(default_factory=dict)
    """Column -> the tensor where its divergence starts."""
    tolerance: str = ""


@case_section(order=40)
def comparisons(view: CaseView) -> Section:
    tables = []
    for name in view.check_names:
        checks = [c for f in view.frameworks if (c := view.check(f, name)) is not None]
        if any(c.tensors for c in checks):
            tables.append(_table(name, checks, lambda c: c.framework, view.divergences
                                 if name == "intermediates" else {}))
        pairs = view.pairwise(name)
        if pairs:
            tables.append(_table(name, pairs, lambda c: f"{c.framework} vs {c.against}", {}))
    return Section("comparisons", "Every tensor compared", "sections/comparisons.html.j2",
                   data=tables)


def _table(name: str, checks: list[CheckResult], column, divergence: dict[str, str]) -> ComparisonTable:
    tensors: list[str] = []
    cells = {}
    for check in checks:
        for tensor in check.tensors:
            if tensor.tensor not in tensors:
                tensors.append(tensor.tensor)
            cells[(tensor.tensor, column(check))] = tensor
    against = checks[0].against if checks[0].against in ("reference", "known values") else "pairwise"
    first = next((t for c in checks for t in c.tensors), None)
    tolerance = f"atol {first.atol:g} + rtol {first.rtol:g} x |expected|" if first else ""
    return ComparisonTable(check=name, against=against, tensors=tensors,
                           columns=list(dict.fromkeys(column(c) for c in checks)), cells=cells,
                           divergence=divergence, tolerance=tolerance)


@case_section(order=90)
def source(view: CaseView) -> Section | None:
    path = Path(view.case.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return Section("source", f"Case file {path.name}", "sections/source.html.j2",
                   data={"path": str(path), "lines": text.splitlines()})


def _shape(shape, *, batch: bool = True) -> str:
    dims = ", ".join(str(side) for side in shape)
    if not batch:
        return f"({dims})" if len(shape) != 1 else f"({dims},)"
    return f"(None, {dims})" if dims else "(None,)"


def _size(shape) -> int:
    size = 1
    for side in shape:
        size *= side
    return size


@case_section(order=15)
def strength(view: CaseView) -> Section | None:
    """Which of the catalogue's transforms the case's own checks would notice (harness/diagnosis)."""
    measured = view.report.strength
    if measured is None:
        return None
    return Section("strength", "Strength: which convention differences this case detects",
                   "sections/strength.html.j2", data=measured)
