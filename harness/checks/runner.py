"""Running a case in each backend and judging every check against the reference.

A case's backends are the frameworks (`numpy`, `keras`, `chainer`, `torch`) and its ports (a
user's own implementation, harness/ports/): each is a `Backend` whose `run(case)` gives a
RunResult, and everything here treats them alike. Where this module says "framework", a port is
meant too (the names stay for compatibility: `CheckResult.framework`, `FrameworkOutcome`).

Nothing here stops a run: a framework that is not installed, cannot express the case, or raises,
becomes a `skipped` or `error` verdict for that framework, with the reason, and the others go on.
A check whose tensors a framework does not produce (one of the case's metrics:
`RunResult.unavailable`) is `skipped` with the reason; a check a port returns no tensors for
(no gradients: `RunResult.not_returned`) is `not-returned`, counted apart: the port passes what
it returns, and nothing is hidden under "skipped".

Verdicts: `pass`; `fail`; `expected-difference` (the case documents why this framework differs,
and it does); `skipped` (with the reason); `error` (an exception, with its traceback);
`not-returned` (a port returns nothing for this check).
A documented difference that does not show up is a `fail`: the case's explanation is stale.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from harness.backends import get_backend
from harness.backends.base import Backend, ExecutionPath, RunResult, Unsupported
from harness.backends.numpy_reference import run_reference
from harness.backends.tensor_pairs import TensorPair, known_value_pairs, tensor_pairs
from harness.case import Case
from harness.case.schema import LOSS_CHECKS
from harness.common.compare import DEFAULT_TOLERANCES, TensorComparison, Tolerance, compare
from harness.diagnosis.backward import first_divergent_backward
from harness.diagnosis.kinks import kink_crossings, kink_text
from harness.diagnosis.gate_table import gate_rows
from harness.diagnosis.hints import Diagnoser
from harness.ports import PortError, port_backend
from harness.reference.metrics import differing_predictions

PASS, FAIL, EXPECTED, SKIPPED, ERROR = "pass", "fail", "expected-difference", "skipped", "error"
NOT_RETURNED = "not-returned"
VERDICTS = (PASS, FAIL, EXPECTED, SKIPPED, ERROR, NOT_RETURNED)
COMPARED_CHECKS = ("forward", "intermediates", "gradients", "training", "metrics")
EXACT = Tolerance(0.0, 0.0, "counts of right predictions compare exactly")
TOLERANCE_OF = {"metrics": "forward"}
"""Checks that use another check's default tolerance: error metrics are compared like the loss."""


@dataclass
class CheckResult:
    case: str
    framework: str
    check: str
    against: str
    """`reference`, another framework's name, or `known values`."""
    verdict: str
    message: str = ""
    reason: str = ""
    tensors: list[TensorComparison] = field(default_factory=list)
    seconds: float = 0.0
    hint: dict[str, Any] | None = None
    """A failed check only: the catalogue's transform(s) under which the reference matches this
    framework on every tensor of the check (harness/diagnosis/hints.py); None if none does."""
    backward_divergence: dict[str, Any] | None = None
    """A failed gradients check: the first layer from the output side whose backward diverges
    while its forward agrees (harness/diagnosis/backward.py): its layer, node and the sentence."""
    gate_table: list[dict[str, Any]] | None = None
    """A failed gradients or training check of a recurrent layer: per parameter, each gate
    block's largest |difference| over the allowed (harness/diagnosis/gate_table.py `gate_rows`:
    layer, parameter, step, gates, text)."""
    search: dict[str, Any] | None = None
    """A failed check the search found no hint for: how many transforms and combinations it tried
    in how long, and its nearest miss (`SearchLog.to_dict`); None where a hint was found or no
    search ran."""

    @property
    def worst(self) -> TensorComparison | None:
        """The tensor furthest out of (or closest to) tolerance."""
        compared = [t for t in self.tensors if t.total]
        if not compared:
            return None
        return max(compared, key=lambda t: (not t.passed, bool(t.note), _nan_low(t.tolerance_ratio)))

    @property
    def max_rel_error(self) -> float:
        """The largest relative error of any tensor (nan where nothing was compared)."""
        values = [t.max_rel_error for t in self.tensors if not np.isnan(t.max_rel_error)]
        return max(values) if values else float("nan")

    @property
    def first_divergent(self) -> str | None:
        """For intermediates: the first node, in evaluation order, out of tolerance."""
        return next((t.tensor for t in self.tensors if not t.passed), None)

    @property
    def first_divergent_step(self) -> int | None:
        """For training: the first step with a loss or parameter out of tolerance."""
        return next((t.step for t in self.tensors if not t.passed and t.step is not None), None)



