"""Backward localisation: for a failing gradients check, the first layer, counted from the output
side, whose backward pass diverges while its forward pass agrees.

The loss's gradient flows from the output back to the inputs; a layer whose backward is wrong
(a port's leaky_relu derivative wrong on one side) spoils its own parameter gradients and every
gradient upstream of it, while every layer after it (nearer the loss) still agrees. So, walking
the graph's nodes from the output side: the first node whose gradients leave tolerance is where
the backward goes wrong, provided its forward output agrees (where its forward is already off,
the intermediates check names the layer, and its gradients are wrong for that reason alone).

A node's gradients are its layer's parameter gradients and, where the backend gives them (the
reference does; a port may return `gradients: {"output:<layer>": d loss / d that output}`), the
gradient at its output (a disagreement there means the node after it went wrong, so it is
checked at the node after) and at the inputs it reads from the case (`grad:input:<name>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.common.compare import Tolerance, compare


@dataclass
class BackwardDivergence:
    node: str
    layer: str
    evidence: str
    """Which gradients leave tolerance there, and which agree after it."""

    def text(self) -> str:
        return (f"the backward pass diverges first at layer {self.layer!r} (counted from the output side): "
                f"its forward output agrees, {self.evidence}")


def _within(name: str, kind: str, actual: Any, expected: Any, tolerance: Tolerance) -> bool | None:
    if actual is None or expected is None:
        return None
    try:
        return compare(name, kind, actual, expected, tolerance).passed
    except Exception:  # a shape the backend got wrong: no evidence either way
        return None


def first_divergent_backward(case: Any, actual: Any, reference: Any, tolerance: Tolerance,
                             forward_tolerance: Tolerance | None = None) -> BackwardDivergence | None:
    """The node where the backward pass first goes wrong, from the output side; None where the
    gradients agree, or the first disagreement sits where the forward pass already disagrees."""
    graph = case.graph
    seen_layers: set[str] = set()
    for node in reversed(graph.nodes):
        wrong = []
        # The gradient this node's backward produces: at the nodes (and case inputs) it reads.
        for source in node.inputs:
            if source in actual.output_gradients and _within(
                    f"grad:output:{source}", "output_gradient", actual.output_gradients.get(source),
                    reference.output_gradients.get(source), tolerance) is False:
                wrong.append(f"grad:output:{source}")
            if source in case.float_inputs() and _within(
                    f"grad:input:{source}", "input_gradient", actual.input_gradients.get(source),
                    reference.input_gradients.get(source), tolerance) is False:
                wrong.append(f"grad:input:{source}")
        if node.layer not in seen_layers:
            seen_layers.add(node.layer)
            for parameter in graph.parameters_of(node.layer):
                name = f"{node.layer}/{parameter}"
                if _within(f"grad:{name}", "parameter_gradient", actual.parameter_gradients.get(name),
                           reference.parameter_gradients.get(name), tolerance) is False:
                    wrong.append(f"grad:{name}")
        if not wrong:
            continue
        forward = _within(node.name, "intermediate", actual.intermediates.get(node.name),
                          reference.intermediates.get(node.name), forward_tolerance or tolerance)
        if forward is False:
            return None  # the forward pass is off here: the intermediates check names it
        evidence = ", ".join(wrong) + " out of tolerance"
        evidence += ("; every gradient after it agrees" if node is not graph.nodes[-1] else "")
        if forward is None:
            evidence += " (its forward output was not returned: compared on the outputs only)"
        return BackwardDivergence(node.name, node.layer, evidence)
    return None
