"""Diagnosis hints: when a backend fails a check against the reference, which convention does
it follow instead?

The search runs the reference under the catalogue's variants (harness/transforms/) and keeps
the first under which the transformed reference matches the backend on every tensor of the
failed check, at that check's tolerance. Order and bounds:

1. single variants, those at the first divergent layer first (the first intermediate out of
   tolerance, where the backend has intermediates), then in graph order, losses and optimizer
   last;
2. then pairs of variants at two different sites or of two different transforms, the pairs
   touching the first divergent layer first, at most `MAX_PAIRS` of them;
3. everything within `TIME_BUDGET_S` seconds per failed check (the variants' reference runs
   are cached per case, so a second failed check of the same backend costs only comparisons).

Only a full match is reported: a hint is a fact ("torch matches the reference if ..."), never a
guess. No match, no hint.
"""

from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable

from harness.compare import Tolerance
from harness.transforms.base import Context, Variant, applicable_variants
from harness.transforms.evaluation import FORWARD_CHECKS, all_pass, check_comparisons, run_transformed_readings

MAX_PAIRS = 300
"""Pairs of variants tried after no single one matched (an LSTM's 23 gate orders times a
case's other variants would otherwise be thousands of reference runs)."""
TIME_BUDGET_S = 20.0
"""Seconds one failed check may spend searching (the shipped cases' searches take well under
this: see docs/diagnosis.md, Diagnosis hints)."""


@dataclass
class Hint:
    framework: str
    check: str
    variants: list[Variant]
    tried: int
    """Variants and pairs whose transformed reference was compared."""
    seconds: float
    through_layout: bool = False
    """The backend's gradients and trained values match only read back through the variants'
    layout: the case's weights are bound the wrong way inside the backend (its adapter, a
    port), not handed to it already re-laid out."""

    def text(self) -> str:
        return (f"{self.framework} matches the reference if "
                + " and ".join(variant.describe() for variant in self.variants)
                + (" (its gradients and trained values read back through the same layout, as an adapter "
                   "or port that binds the weights this way reports them)" if self.through_layout else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text(), "transforms": [v.to_dict() for v in self.variants],
                "tried": self.tried, "seconds": round(self.seconds, 4),
                "reading": "through the layout" if self.through_layout else "as run"}


@dataclass
class SearchLog:
    """What one search did, for measurements (also when it found nothing)."""

    tried: int = 0
    seconds: float = 0.0
    exhausted: bool = False
    """True when the time budget or pair bound stopped it before every candidate was tried."""


@functools.lru_cache(maxsize=1)
def default_context() -> Context:
    """The frameworks' defaults, read once per process and only when a check fails."""
    from harness.transforms.base import framework_context

    return framework_context()


class Diagnoser:
    """The search for one case; transformed references are cached across checks and backends."""

    def __init__(self, case: Any, context: Callable[[], Context] = default_context, *,
                 max_pairs: int = MAX_PAIRS, budget_s: float = TIME_BUDGET_S) -> None:
        self.case = case
        self.context = context
        self.max_pairs = max_pairs
        self.budget_s = budget_s
        self._variants: list[Variant] | None = None
        self._runs: dict[tuple[tuple[str, ...], bool], Any] = {}
        self.last = SearchLog()

    def variants(self) -> list[Variant]:
        if self._variants is None:
            self._variants = applicable_variants(self.case, self.context())
        return self._variants

    def diagnose(self, framework: str, check: str, actual: Any, reference: Any,
                 tolerance: Tolerance) -> Hint | None:
        self.variants()  # the catalogue at this case (the defaults table is read once per process)
        started = time.perf_counter()
        self.last = log = SearchLog()
        train = check == "training"
        ordered = self._ordered(first_divergent_layer(self.case, actual, reference, tolerance))
        for candidate in itertools.chain(((v,) for v in ordered), self._pairs(ordered)):
            if time.perf_counter() - started > self.budget_s:
                log.exhausted = True
                break
            readings = self._run(candidate, train, backward=check not in FORWARD_CHECKS)
            log.tried += 1
            for reading, transformed in enumerate(readings):
                if all_pass(check_comparisons(self.case, check, actual, transformed, tolerance)):
                    log.seconds = time.perf_counter() - started
                    return Hint(framework, check, list(candidate), log.tried, log.seconds,
                                through_layout=reading > 0)
        log.seconds = time.perf_counter() - started
        return None

    def _ordered(self, first_layer: str | None) -> list[Variant]:
        position = {layer: index for index, layer in enumerate(self.case.graph.layers)}
        late = len(position)
        return sorted(self.variants(), key=lambda v: (v.site.layer != first_layer or first_layer is None,
                                                      position.get(v.site.layer, late)))

    def _pairs(self, ordered: list[Variant]):
        count = 0
        for a, b in itertools.combinations(ordered, 2):
            if a.site == b.site and a.transform is b.transform:
                continue  # two choices of one transform at one place exclude each other
            if count >= self.max_pairs:
                self.last.exhausted = True
                return
            count += 1
            yield (a, b)

    def _run(self, variants: tuple[Variant, ...], train: bool, backward: bool = True) -> list[Any]:
        """The transformed reference's readings (run_transformed_readings; only its forward pass
        where `backward` is False, unless the whole run is there already), cached for the case's
        other checks and backends; none where the reference cannot compute the meaning."""
        names = tuple(v.key for v in variants)
        key = (names, train, backward)
        if not backward and (names, train, True) in self._runs:
            key = (names, train, True)
        if key not in self._runs:
            try:
                self._runs[key] = run_transformed_readings(self.case, variants, train=train, backward=backward)
            except Exception:  # a meaning the reference cannot compute matches nothing
                self._runs[key] = []
        return self._runs[key]


def first_divergent_layer(case: Any, actual: Any, reference: Any, tolerance: Tolerance) -> str | None:
    """The layer of the first intermediate out of tolerance, where the backend reports them."""
    from harness.compare import compare

    intermediates = getattr(actual, "intermediates", None) or {}
    for node in case.graph.nodes:
        if node.name not in intermediates or node.name not in reference.intermediates:
            continue
        try:
            result = compare(node.name, "intermediate", intermediates[node.name],
                             reference.intermediates[node.name], tolerance)
        except Exception:
            continue
        if not result.passed:
            return node.layer
    return None