def recorded_paths(backend: Backend, case: Case) -> list[ExecutionPath]:
    """The backend's execution paths for the case; where they cannot be read, that is recorded
    (a `when` then matches nothing), and the run's results stand."""
    try:
        return backend.execution_paths(case)
    except Exception as exc:
        return [ExecutionPath("execution_paths", "unknown", f"could not be read: {type(exc).__name__}: {exc}")]


def _nan_low(value: float) -> float:
    return -1.0 if np.isnan(value) else value


@dataclass
class FrameworkOutcome:
    """What happened when one framework ran one case."""

    framework: str
    result: RunResult | None = None
    status: str = "ran"
    """`ran`, or SKIPPED / ERROR with `reason`."""
    reason: str = ""
    seconds: float = 0.0
    artifact: str | None = None
    """A shipped runtime's exported model as the report keeps it (`artifacts/<case id>.onnx`),
    where the report copies it (python -m harness run): the case page links it."""


class CaseRunner:
    """Runs one case lazily: the reference once, each framework once, checks on demand."""

    def __init__(self, case: Case, *, require_frameworks: bool = False, diagnose: bool = True) -> None:
        self.case = case
        self.require_frameworks = require_frameworks
        self.diagnose = diagnose
        """Search the transform catalogue for a hint when a check fails (only then)."""
        self._outcomes: dict[str, FrameworkOutcome] = {}
        self._diagnoser = None
        self.diagnosis_seconds = 0.0
        self._ports: dict[str, Backend] = {}

    def backend(self, name: str) -> Backend:
        """The backend called `name`: one of the case's ports, else a framework."""
        port = self.case.port(name)
        if port is None:
            return get_backend(name)
        if name not in self._ports:
            self._ports[name] = port_backend(port)
        return self._ports[name]

    def backend_names(self, frameworks: list[str]) -> list[str]:
        """The columns of this case: the given frameworks, then the case's ports."""
        return self.case.backend_names(frameworks)

    @cached_property
    def reference(self) -> RunResult:
        return run_reference(self.case)

    def computed_reference(self) -> RunResult | None:
        """The reference if a check has computed it, else None (never runs it, never raises)."""
        return self.__dict__.get("reference")

    def outcome(self, framework: str) -> FrameworkOutcome:
        if framework not in self._outcomes:
            self._outcomes[framework] = self._run(framework)
        return self._outcomes[framework]

    def _run(self, framework: str) -> FrameworkOutcome:
        backend = self.backend(framework)
        reason = backend.unavailable_reason()
        if reason:
            # In CI every framework must run: a missing one is an error there, not a quiet skip.
            # A port that cannot run here (no C compiler) is no framework: it is skipped.
            required = self.require_frameworks and self.case.port(framework) is None
            return FrameworkOutcome(framework, status=ERROR if required else SKIPPED, reason=reason)
        started = time.perf_counter()
        try:
            result = backend.run(self.case)
        except Unsupported as exc:
            return FrameworkOutcome(framework, status=SKIPPED, reason=str(exc))
        except PortError as exc:  # the port's own message: which port, case, what was expected
            return FrameworkOutcome(framework, status=ERROR, reason=str(exc),
                                    seconds=time.perf_counter() - started)
        except Exception as exc:  # one framework's crash is its own failure, not the run's
            return FrameworkOutcome(framework, status=ERROR,
                                    reason=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                                    seconds=time.perf_counter() - started)
        result.seconds = time.perf_counter() - started
        result.execution_paths = recorded_paths(backend, self.case)
        return FrameworkOutcome(framework, result=result, seconds=result.seconds)

    def execution_paths(self, framework: str) -> dict[str, str]:
        """Name -> path of the machine-dependent decisions the framework's run took."""
        result = self.outcome(framework).result
        return {path.name: path.path for path in result.execution_paths} if result is not None else {}

    def checks(self) -> list[str]:
        return list(self.case.spec.checks)

    def check(self, framework: str, check: str) -> CheckResult:
        """Judge one check of one framework against the reference (or the stated values)."""
        started = time.perf_counter()
        base = CheckResult(case=self.case.id, framework=framework, check=check,
                           against="known values" if check == "known_values" else "reference",
                           verdict=ERROR)
        not_applicable = without_loss(self.case, check)
        if not_applicable is not None:
            base.verdict, base.reason = SKIPPED, not_applicable
            base.message = base.reason
            return base
        try:
            reference = self.reference
        except Unsupported as exc:  # e.g. Dropout in training mode: no framework can be compared
            base.verdict, base.reason = SKIPPED, f"the NumPy reference cannot run this case: {exc}"
            base.message = base.reason
            return base
        except Exception as exc:
            base.message = f"the NumPy reference failed: {type(exc).__name__}: {exc}"
            base.reason = traceback.format_exc()
            return base
        outcome = self.outcome(framework)
        if outcome.result is None:
            base.verdict, base.reason = outcome.status, outcome.reason
            base.message = outcome.reason.splitlines()[0] if outcome.reason else ""
            return base
        problem = unavailable_problem(self.case, check, outcome.result) or \
            training_problem(self.case, check, outcome.result, reference)
        if problem is not None:
            base.verdict, base.reason = problem
            base.message = base.reason.splitlines()[0] if base.reason else ""
            return base
        if check == "known_values":
            base.tensors = self.known_value_comparisons(outcome.result)
        else:
            base.tensors = list(comparisons(self.case, check, outcome.result, reference,
                                            self.tolerance(check, framework)))
        self._judge(base)
        if base.verdict in (FAIL, EXPECTED) and check == "gradients":
            self._locate_backward(base, outcome.result, reference, framework)
        if base.verdict in (FAIL, EXPECTED) and check in ("gradients", "training"):
            self._add_gate_table(base, outcome.result, reference, framework)
        if base.verdict in (FAIL, EXPECTED) and self.diagnose and check in COMPARED_CHECKS:
            self._add_hint(base, outcome.result, reference)
        base.seconds = time.perf_counter() - started
        return base

    def _add_gate_table(self, result: CheckResult, actual: RunResult, reference: RunResult,
                        framework: str) -> None:
        """Recurrent parameters out of tolerance: how far each gate block is (harness/diagnosis/gate_table.py)."""
        try:
            rows = gate_rows(self.case, tensor_pairs(self.case, result.check, actual, reference),
                             self.tolerance(result.check, framework))
        except Exception:  # a view, never a failure
            return
        if rows:
            result.gate_table = rows
            result.message += ("\nper gate (largest |difference| over the allowed; out: beyond tolerance):\n  "
                               + "\n  ".join(row["text"] for row in rows))

    def _locate_backward(self, result: CheckResult, actual: RunResult, reference: RunResult,
                         framework: str) -> None:
        """A failed gradients check: the first layer from the output side whose backward
        diverges while its forward agrees (harness/diagnosis/backward.py), and the ReLU inputs
        rounded to the other side of the kink (harness/diagnosis/kinks.py). A help: never a failure."""
        try:
            found = first_divergent_backward(self.case, actual, reference, self.tolerance("gradients", framework),
                                             self.tolerance("intermediates", framework))
        except Exception:
            return
        if found is not None:
            result.backward_divergence = {"layer": found.layer, "node": found.node, "text": found.text()}
            result.message += "\nbackward: " + found.text()
        try:  # ReLU inputs this backend rounded to the other side of the kink (harness/diagnosis/kinks.py)
            crossings = kink_crossings(self.case, actual, reference, self.tolerance("intermediates", framework))
        except Exception:
            return
        if crossings:
            text = kink_text(crossings, found.node if found is not None else None)
            result.backward_divergence = {**(result.backward_divergence or {}), "kinks": text,
                                          "kink_crossings": len(crossings)}
            result.message += "\nkinks: " + text

    def _add_hint(self, result: CheckResult, actual: RunResult, reference: RunResult) -> None:
        """Search the transform catalogue; a hint only where a transform matches every tensor.
        A shape or dtype mismatch is no convention difference: no search. The search never
        changes the verdict, and its own failure is no failure of the check."""
        if any(t.note for t in result.tensors):
            return

        if self._diagnoser is None:
            self._diagnoser = Diagnoser(self.case)
        started = time.perf_counter()
        try:
            hint = self._diagnoser.diagnose(result.framework, result.check, actual, reference,
                                            self.tolerance(result.check))
        except Exception:  # a hint is a help, never a reason for a run to stop
            return
        finally:
            self.diagnosis_seconds += time.perf_counter() - started
        if hint is not None:
            result.hint = hint.to_dict()
            result.message += "\nhint: " + hint.text()
            if self.case.port(result.framework) is not None and hint.port_side():
                result.message += "\n  in your port: " + hint.port_side()
        else:  # say what was searched: a user sees the search ran, how far, and what came closest
            result.search = self._diagnoser.last.to_dict()
            result.message += "\nsearched: " + self._diagnoser.last.summary()

    def pairwise(self, first: str, second: str, check: str) -> CheckResult | None:
        """One framework against another, both having run; None if either did not."""
        a, b = self.outcome(first).result, self.outcome(second).result
        if a is None or b is None or check not in COMPARED_CHECKS or without_loss(self.case, check):
            return None
        if any(check in r.unavailable or check in r.not_returned or check in r.check_errors for r in (a, b)):
            return None
        if check == "training" and not (_trained(a) and _trained(b)):
            return None
        result = CheckResult(case=self.case.id, framework=first, check=check, against=second,
                             verdict=ERROR,
                             tensors=list(comparisons(self.case, check, a, b,
                                                      self.pairwise_tolerance(check, first, second))))
        failed = [t for t in result.tensors if not t.passed]
        result.verdict = FAIL if failed else PASS
        result.message = describe_tensor(failed[0]) if failed else ""
        return result

    def dtype(self, backend: str | None) -> str:
        """What a backend computes in: the case's dtype, or what a port declares (or returns)."""
        port = self.case.port(backend) if backend else None
        if port is None:
            return self.case.spec.dtype
        result = self.outcome(backend).result
        return result.dtype if result is not None else (port.spec.dtype or self.case.spec.dtype)

    def tolerance(self, check: str, backend: str | None = None) -> Tolerance:
        """A port's own `tolerance` (or a shipped runtime's, stated with the case's export
        options), else the case's (written for the case's dtype, so for a port computing in
        another dtype only its own), else the default of the dtype."""
        dtype = self.dtype(backend)
        port = self.case.port(backend) if backend else None
        overrides = [port.spec.tolerance] if port is not None and port.spec.tolerance is not None else []
        stated = getattr(self.backend(backend), "stated_tolerances", None) if backend and port is None else None
        if stated is not None and stated(self.case) is not None:
            overrides.append(stated(self.case))
        if dtype == self.case.spec.dtype:
            overrides.append(self.case.spec.tolerance)
        for overridden in overrides:
            override = getattr(overridden, check, None) or getattr(overridden, TOLERANCE_OF.get(check, check), None)
            if override is not None:
                return Tolerance(override.rtol, override.atol, override.reason)
        # A backend with tolerances of its own (a shipped runtime: its kernels are not the
        # framework's) states them per dtype; the others share the defaults.
        own = getattr(self.backend(backend), "tolerances", {}) if backend and port is None else {}
        return (own.get(dtype) or DEFAULT_TOLERANCES[dtype])[TOLERANCE_OF.get(check, check)]

    def pairwise_tolerance(self, check: str, first: str | None = None, second: str | None = None) -> Tolerance:
        """Twice the tolerance against the reference: two frameworks each within it of the
        reference may be up to twice it apart (float32 rounding on both sides adds up), so a
        pairwise mismatch means that at least one of them is outside what agreement allows.
        Between backends with different tolerances (a float64 port and a float32 framework),
        twice the looser one."""
        one, other = self.tolerance(check, first), self.tolerance(check, second)
        single = one if (one.rtol, one.atol) >= (other.rtol, other.atol) else other
        return Tolerance(2 * max(one.rtol, other.rtol), 2 * max(one.atol, other.atol),
                         f"twice the tolerance against the reference ({single.reason or 'default'})")

    def known_value_comparisons(self, result: RunResult) -> list[TensorComparison]:
        expect = self.case.spec.expect
        if expect is None:
            return []
        tolerance = Tolerance(expect.rtol, expect.atol, f"stated precision of: {expect.source}")
        return [compare(pair.name, pair.kind, pair.actual, pair.expected, tolerance, step=pair.step)
                for pair in known_value_pairs(self.case, result)]

    def _judge(self, result: CheckResult) -> None:
        failed = [t for t in result.tensors if not t.passed]
        if not result.tensors:
            result.verdict, result.message = ERROR, "nothing was compared (no tensors for this check)"
            return
        # A model output NaN everywhere leaves nothing to compare (a loss over one NaN sample is
        # NaN too, and a case that feeds NaN on purpose still compares its finite outputs).
        empty = [t for t in result.tensors
                 if t.kind == "output" and t.total and t.extra.get("nonfinite_expected") == t.total]
        if empty and result.against == "reference":
            result.verdict = ERROR
            result.message = (f"the reference's {empty[0].tensor} is NaN or inf everywhere: an error of the "
                              "case (nothing is compared; check the data, weights and hyper-parameters)")
            return
        expectation = self.case.expected_difference(result.framework, result.check,
                                                     self.execution_paths(result.framework))
        if expectation is not None and not failed and result.framework not in expectation.frameworks:
            # Inherited from the runtime's source framework (Case.expected_difference): a runtime
            # that agrees with the reference passes; the entry is the framework's, checked there.
            expectation = None
        if expectation is None:
            result.verdict = FAIL if failed else PASS
            result.message = _failure_message(result, failed) if failed else _nan_agreement(self.case, result)
        elif failed:
            result.verdict, result.reason = EXPECTED, expectation.reason
            result.message = _failure_message(result, failed)
        else:
            result.verdict = FAIL
            result.reason = expectation.reason
            result.message = ("documented as expected to differ (" + expectation.reason + "), but it "
                              "agrees within tolerance: the case's expected_differences entry is out of date")


