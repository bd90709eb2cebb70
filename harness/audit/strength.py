"""Case strength (a mutation score): which of the catalogue's variants would the case's own
checks notice at the case's tolerances?

For every variant that applies to the case, the reference is run under it and compared with
the plain reference, check by check (forward, intermediates, gradients, training; the case's
own list), each at the case's tolerance for that check. A variant is detected when some tensor
of some check is out of tolerance. One that slips through gets its reason: the largest
tolerance ratio any tensor reached (0: the transformed meaning gives the very same numbers on
these inputs and weights, e.g. a symmetric kernel or a slope no input reaches) and where.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from harness.checks.runner import COMPARED_CHECKS, CaseRunner
from harness.diagnosis.base import Context, Variant
from harness.diagnosis.catalogue import applicable_variants
from harness.diagnosis.coverage import branch_coverage, coverage_lines
from harness.diagnosis.evaluation import FORWARD_CHECKS, check_comparisons, run_transformed


@dataclass
class VariantOutcome:
    variant: Variant
    detected: bool
    reason: str = ""
    """For an undetected one: why the checks cannot see it."""
    check: str = ""
    """For a detected one: the first check that sees it (forward checks tried first)."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.variant.to_dict(), "detected": self.detected, "reason": self.reason, "check": self.check}


@dataclass
class CaseStrength:
    case: str
    outcomes: list[VariantOutcome] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    coverage: list[Any] = field(default_factory=list)
    """Branches of each layer's activation the inputs reach (coverage.py)."""

    @property
    def detected(self) -> int:
        return sum(o.detected for o in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def score(self) -> float:
        return self.detected / self.total if self.total else float("nan")

    @property
    def undetected(self) -> list[VariantOutcome]:
        return [o for o in self.outcomes if not o.detected]

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case, "detected": self.detected, "total": self.total,
                "score": None if not self.total else self.score, "error": self.error,
                "seconds": self.seconds, "undetected": [o.to_dict() for o in self.undetected],
                "coverage": [c.to_dict() for c in self.coverage]}


def case_strength(case: Any, context: Context, reference: Any = None,
                  budget_s: float | None = None) -> CaseStrength:
    """`reference`: the case's float64 reference run where the caller has it (with its training
    trace for a training case). `budget_s`: measure only if that is expected to take at most
    this long (one reference run per applicable variant, estimated from `reference`'s own
    time); else the strength says why it was not measured and how to measure it."""
    started = time.perf_counter()
    strength = CaseStrength(case.id)
    runner = CaseRunner(case)
    checks = [check for check in case.spec.checks if check in COMPARED_CHECKS]
    try:
        reference = reference if reference is not None else runner.reference
        variants = applicable_variants(case, context)
    except Exception as exc:  # a case the reference cannot run has no strength to measure
        strength.error = f"{type(exc).__name__}: {exc}"
        return strength
    if budget_s is not None:
        one_run = reference.seconds + (reference.training_seconds if "training" in checks else 0.0)
        if len(variants) * one_run > budget_s:
            strength.error = (f"not measured in this run: {len(variants)} transformed reference runs of "
                              f"about {one_run:.2g} s each, more than the run's strength budget of "
                              f"{budget_s:.2g} s; `python -m harness strength {case.file}` measures it "
                              "(or `run --strength-budget inf`)")
            return strength
    try:
        strength.coverage = branch_coverage(case, reference)
    except Exception:  # coverage is a help for reading the strength, not part of it
        strength.coverage = []
    missed = {entry.layer: entry for entry in strength.coverage if entry.missed}
    for variant in variants:
        outcome = _outcome(case, runner, checks, reference, variant)
        entry = missed.get(variant.site.layer)
        if not outcome.detected and entry is not None and variant.site.kind in ("activation", "layer"):
            outcome.reason = (f"the inputs do not reach every branch of {entry.activation} in layer "
                              f"{entry.layer} (missing: {', '.join(entry.missed)}); " + outcome.reason)
        strength.outcomes.append(outcome)
    strength.seconds = time.perf_counter() - started
    return strength


def _outcome(case, runner, checks, reference, variant: Variant) -> VariantOutcome:
    """Detected by the first check of the case's (forward checks first: a variant they detect
    needs no backward pass or training run) that sees the variant."""
    forward = [check for check in checks if check in FORWARD_CHECKS]
    rest = [check for check in checks if check not in FORWARD_CHECKS]
    closest = None
    for group, backward in ((forward, False), (rest, True)):
        if not group:
            continue
        try:
            transformed = run_transformed(case, (variant,), train="training" in group, backward=backward)
        except Exception as exc:
            # Not counted as detected: nothing was compared.
            return VariantOutcome(variant, False, reason="the reference cannot compute this variant "
                                                         f"({type(exc).__name__}: {exc})")
        for check in group:
            comparisons = check_comparisons(case, check, transformed, reference, runner.tolerance(check))
            if any(not c.passed or c.note for c in comparisons):
                return VariantOutcome(variant, True, check=check)
            for comparison in comparisons:
                if closest is None or _ratio(comparison) > _ratio(closest[1]):
                    closest = (check, comparison)
    return VariantOutcome(variant, False, reason=variant.blind_spot or _reason(closest))


def _ratio(comparison) -> float:
    ratio = comparison.tolerance_ratio
    return -1.0 if ratio != ratio else ratio


def _reason(closest) -> str:
    if closest is None:
        return "the case compares no tensor"
    check, comparison = closest
    if comparison.max_abs_error == 0:
        return ("the transformed reference gives exactly the same numbers on this case's data and "
                "weights (every compared tensor identical)")
    return (f"every compared tensor stays within tolerance: the closest is {comparison.tensor} "
            f"({check}), greatest difference {comparison.max_abs_error:.3g}, "
            f"{100 * _ratio(comparison):.3g}% of what the tolerance allows")


def strength_totals(strengths: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole run's figures from the cases' `to_dict()` forms."""
    detected = sum(s["detected"] for s in strengths)
    total = sum(s["total"] for s in strengths)
    return {"detected": detected, "total": total, "score": detected / total if total else None,
            "cases": len(strengths), "complete": sum(1 for s in strengths if s["total"] and s["detected"] == s["total"])}


def strength_table(strengths: list[CaseStrength]) -> str:
    """The table `python -m harness strength` prints, with every undetected variant's reason."""
    lines = [f"{'case':<44} {'detected':>9} {'strength':>9}"]
    detected = total = 0
    for s in strengths:
        detected, total = detected + s.detected, total + s.total
        score = "error" if s.error else ("n/a" if not s.total else f"{100 * s.score:.0f}%")
        lines.append(f"{s.case:<44} {s.detected:>4}/{s.total:<4} {score:>9}")
    lines.append(f"{'total':<44} {detected:>4}/{total:<4} "
                 f"{(f'{100 * detected / total:.1f}%' if total else 'n/a'):>9}")
    for s in strengths:
        lines.extend(["", *coverage_lines(s.case, s.coverage)] if s.coverage else [])
        if s.error:
            lines.append(f"\n{s.case}: not measured: {s.error}")
        if s.undetected:
            lines.append(f"\n{s.case}: not detected:")
            lines.extend(f"  - {o.variant.describe()}: {o.reason}" for o in s.undetected)
    return "\n".join(lines)
