"""Diagnosis hints: when a backend fails a check against the reference, which convention does
it follow instead?

The search runs the reference under the catalogue's variants (harness/diagnosis/) and keeps
the first under which the transformed reference matches the backend on every tensor of the
failed check, at that check's tolerance. Best first, in stages:

1. single variants at the first divergent layer (the first intermediate out of tolerance,
   where the backend has intermediates);
2. one variant on every layer of its kind at once (the same transform and choice at every
   site it applies to: "every leaky_relu's slope is 0.01", "the bias added twice in both LSTM
   layers"), those touching the first divergent layer first;
3. the other single variants, in graph order, losses and optimizer last;
4. the other groups of stage 2;
5. pairs of variants at two different sites or of two different transforms, best first: ranked
   by how close each of the two came alone (the sum of their ranks), pairs touching the first
   divergent layer first.

The only bound is time: `TIME_BUDGET_S` seconds per failed check (the variants' reference runs
are cached per case, so a second failed check of the same backend costs only comparisons).

Only a full match is reported: a hint is a fact ("torch matches the reference if ..."), never a
guess. Where another choice of the same transform at the same places matches as well (torch's
BatchNorm epsilon 1e-5 and chainer's 2e-5, which a case's data may not tell apart), the hint
names both. No match, no hint: then the search says what it tried, in how long, and its nearest
miss (`SearchLog.summary`).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from harness.common.compare import compare, TensorComparison, Tolerance
from harness.diagnosis.base import Context, framework_context, Variant
from harness.diagnosis.catalogue import applicable_variants
from harness.diagnosis.evaluation import FORWARD_CHECKS, all_pass, check_comparisons, run_transformed_readings

TIME_BUDGET_S = 20.0
"""Seconds one failed check may spend searching: the only bound (the shipped cases' searches
take well under this: see docs/diagnosis.md, Diagnosis hints). The three-layer slope fault of
seed003 and a doubled forget bias in both layers of a stacked LSTM are found in well under a
second (tests/test_search.py)."""


@dataclass
class Hint:
    framework: str
    check: str
    variants: list[Variant]
    tried: int
    """Candidates (variants, groups, pairs) whose transformed reference was compared."""
    seconds: float
    through_layout: bool = False
    """The backend's gradients and trained values match only read back through the variants'
    layout: the case's weights are bound the wrong way inside the backend (its adapter, a
    port), not handed to it already re-laid out."""
    alternatives: list[list[Variant]] = field(default_factory=list)
    """Other choices of the same transforms at the same places that match as well."""

    def text(self) -> str:
        text = f"{self.framework} matches the reference if {describe_all(self.variants)}"
        if self.through_layout:
            text += (" (its gradients and trained values read back through the same layout, as an adapter "
                     "or port that binds the weights this way reports them)")
        for alternative in self.alternatives:
            text += f"; it matches equally if {describe_all(alternative)}"
        if self.alternatives:
            text += " (the case's data cannot tell these apart)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text(), "transforms": [v.to_dict() for v in self.variants],
                "tried": self.tried, "seconds": round(self.seconds, 4),
                "reading": "through the layout" if self.through_layout else "as run",
                "alternatives": [[v.to_dict() for v in alternative] for alternative in self.alternatives],
                "port_side": self.port_side()}

    def port_side(self) -> str:
        """The hint from a port author's side: `in layer lstm, your block 2 (the c weights) is used
        as the f (forget) gate`, `in layer dense, your kernel is read transposed`."""
        return "; ".join(f"{v.site.where()}, {v.port_text()}" for v in self.variants)


@dataclass
class SearchLog:
    """What one search did, also when it found nothing: the console and report say it then."""

    tried: int = 0
    seconds: float = 0.0
    exhausted: bool = False
    """True when the time budget stopped it before every candidate was tried."""
    candidates: int = 0
    """Every candidate of the search (singles, groups and pairs)."""
    budget_s: float = TIME_BUDGET_S
    nearest: tuple[Variant, ...] = ()
    """The candidate that came closest, where one came closer than the untransformed reference."""
    nearest_miss: float = math.inf
    """Its worst tensor's error over the allowed error."""
    nearest_tensor: str = ""
    baseline_miss: float = math.inf
    """The same figure for the untransformed reference (the failure itself)."""

    def note(self, candidate: tuple[Variant, ...], comparisons: list[TensorComparison]) -> float:
        miss, tensor = _miss(comparisons)
        if miss < self.nearest_miss:
            self.nearest, self.nearest_miss, self.nearest_tensor = candidate, miss, tensor
        return miss

    def summary(self) -> str:
        if self.candidates == 0:  # "tried 0 of 0" would read as a search that failed to run
            return "no transform of the catalogue applies to this case's layers and check (nothing to try)"
        how = (f"stopped at the {self.budget_s:g} s bound" if self.exhausted
               else "the whole catalogue at this case")
        text = (f"no transform of the catalogue matches: tried {self.tried} of {self.candidates} transforms and "
                f"combinations in {self.seconds:.2f} s ({how})")
        if self.nearest and self.nearest_miss < self.baseline_miss:
            text += (f"; nearest miss: {describe_all(list(self.nearest))}, which leaves {self.nearest_tensor} at "
                     f"{self.nearest_miss:.3g} times the allowed error (without it: {self.baseline_miss:.3g})")
        return text

    def to_dict(self) -> dict[str, Any]:
        nearest = None
        if self.nearest and self.nearest_miss < self.baseline_miss:
            nearest = {"text": describe_all(list(self.nearest)), "transforms": [v.to_dict() for v in self.nearest],
                       "tensor": self.nearest_tensor, "tolerance_ratio": _finite(self.nearest_miss),
                       "untransformed_tolerance_ratio": _finite(self.baseline_miss)}
        return {"text": self.summary(), "tried": self.tried, "candidates": self.candidates,
                "seconds": round(self.seconds, 4), "exhausted": self.exhausted, "budget_s": self.budget_s,
                "nearest": nearest}


def _finite(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def _miss(comparisons: list[TensorComparison]) -> tuple[float, str]:
    """The worst tensor's error over the allowed error, and its name (inf for a missing or
    non-finite tensor): how far a candidate is from matching."""
    worst, name = 0.0, ""
    for comparison in comparisons:
        if comparison.passed and not comparison.note:
            continue
        ratio = comparison.tolerance_ratio
        ratio = math.inf if comparison.note or not math.isfinite(ratio) else ratio
        if ratio >= worst:
            worst, name = ratio, comparison.tensor
    return (worst if comparisons else math.inf), name


def describe_all(variants: list[Variant]) -> str:
    """The variants in words, one transform and choice at several layers said once: `leaky_relu's
    negative slope is 0.01 (torch: ...) in layers hidden1, hidden2 and output`."""
    groups: dict[tuple[str, str, str | None], list[Variant]] = {}
    for variant in variants:
        groups.setdefault((variant.transform.name, variant.choice, variant.site.field), []).append(variant)
    parts = []
    for members in groups.values():
        if len(members) == 1 or any(m.site.layer is None for m in members):
            parts.extend(m.describe() for m in members)
            continue
        first = members[0]
        layers = [m.site.layer for m in members]
        where = ", ".join(layers[:-1]) + " and " + layers[-1]
        field_note = f" ({first.site.field})" if first.site.field not in (None, "activation") else ""
        parts.append(f"{first.transform.phrase.format(choice=first.choice)} in layers {where}{field_note}")
    return " and ".join(parts)


@functools.lru_cache(maxsize=1)
def default_context() -> Context:
    """The frameworks' defaults, read once per process and only when a check fails."""
    return framework_context()


class Diagnoser:
    """The search for one case; transformed references are cached across checks and backends."""

    def __init__(self, case: Any, context: Callable[[], Context] = default_context, *,
                 budget_s: float = TIME_BUDGET_S) -> None:
        self.case = case
        self.context = context
        self.budget_s = budget_s
        self._variants: list[Variant] | None = None
        self._runs: dict[tuple[tuple[str, ...], bool, bool], list[Any]] = {}
        self.last = SearchLog(budget_s=budget_s)

    def variants(self) -> list[Variant]:
        if self._variants is None:
            self._variants = applicable_variants(self.case, self.context())
        return self._variants

    def groups(self) -> list[tuple[Variant, ...]]:
        """One transform with one choice at every site it applies to, where that is two or more
        sites: the same mistake made in every layer of a kind. A variant the case cannot see
        there (its blind spot: a bias of zeros doubled) changes nothing and is left out, so that
        a hint never names a layer where the mistake makes no difference."""
        found: dict[tuple[str, str, str | None], list[Variant]] = {}
        for variant in self.variants():
            if variant.blind_spot:
                continue
            found.setdefault((variant.transform.name, variant.choice, variant.site.field), []).append(variant)
        return [tuple(members) for members in found.values() if len(members) > 1]

    def diagnose(self, framework: str, check: str, actual: Any, reference: Any,
                 tolerance: Tolerance) -> Hint | None:
        singles = self.variants()  # the catalogue at this case (the defaults table is read once per process)
        groups = self.groups()
        started = time.perf_counter()
        pairs = sum(1 for _ in self._pair_space(singles))
        self.last = log = SearchLog(candidates=len(singles) + len(groups) + pairs, budget_s=self.budget_s)
        log.baseline_miss = _miss(check_comparisons(self.case, check, actual, reference, tolerance))[0]
        train, backward = check == "training", check not in FORWARD_CHECKS
        first = first_divergent_layer(self.case, actual, reference, tolerance)
        misses: dict[str, float] = {}
        tried: set[frozenset[str]] = set()
        for candidate in self._candidates(first, singles, groups, misses):
            if time.perf_counter() - started > self.budget_s:
                log.exhausted = True
                break
            log.tried += 1
            reading = self._match(candidate, check, actual, tolerance, train, backward, log, misses)
            if reading is not None:
                alternatives = self._equal_fits(candidate, check, actual, tolerance, train, backward, tried)
                log.seconds = time.perf_counter() - started
                return Hint(framework, check, list(candidate), log.tried, log.seconds,
                            through_layout=reading > 0, alternatives=alternatives)
            tried.add(frozenset(v.key for v in candidate))
        log.seconds = time.perf_counter() - started
        return None

    def _match(self, candidate, check, actual, tolerance, train, backward, log=None, misses=None) -> int | None:
        """The index of the first reading (as run, through the layout) that matches; None."""
        best = math.inf
        for reading, transformed in enumerate(self._run(candidate, train, backward=backward)):
            comparisons = check_comparisons(self.case, check, actual, transformed, tolerance)
            if all_pass(comparisons):
                return reading
            if log is not None:
                best = min(best, log.note(candidate, comparisons))
        if misses is not None and len(candidate) == 1:
            misses[candidate[0].key] = best
        return None

    def _equal_fits(self, candidate, check, actual, tolerance, train, backward,
                    tried: set[frozenset[str]]) -> list[list[Variant]]:
        """Other edits of the same sites that match as well: another choice of the candidate's
        transform (torch's epsilon 1e-5 and chainer's 2e-5), or another transform with one
        choice at exactly those sites (the whole LSTM bias doubled where only its forget block
        is non-zero, and the forget bias doubled). Those the search tried before the match are
        known misses and not run again: trying them all doubled the median search time of
        `benchmarks/diagnosis.py cases/recurrent_gru.yaml cases/conv000_small_cnn.yaml` (85 ->
        173 ms); skipping them leaves +24 % (116 -> 144 ms), the same hints."""
        if len({(v.transform.name, v.choice) for v in candidate}) != 1:
            return []  # a pair of different edits: its alternatives would be pairs too
        sites = sorted(v.site.where() + str(v.site.tag) for v in candidate)
        keys = {v.key for v in candidate}
        others = [(v,) for v in self.variants() if not v.blind_spot] if len(candidate) == 1 else self.groups()
        found = []
        for other in others:
            if sorted(v.site.where() + str(v.site.tag) for v in other) != sites or {v.key for v in other} == keys \
                    or frozenset(v.key for v in other) in tried:
                continue
            if self._match(other, check, actual, tolerance, train, backward) is not None:
                found.append(list(other))
        return found

    def _candidates(self, first: str | None, singles: list[Variant], groups: list[tuple[Variant, ...]],
                    misses: dict[str, float]) -> Iterator[tuple[Variant, ...]]:
        position = {layer: index for index, layer in enumerate(self.case.graph.layers)}
        late = len(position)
        ordered = sorted(singles, key=lambda v: position.get(v.site.layer, late))
        at_first = [v for v in ordered if first is not None and v.site.layer == first]
        touching = [g for g in groups if first is not None and any(v.site.layer == first for v in g)]
        yield from ((v,) for v in at_first)
        yield from touching
        yield from ((v,) for v in ordered if v not in at_first)
        yield from (g for g in groups if g not in touching)
        yield from self._pairs(ordered, first, misses)

    def _pair_space(self, singles: list[Variant]) -> Iterator[tuple[Variant, Variant]]:
        for index, a in enumerate(singles):
            for b in singles[index + 1:]:
                if not (a.site == b.site and a.transform is b.transform):
                    yield a, b  # two choices of one transform at one place exclude each other

    def _pairs(self, ordered: list[Variant], first: str | None,
               misses: dict[str, float]) -> Iterator[tuple[Variant, Variant]]:
        """Best first: each variant ranked by how close it came alone; a pair by the sum of its
        two ranks, pairs touching the first divergent layer before the others."""
        ranked = sorted(ordered, key=lambda v: misses.get(v.key, math.inf))
        rank = {v.key: index for index, v in enumerate(ranked)}
        def order(pair):
            a, b = pair
            touches = first is not None and first in (a.site.layer, b.site.layer)
            return (not touches, rank[a.key] + rank[b.key], min(rank[a.key], rank[b.key]))
        yield from sorted(self._pair_space(ordered), key=order)

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
