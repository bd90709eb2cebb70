"""One case's results as the case page shows them, drawn from the in-memory run.

results.json keeps the figures; the pictures and the diff views need the tensors themselves,
which only the run has: each framework's RunResult (`FrameworkOutcome.result`) and the float64
reference (`CaseReport.reference`). `CaseView.arrays` finds the two arrays behind any
comparison with the runner's own `tensor_pairs`, so a new check that the runner knows shows up
here without changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from harness.common.compare import TensorComparison, Tolerance
from harness.output.report.error_summary import WORST_ROWS, WorstElements, summarize
from harness.output.report.matrix import case_page, most_severe
from harness.output.report.pictures import Heatmap, Histogram, heatmap_of, histogram_of
from harness.backends.tensor_pairs import known_value_pairs, tensor_pairs
from harness.checks.runner import EXPECTED, FAIL, CaseReport, CheckResult

PICTURES_PER_FRAMEWORK = 4
"""Pictures of failing tensors per framework; the divergence layer's comes first."""
DIFF_ROWS = WORST_ROWS
"""Elements in a diff view: the ones furthest out of tolerance."""
BATCHED_KINDS = {"output", "intermediate", "input_gradient"}
"""Tensor kinds whose first axis is the batch."""
DIFFERING = (FAIL, EXPECTED)


@dataclass
class ElementRow:
    """One element of a diff view."""

    index: tuple[int, ...]
    expected: float
    actual: float
    difference: float
    allowed: float

    @property
    def out_of_tolerance(self) -> bool:
        return self.difference > self.allowed


@dataclass
class TensorPicture:
    """A tensor worth looking at: its figures, a picture of its error, its worst elements."""

    framework: str
    check: CheckResult
    comparison: TensorComparison
    role: str
    """Why it was chosen: `divergence starts here`, `out of tolerance`, `closest to tolerance`."""
    heatmap: Heatmap | None = None
    histogram: Histogram | None = None
    axes: str = ""
    elements: list[ElementRow] = field(default_factory=list)


class CaseView:
    """A CaseReport with the lookups the case page's sections share."""

    def __init__(self, report: CaseReport, frameworks: list[str], summary: dict[str, Any]) -> None:
        self.report = report
        self.frameworks = frameworks
        self.summary = summary
        """This case's entry in results.json (`cases[i]`)."""
        self._array_cache: dict[tuple[str, str, str], dict[str, tuple[Any, Any]]] = {}

    @property
    def case(self):
        return self.report.case

    @property
    def page(self) -> str:
        return case_page(self.case.id)

    @cached_property
    def checks(self) -> dict[str, list[CheckResult]]:
        """Per framework, its checks against the reference or stated values, in run order."""
        by_framework: dict[str, list[CheckResult]] = {f: [] for f in self.frameworks}
        for check in self.report.checks:
            by_framework.setdefault(check.framework, []).append(check)
        return by_framework

    @cached_property
    def check_names(self) -> list[str]:
        """The case's checks, then any other check the run produced, in order."""
        names = list(self.case.spec.checks)
        names += [c.check for c in self.report.checks if c.check not in names]
        return list(dict.fromkeys(names))

    def check(self, framework: str, name: str) -> CheckResult | None:
        return next((c for c in self.checks.get(framework, []) if c.check == name), None)

    def verdict(self, framework: str) -> str:
        return most_severe(c.verdict for c in self.checks.get(framework, []))

    def pairwise(self, name: str) -> list[CheckResult]:
        return [c for c in self.report.pairwise if c.check == name]

    def divergence(self, framework: str) -> TensorComparison | None:
        """The first layer, in evaluation order, whose output leaves tolerance."""
        check = self.check(framework, "intermediates")
        if check is None or check.verdict not in DIFFERING:
            return None
        return next((t for t in check.tensors if not t.passed), None)

    @cached_property
    def divergences(self) -> dict[str, str]:
        """Framework -> the layer where its divergence starts (frameworks that diverge)."""
        return {f: d.tensor for f in self.frameworks if (d := self.divergence(f)) is not None}

    def arrays(self, check: CheckResult) -> dict[str, tuple[Any, Any]]:
        """Tensor name -> (actual, expected) arrays behind a check's comparisons; {} if the
        run did not keep them (a framework that did not run, a check the runner cannot map)."""
        return self._arrays(check.framework, check.check, check.against)

    def _arrays(self, framework: str, name: str, against: str) -> dict[str, tuple[Any, Any]]:
        key = (framework, name, against)
        if key not in self._array_cache:
            self._array_cache[key] = self._find_arrays(framework, name, against)
        return self._array_cache[key]

    def _find_arrays(self, framework: str, name: str, against: str) -> dict[str, tuple[Any, Any]]:
        outcome = self.report.outcomes.get(framework)
        actual = outcome.result if outcome else None
        if actual is None:
            return {}
        try:
            if against == "known values":
                pairs = known_value_pairs(self.case, actual)
            else:
                other = self.report.outcomes.get(against)
                expected = self.report.reference if against == "reference" else (
                    other.result if other else None)
                if expected is None:
                    return {}
                pairs = tensor_pairs(self.case, name, actual, expected)
            return {pair.name: (pair.actual, pair.expected) for pair in pairs}
        except (KeyError, ValueError):
            return {}

    def pictures(self, framework: str) -> list[TensorPicture]:
        """The tensors of this framework worth a picture: where its divergence starts, then
        its tensors furthest out of tolerance; if none is out, the one closest to it."""
        chosen: list[tuple[CheckResult, TensorComparison, str]] = []
        divergence = self.divergence(framework)
        if divergence is not None:
            chosen.append((self.check(framework, "intermediates"), divergence, "divergence starts here"))
        failing = [(c, t) for c in self.checks.get(framework, []) if c.verdict in DIFFERING
                   for t in c.tensors if not t.passed and t is not divergence]
        failing.sort(key=lambda pair: _ratio(pair[1]), reverse=True)
        chosen += [(c, t, "out of tolerance") for c, t in failing]
        if not chosen:
            compared = [(c, t) for c in self.checks.get(framework, []) for t in c.tensors
                        if t.total > 1 and not t.note]
            if compared:
                check, tensor = max(compared, key=lambda pair: _ratio(pair[1]))
                chosen.append((check, tensor, "closest to tolerance"))
        pictures: list[TensorPicture] = []
        shown: list[tuple[Any, Any]] = []
        for check, tensor, role in chosen:
            if len(pictures) == PICTURES_PER_FRAMEWORK:
                break
            pair = self.arrays(check).get(tensor.tensor)
            if pair is not None and any(_same(pair, other) for other in shown):
                continue  # a model output is also its layer's intermediate: one picture
            shown.append(pair)
            pictures.append(self.picture(framework, check, tensor, role))
        return pictures

    def picture(self, framework: str, check: CheckResult, tensor: TensorComparison,
                role: str) -> TensorPicture:
        picture = TensorPicture(framework=framework, check=check, comparison=tensor, role=role)
        pair = self.arrays(check).get(tensor.tensor)
        if pair is None or tensor.note:
            return picture
        actual, expected = (np.asarray(a) for a in pair)
        # One pass, block by block: a bounded summary, never a float64 copy of the tensor.
        summary = summarize(actual, expected, Tolerance(tensor.rtol, tensor.atol), DIFF_ROWS)
        if summary.pooled is not None:
            picture.heatmap = heatmap_of(summary.pooled)
            kept = [axis for axis, side in enumerate(expected.shape) if side != 1]
            picture.axes = _axes_text(tensor.kind, kept, expected.shape, picture.heatmap.block)
        elif expected.size > 1:
            picture.histogram = histogram_of(summary.counts)
        picture.elements = element_rows(actual, expected, summary.worst)
        return picture