def _nan_agreement(case: Case, result: CheckResult) -> str:
    """A pass that holds NaN or inf against the same says so: NaN matching NaN is agreement on
    nothing computable, never a plain pass."""
    tensors = [t for t in result.tensors if t.extra.get("nonfinite_expected")]
    if not tensors:
        return ""
    listed = ", ".join(f"{t.tensor} ({t.extra['nonfinite_expected']} of {t.total})" for t in tensors[:3])
    why = f"; the case allows it: {case.spec.nonfinite}" if case.spec.nonfinite else ""
    return f"NaN agrees: non-finite reference values matched in {listed}{why}"


def _failure_message(result: CheckResult, failed: list[TensorComparison]) -> str:
    lines = [f"{len(failed)} of {len(result.tensors)} tensors out of tolerance against {result.against}"]
    if result.check == "intermediates":
        lines.append(f"divergence starts at layer {failed[0].tensor!r}")
    if result.check == "training" and result.first_divergent_step is not None:
        lines.append(f"divergence starts at step {result.first_divergent_step}")
    lines.extend("  " + describe_tensor(t) for t in failed[:5])
    if len(failed) > 5:
        lines.append(f"  ... and {len(failed) - 5} more")
    return "\n".join(lines)


def comparisons(case: Case, check: str, actual: RunResult, expected: RunResult,
                tolerance: Tolerance) -> Iterator[TensorComparison]:
    """The tensors a check compares, in graph order, each compared. Counts of right predictions
    compare exactly; metrics are float64 in every backend (no dtype to check)."""
    for pair in tensor_pairs(case, check, actual, expected):
        if pair.actual is None or pair.expected is None:
            side, other = (actual, pair.expected) if pair.actual is None else (expected, pair.actual)
            missing = compare(pair.name, pair.kind, np.zeros(0), other, tolerance, step=pair.step)
            missing.note = _missing_note(case, side, pair)
            yield missing
            continue
        if pair.kind == "metric_count":
            yield _with_differing_predictions(case, compare(pair.name, pair.kind, pair.actual, pair.expected, EXACT),
                                              actual, expected)
            continue
        yield compare(pair.name, pair.kind, pair.actual, pair.expected, tolerance,
                      expected_dtype=None if pair.kind == "metric" else actual.dtype, step=pair.step)


