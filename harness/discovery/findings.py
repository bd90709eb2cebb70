"""What a failing check says about where a difference starts: its signature.

A failure's signature is (framework, check, layer kind, hint): the check that failed in that
framework, the kind of layer where the divergence starts, and the diagnosis hint where the check
result carries one (a named semantic transform that would explain it). The shrinker keeps a case
failing with the same framework, check and kind; a campaign counts failures with one signature
as one finding.

Where the divergence starts, per check:
* `intermediates`: the first node, in evaluation order, out of tolerance;
* `forward`: a moving statistic's layer, else the loss (`loss:<type>`) when only the loss is off,
  else the last node (an output);
* `gradients`: the last layer in evaluation order with a parameter gradient out of tolerance
  (backward starts there), else the first layer reading an input whose gradient is off;
* `training`: at the first divergent step, `loss:<type>` when the step's loss is off, else the
  optimizer (`optimizer:<type>`), since the step started from agreeing values;
* `error`: `error:<exception type>: <clause>`, the clause being the message's first words up to
  its sizes (`error_clause`), so that one crash met at many sizes is one finding and two
  different errors of one type are two.

One divergence usually fails several checks of the same framework (a wrong layer output fails
`intermediates`, `forward` and `gradients`); the *primary* failure is the first in
`CHECK_ORDER`, and the others are listed with it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from harness.case import Case
from harness.checks.runner import ERROR, FAIL, CheckResult

CHECK_ORDER = ("intermediates", "forward", "gradients", "training", "known_values")


@dataclass
class Failure:
    framework: str
    check: str
    verdict: str
    kind: str
    """Layer kind where the divergence starts (or loss:/optimizer:/error: ...)."""
    layer: str = ""
    """The node or parameter named by the divergence, for people (not part of the signature)."""
    hint: str = ""
    """The check result's diagnosis hint, where it carries one."""
    message: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.framework, self.check, self.kind, self.hint)

    def key_text(self) -> str:
        return " / ".join(part for part in self.key if part)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Failure":
        return cls(**data)


def failure_of(case: Case, result: CheckResult) -> Failure | None:
    """The signature of one check's result, or None if it did not fail."""
    if result.verdict not in (FAIL, ERROR):
        return None
    hint = getattr(result, "hint", None) or ""
    if not isinstance(hint, str):
        hint = str(getattr(hint, "name", hint))
    message = result.message.splitlines()[0] if result.message else ""
    if result.verdict == ERROR or not result.tensors:
        text = (result.reason or result.message or "").strip().splitlines()
        head = text[0] if text else "error"
        exception, _, rest = head.partition(":")
        detail = re.sub(r"\d+", "N", rest.strip() or head)[:80]
        kind = "error:" + (exception.strip() if rest and " " not in exception.strip() else "unknown")
        kind += ": " + error_clause(detail)
        return Failure(result.framework, result.check, result.verdict, kind, detail, hint, message)
    layer, kind = divergence(case, result)
    return Failure(result.framework, result.check, result.verdict, kind, layer, hint, message)


def error_clause(message: str) -> str:
    """The part of an error message that names the error, without the sizes and values that
    follow it: up to the first '.', '(' or ','. One ValueError about a kernel longer than
    its input and another about a target's rank are two findings, each met at many sizes one."""
    return re.split(r"[.(,]", message, maxsplit=1)[0].strip()[:60] or "(no message)"


def divergence(case: Case, result: CheckResult) -> tuple[str, str]:
    """(where, kind): the tensor or node where the divergence starts and its layer kind."""
    failed = [t for t in result.tensors if not t.passed]
    nodes = {node.name: node for node in case.graph.nodes}
    order = {node.layer: index for index, node in enumerate(case.graph.nodes)}
    if result.check == "intermediates":
        name = failed[0].tensor
        return name, nodes[name].spec.type if name in nodes else "unknown"
    if result.check == "forward":
        state = [t.tensor for t in failed if t.tensor.startswith("state:")]
        if state:
            layer = state[0].split(":", 1)[1].split("/", 1)[0]
            return state[0], case.graph.layers[layer].type
        if all(t.tensor == "loss" for t in failed):
            return "loss", "loss:" + case.losses[0].type
        last = case.graph.nodes[-1]
        return last.name, last.spec.type
    if result.check == "gradients":
        parameters = [t.tensor[len("grad:"):] for t in failed
                      if t.tensor.startswith("grad:") and not t.tensor.startswith("grad:input:")]
        if parameters:
            layer = max((p.split("/", 1)[0] for p in parameters), key=lambda name: order.get(name, -1))
            return layer, case.graph.layers[layer].type
        inputs = [t.tensor[len("grad:input:"):] for t in failed]
        reader = next((node for node in case.graph.nodes if inputs and inputs[0] in node.inputs),
                      case.graph.nodes[0])
        return f"input:{inputs[0] if inputs else '?'}", reader.spec.type
    if result.check == "training":
        step = result.first_divergent_step
        at_step = [t for t in failed if t.step == step]
        if any(t.tensor.startswith("loss@") for t in at_step):
            return f"loss@step{step}", "loss:" + case.losses[0].type
        optimizer = case.spec.optimizer.type if case.spec.optimizer is not None else "?"
        return (at_step[0].tensor if at_step else f"step{step}"), "optimizer:" + optimizer
    return (failed[0].tensor if failed else ""), result.check


def primary_failures(case: Case, results: list[CheckResult]) -> list[tuple[Failure, list[Failure]]]:
    """Per framework with a failure: the primary one (first in CHECK_ORDER) and the others."""
    by_framework: dict[str, list[Failure]] = {}
    for result in results:
        failure = failure_of(case, result)
        if failure is not None:
            by_framework.setdefault(failure.framework, []).append(failure)
    primaries = []
    for failures in by_framework.values():
        failures.sort(key=lambda f: CHECK_ORDER.index(f.check) if f.check in CHECK_ORDER else 99)
        primaries.append((failures[0], failures[1:]))
    return primaries