def layer_settings(case, node: str) -> str:
    """`Dense: units=4, activation=leaky_relu(...)`: what the node computes, in one line."""
    spec = next((n.spec for n in case.graph.nodes if n.name == node), None)
    if spec is None:
        return ""
    settings = spec.describe()
    return f"{spec.type}: {settings}" if settings else spec.type


def worst_elements(actual: np.ndarray, expected: np.ndarray, difference: np.ndarray,
                   allowed: np.ndarray, count: int = DIFF_ROWS) -> list[ElementRow]:
    """The elements furthest out of tolerance (by |difference| / allowed, then |difference|),
    from whole arrays of differences (the report gathers the same from blocks: summarize)."""
    worst = WorstElements(count)
    worst.add(0, np.asarray(difference, dtype=np.float64).ravel(), np.asarray(allowed, dtype=np.float64).ravel())
    return element_rows(actual, expected, worst)


def element_rows(actual: np.ndarray, expected: np.ndarray, worst: WorstElements) -> list[ElementRow]:
    rows = []
    for flat, difference, allowed in zip(worst.index, worst.difference, worst.allowed):
        index = np.unravel_index(int(flat), np.shape(expected))
        rows.append(ElementRow(index=tuple(int(i) for i in index), expected=float(expected[index]),
                               actual=float(actual[index]), difference=float(difference),
                               allowed=float(allowed)))
    return rows


def _same(pair: tuple[Any, Any] | None, other: tuple[Any, Any] | None) -> bool:
    if pair is None or other is None:
        return False
    return all(np.shape(a) == np.shape(b) and np.array_equal(a, b) for a, b in zip(pair, other))


def _ratio(tensor: TensorComparison) -> float:
    ratio = tensor.tolerance_ratio
    return -1.0 if math.isnan(ratio) else ratio


def _axes_text(kind: str, kept: list[int], shape: tuple[int, ...], block: tuple[int, int]) -> str:
    names = []
    for axis in kept:
        name = f"axis {axis} ({shape[axis]}"
        name += " samples)" if axis == 0 and kind in BATCHED_KINDS else ")"
        names.append(name)
    text = f"rows: {names[0]}; columns: {names[1]}"
    if block != (1, 1):
        text += f"; each cell is the largest difference in a block of {block[0]} x {block[1]} elements"
    return text
