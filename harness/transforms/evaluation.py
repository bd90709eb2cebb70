"""Running the reference under a transform and comparing, shared by diagnosis and strength."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from harness.compare import TensorComparison, Tolerance, compare
from harness.reference import run_reference
from harness.transforms.base import Variant, transformed_edit


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
    edit = transformed_edit(case, list(variants))
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
    from harness.runner import tensor_pairs

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
