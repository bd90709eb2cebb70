"""Which tensors each check compares, and how they are named: the one place that says so.

Beside RunResult, below everything that reads two runs side by side: the runner (verdicts), the
diagnosis (a transformed reference judged the same way) and the report (the arrays behind a
comparison's figures).
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import numpy as np

from harness.backends.base import RunResult
from harness.case import Case


class TensorPair(NamedTuple):
    """One tensor a check compares: the framework's array and the one it is judged against."""

    name: str
    kind: str
    actual: Any
    """None where the framework produced no such tensor (a training trace that stopped early)."""
    expected: Any
    step: int | None = None


def known_value_pairs(case: Case, result: RunResult) -> Iterator[TensorPair]:
    """The framework's values and the stated ones, for `known_values`."""
    expect = case.spec.expect
    if expect is None:
        return
    for name, values in expect.outputs.items():
        yield TensorPair(f"output:{name}", "known_value", result.outputs[name], values)
    if expect.loss is not None:
        yield TensorPair("loss", "known_value", result.loss, expect.loss)
    for name, values in expect.gradients.items():
        actual = (result.input_gradients.get(name.split(":", 1)[1]) if name.startswith("input:")
                  else result.parameter_gradients.get(name))
        yield TensorPair(f"grad:{name}", "known_value", actual, values)
    for name, value in expect.metrics.items():
        yield TensorPair(f"metric:{name}", "known_value", result.metrics.get(name), value)
    for known in expect.steps:
        trace, index = result.training, known.step - 1
        reached = index < len(trace.losses)
        if known.loss is not None:
            yield TensorPair(f"loss@step{known.step}", "known_value", trace.losses[index] if reached else None,
                             known.loss, known.step)
        for name, values in known.parameters.items():
            yield TensorPair(f"{name}@step{known.step}", "known_value",
                             trace.parameters[index].get(name) if reached else None, values, known.step)


def tensor_pairs(case: Case, check: str, actual: RunResult, expected: RunResult) -> Iterator[TensorPair]:
    """The tensors a check compares, in graph (and step) order.

    The one place that says which tensors a check covers and how they are named; the report
    uses it too, to draw the arrays behind a comparison's figures. A tensor a backend did not
    produce (a port that returns less) is None on its side, and compared as missing; a layer
    output a port does not return is left out of `intermediates` (those are the port's to choose:
    a fused implementation has no output between the layers it fuses)."""
    if check == "forward":
        for name in case.graph.outputs:
            yield TensorPair(f"output:{name}", "output", actual.outputs.get(name), expected.outputs.get(name))
        if case.losses:  # a forward-only case may state none
            yield TensorPair("loss", "loss", actual.loss, expected.loss)
        # Moving statistics after the run: updated in training mode, untouched in inference mode
        # (a framework left in the wrong mode changes them).
        # A port that returns no state leaves it out (as layer outputs); frameworks return it all.
        for name in case.state_parameters():
            if name in actual.state and name in expected.state:
                yield TensorPair(f"state:{name}", "state", actual.state[name], expected.state[name])
    elif check == "intermediates":
        for node in case.graph.nodes:
            if node.name in actual.intermediates and node.name in expected.intermediates:
                yield TensorPair(node.name, "intermediate", actual.intermediates[node.name],
                                 expected.intermediates[node.name])
    elif check == "gradients":
        for name in case.trainable_parameters():
            yield TensorPair(f"grad:{name}", "parameter_gradient", actual.parameter_gradients.get(name),
                             expected.parameter_gradients.get(name))
        for name in case.float_inputs():
            yield TensorPair(f"grad:input:{name}", "input_gradient", actual.input_gradients.get(name),
                             expected.input_gradients.get(name))
        for node in case.graph.nodes:  # where a port returns them (`output:<layer>`), as intermediates
            if node.name in actual.output_gradients and node.name in expected.output_gradients:
                yield TensorPair(f"grad:output:{node.name}", "output_gradient", actual.output_gradients[node.name],
                                 expected.output_gradients[node.name])
    elif check == "training":
        yield from training_pairs(case, actual, expected)
    elif check == "metrics":
        yield from metric_pairs(case, actual, expected)
    else:
        raise ValueError(f"unknown check {check!r}")


def metric_pairs(case: Case, actual: RunResult, expected: RunResult) -> Iterator[TensorPair]:
    """Per metric: the count of right predictions (accuracies), else the metric's value."""
    for metric in case.metrics:
        mine, theirs = actual.metrics.get(metric.label), expected.metrics.get(metric.label)
        if not metric.counted:
            yield TensorPair(f"metric:{metric.label}", "metric", mine, theirs)
            continue
        shape = (case.dataset.samples, *case.graph.shapes[case.metric_output(metric)])
        yield TensorPair(f"metric:{metric.label}", "metric_count",
                         None if mine is None else np.int64(metric.count(mine, shape)),
                         None if theirs is None else np.int64(metric.count(theirs, shape)))


def training_pairs(case: Case, actual: RunResult, expected: RunResult) -> Iterator[TensorPair]:
    """Per step, in order: the batch loss, every trainable parameter after the update, and every
    non-trainable one (moving statistics) the step's forward pass left behind."""
    mine, theirs = actual.training, expected.training
    for index in range(len(theirs.losses)):
        step = index + 1
        if index >= len(mine.losses):
            yield TensorPair(f"loss@step{step}", "training_loss", None, theirs.losses[index], step)
            return
        yield TensorPair(f"loss@step{step}", "training_loss", mine.losses[index], theirs.losses[index], step)
        for name in case.trainable_parameters():
            yield TensorPair(f"{name}@step{step}", "training_parameter", mine.parameters[index].get(name),
                             theirs.parameters[index].get(name), step)
        for name in case.state_parameters():  # left out where a port returns no state
            mine_state, their_state = _at(mine.state, index, name), _at(theirs.state, index, name)
            if mine_state is not None and their_state is not None:
                yield TensorPair(f"state:{name}@step{step}", "training_state", mine_state, their_state, step)


def _at(steps: list[dict[str, Any]], index: int, name: str) -> Any:
    return steps[index].get(name) if index < len(steps) else None
