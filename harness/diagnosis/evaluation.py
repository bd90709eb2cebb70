"""Running the reference under a transform and comparing, shared by diagnosis and strength."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from harness.backends.numpy_reference import run_reference
from harness.backends.tensor_pairs import tensor_pairs
from harness.common.compare import TensorComparison, Tolerance, compare
from harness.diagnosis.base import Variant, transformed_edit


FORWARD_CHECKS = ("forward", "intermediates", "metrics")
"""Checks a forward pass alone answers (run_transformed(..., backward=False)). Case strength
tries them first and diagnosis runs only the forward pass for them: most variants (a slope,
an epsilon, a gate order) change the outputs, and the backward pass is most of a reference
run's cost (`python -m harness strength cases/`: 17.4 s -> 13.9 s with the same table; the
outcomes are the same, tests/test_transforms.py)."""


def run_transformed(case: Any, variants: tuple[Variant, ...], *, train: bool, backward: bool = True) -> Any:
    """The float64 reference of the case under the variants (without `backward`: its forward
    pass alone, run_reference's). Overflow and invalid values are quiet here: a transformed
    meaning may well produce NaN (a log of a logit), and then simply matches nothing."""
    return _run_edit(transformed_edit(case, list(variants)), train=train, backward=backward)


def run_transformed_readings(case: Any, variants: tuple[Variant, ...], *, train: bool,
                             backward: bool = True) -> list[Any]:
    """The transformed reference as each kind of backend reports it: as run (the backend was
    given the edited weights, and reports gradients and trained values of what it was given),
    and, where a variant re-laid out a parameter, read back through that layout (the adapter or
    port binds the case's weights the wrong way and maps its gradients back the same way)."""
    edit = transformed_edit(case, list(variants))
    result = _run_edit(edit, train=train, backward=backward)
    return [result] if not edit.layouts or not backward else [result, through_layout(result, edit.layouts)]


def through_layout(result: Any, layouts: dict[str, Any]) -> Any:
    """A copy of `result` whose parameter gradients and trained parameters are read back through
    `layouts` (parameter -> inverse layout): the same map applied to the same values the backend
    computed on its native tensors, so exact for gradients and trained values alike, whatever the
    map (for an orthogonal layout -- a permutation, transpose, flip or sign -- the read-back
    gradient is also the true gradient of the canonical weight; for a doubled bias it is half of it,
    which is what such a binding reports)."""
    import copy

    seen = copy.copy(result)
    seen.parameter_gradients = {name: layouts[name](value) if name in layouts else value
                                for name, value in result.parameter_gradients.items()}
    training = getattr(result, "training", None)
    if training is not None and getattr(training, "parameters", None):
        training = copy.copy(training)
        training.parameters = [{name: layouts[name](value) if name in layouts else value
                                for name, value in step.items()} for step in result.training.parameters]
        seen.training = training
    return seen


def _run_edit(edit: Any, *, train: bool, backward: bool) -> Any:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_reference(edit.case(), train=train, backward=backward)
    for name, view in edit.gradient_views.items():
        if name in result.parameter_gradients:
            result.parameter_gradients[name] = view(result.parameter_gradients[name])
    return result


def check_comparisons(case: Any, check: str, actual: Any, expected: Any,
                      tolerance: Tolerance) -> list[TensorComparison]:
    """Every tensor of `check`, actual against expected, at `tolerance`, values only (no dtype
    test: a float64 transformed reference stands for a backend of the case's dtype)."""
    found = []
    for pair in tensor_pairs(case, check, actual, expected):
        if pair.actual is None:
            found.append(compare(pair.name, pair.kind, np.zeros(0), pair.expected, tolerance, step=pair.step))
            continue
        with np.errstate(all="ignore"):
            found.append(compare(pair.name, pair.kind, pair.actual, pair.expected, tolerance, step=pair.step))
    return found


def all_pass(comparisons: list[TensorComparison]) -> bool:
    return bool(comparisons) and all(c.passed and not c.note for c in comparisons)