def _with_differing_predictions(case: Case, comparison: TensorComparison, actual: RunResult,
                                expected: RunResult) -> TensorComparison:
    """A count of right predictions, with the positions where the two sides predict differently
    (the counts can agree while predictions differ: two flips the other way round)."""
    metric = next(m for m in case.metrics if comparison.tensor == f"metric:{m.label}")
    output = case.metric_output(metric)
    if output not in actual.outputs or output not in expected.outputs:
        return comparison
    differing = differing_predictions(metric, expected.outputs[output], {actual.framework: actual.outputs[output]},
                                      case.dataset.targets[case.metric_target(metric)])
    if differing and differing["count"]:
        comparison.extra["differing_count"] = differing["count"]
        comparison.extra["differing_positions"] = [row["index"] for row in differing["rows"]]
    return comparison


def describe_tensor(tensor: TensorComparison) -> str:
    """A comparison in one line; counts of right predictions as counts, with where they differ."""
    if tensor.kind != "metric_count" or tensor.note:
        return tensor.describe()
    text = f"{tensor.tensor}: {_count(tensor.worst_actual)} right predictions, {_count(tensor.worst_expected)} " \
           "expected (counts compare exactly)"
    differing = tensor.extra.get("differing_count")
    if differing:
        shown = ", ".join(str(tuple(index)) for index in tensor.extra["differing_positions"][:10])
        text += f"; predicted differently at {differing} positions: {shown}" + (" ..." if differing > 10 else "")
    return text


def _count(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def _missing_note(case: Case, side: RunResult, pair: TensorPair) -> str:
    note = f"{side.framework} produced no such tensor"
    trace = side.training
    if pair.step is not None and trace is not None and len(trace.losses) < pair.step:
        return note + f" (its training trace stops after {len(trace.losses)} steps)"
    if case.port(side.framework) is not None:
        return note + " (the port does not return it)"
    return note


def _trained(result: RunResult) -> bool:
    return result.training is not None and result.training.status == "ran"


KNOWN_VALUE_PARTS = {"gradients": "gradients", "steps": "training", "metrics": "metrics"}
"""Parts of `expect` -> the check whose tensors they need."""


def without_loss(case: Case, check: str) -> str | None:
    """Why a check is not applicable to a case that states no loss (a forward-only case), or
    None: gradients and training follow the loss, and stated values of the loss, of gradients
    or of training steps have nothing to be compared with."""
    if case.losses:
        return None
    expect = case.spec.expect
    needs_loss = check in LOSS_CHECKS or (check == "known_values" and expect is not None and (
        expect.loss is not None or expect.gradients or expect.steps))
    return ("not applicable: the case states no loss, and this check compares what a loss drives "
            "(add `loss` and its target to check it)") if needs_loss else None


def unavailable_problem(case: Case, check: str, result: RunResult) -> tuple[str, str] | None:
    """(verdict, reason) where the backend produces no tensors for this check (or, for
    known_values, for a part of `expect` it states): skipped for a framework, not-returned for a
    port; error where what a port returned cannot be judged (its dtype)."""
    for missing, verdict in ((result.check_errors, ERROR), (result.not_returned, NOT_RETURNED),
                             (result.unavailable, SKIPPED)):
        if check in missing:
            return verdict, missing[check]
        if check == "known_values" and case.spec.expect is not None:
            for part, needed in KNOWN_VALUE_PARTS.items():
                if getattr(case.spec.expect, part) and needed in missing:
                    return verdict, f"the stated values include {part}: {missing[needed]}"
    return None


def training_problem(case: Case, check: str, result: RunResult, reference: RunResult) -> tuple[str, str] | None:
    """(verdict, reason) where a check needs the training trace and the framework has none."""
    needs_trace = check == "training" or (check == "known_values" and case.spec.expect is not None
                                           and bool(case.spec.expect.steps))
    if not needs_trace or _trained(result):
        return None
    if reference.training is None or result.training is None:
        return ERROR, f"no training trace from {'the reference' if reference.training is None else result.framework}"
    trace = result.training
    return (SKIPPED if trace.status == SKIPPED else ERROR), trace.reason


@dataclass
class CaseReport:
    """Everything one case produced in a run: checks per framework, pairwise, outcomes."""

    case: Case
    checks: list[CheckResult]
    pairwise: list[CheckResult]
    outcomes: dict[str, FrameworkOutcome]
    reference_seconds: float = 0.0
    error: str = ""
    reference: RunResult | None = None
    """The float64 reference run (None if it failed): the report draws its pictures from it."""
    strength: dict[str, Any] | None = None
    """The case's strength (harness/audit/strength.py, `CaseStrength.to_dict()`), where
    the session measured it."""
    diagnosis_seconds: float = 0.0
    """Spent searching the transform catalogue for hints on failed checks (timed apart from the
    comparisons: a failing case pays for its search, bounded per check, a passing one nothing)."""


def run_case(case: Case, frameworks: list[str], *, require_frameworks: bool = False,
             on_check: Callable[[CheckResult], None] | None = None) -> CaseReport:
    """Every check of the given frameworks and of the case's ports, then every pair of them."""
    runner = CaseRunner(case, require_frameworks=require_frameworks)
    frameworks = runner.backend_names(frameworks)
    checks = []
    for framework in frameworks:
        for check in runner.checks():
            result = runner.check(framework, check)
            checks.append(result)
            if on_check:
                on_check(result)
    reference = runner.computed_reference()
    reference_seconds = reference.seconds if reference is not None else 0.0
    pairwise = []
    for i, first in enumerate(frameworks):
        for second in frameworks[i + 1:]:
            for check in runner.checks():
                result = runner.pairwise(first, second, check)
                if result is not None:
                    pairwise.append(result)
    return CaseReport(case=case, checks=checks, pairwise=pairwise,
                      outcomes={f: runner.outcome(f) for f in frameworks},
                      reference_seconds=reference_seconds, reference=reference,
                      diagnosis_seconds=runner.diagnosis_seconds)
