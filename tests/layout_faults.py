"""Layout faults injected into an adapter's weight binding, the way people really get them wrong.

A binding (harness/backends/base.py `WeightBinding`) takes a canonical parameter to the
framework (`to_native`) and its gradients and trained values back (`from_native`). A wrong binding
is wrong both ways: the framework computes with the re-laid out weight, and its gradients come
back through the same wrong map. `bound_wrong` makes exactly that fault in one layer of a real
adapter (torch here), so the run, the gradients and the training all come from the framework.

Also the measurement of issue 24 (hints on gradient and training checks):

    cd /work/wt/hints && python -m tests.layout_faults          # this branch
    cd /work/main && python /work/wt/hints/tests/layout_faults.py  # the same fault set on main

prints, per fault and check, whether the failed check carries the exact hint (the injected
transform at the injected layer), and the share of failed checks with an exact hint.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import sys
from typing import Callable

import numpy as np


def swap_blocks(count: int, a: int, b: int) -> Callable[[np.ndarray], np.ndarray]:
    """Blocks a and b of the last axis (of `count`) swapped: its own inverse."""
    def swap(array: np.ndarray) -> np.ndarray:
        blocks = np.split(array, count, axis=-1)
        blocks[a], blocks[b] = blocks[b], blocks[a]
        return np.concatenate(blocks, axis=-1)
    return swap


def negate_first_block(count: int) -> Callable[[np.ndarray], np.ndarray]:
    def negate(array: np.ndarray) -> np.ndarray:
        blocks = np.split(array, count, axis=-1)
        return np.concatenate([-blocks[0], *blocks[1:]], axis=-1)
    return negate


def transpose(array: np.ndarray) -> np.ndarray:
    return array.T.copy()


def flip_spatial(array: np.ndarray) -> np.ndarray:
    return np.flip(array, axis=tuple(range(array.ndim - 2))).copy()


def swap_spatial(array: np.ndarray) -> np.ndarray:
    return np.swapaxes(array, 0, 1).copy()


@contextlib.contextmanager
def bound_wrong(backend, layer: str | tuple[str, ...], parameters: tuple[str, ...], wrong: Callable,
                inverse: Callable | None = None):
    """Within the block, `backend` binds `parameters` of `layer` (one name, or several: the same
    mistake in each) through `wrong` on the way in and `inverse` (default: `wrong`, an
    involution) on the way back, composed with its own layout."""
    try:
        from harness.backends.layout import Transform
    except ImportError:  # the layout before issue 21 (de4a9c0), where issue 24's "before" is measured
        from harness.adapters.layout import Transform

    inverse = inverse or wrong
    layers = (layer,) if isinstance(layer, str) else tuple(layer)
    original = backend.build_layer

    def build_layer(case, name):
        built = original(case, name)
        if name in layers:
            built.bindings = [
                dataclasses.replace(b, transform=Transform(
                    f"{b.transform.description} (fault injected)",
                    lambda a, t=b.transform: t.to_native(wrong(a)),
                    lambda a, t=b.transform: inverse(t.from_native(a))))
                if b.parameter in parameters else b for b in built.bindings]
        return built

    backend.build_layer = build_layer
    try:
        yield
    finally:
        del backend.build_layer  # the class's method again


def _case(path: str, variant: str | None):
    from harness.weights import load_cases

    cases = load_cases(path)
    return next(c for c in cases if variant is None or c.id.endswith(variant))


RECURRENT = ("kernel", "recurrent_kernel", "bias")

# (id, case file, variant, layer, parameters, wrong, inverse, transform expected)
FAULTS = [
    ("LSTM gates i and f swapped", "cases/recurrent_training.yaml", "lstm_sgd_momentum", "lstm", RECURRENT,
     swap_blocks(4, 0, 1), None, "recurrent.gate_order"),
    ("GRU gates z and r swapped", "cases/recurrent_training.yaml", "gru_adam", "gru", RECURRENT,
     swap_blocks(3, 0, 1), None, "recurrent.gate_order"),
    ("GRU update gate negated", "cases/recurrent_training.yaml", "gru_adam", "gru", RECURRENT,
     negate_first_block(3), None, "GRU.update_gate"),
    ("Conv2D kernel flipped", "cases/seed008_cnn_batchnorm_training.yaml", "float64", "conv", ("kernel",),
     flip_spatial, None, "conv.flipped_kernel"),
    ("Conv2D kernel spatial axes swapped", "cases/seed008_cnn_batchnorm_training.yaml", "float64", "conv",
     ("kernel",), swap_spatial, None, "kernel.transposed"),
]


def measure(framework: str = "torch") -> list[dict]:
    """Each fault run in `framework`, every check judged with hints; one row per failed check."""
    from harness.backends import get_backend
    from harness.checks.runner import FAIL, CaseRunner

    backend = get_backend(framework)
    rows = []
    for name, path, variant, layer, parameters, wrong, inverse, expected in FAULTS:
        case = _case(path, variant)
        with bound_wrong(backend, layer, parameters, wrong, inverse):
            runner = CaseRunner(copy.copy(case))
            checks = [runner.check(framework, check) for check in runner.checks()]
        for check in checks:
            if check.verdict != FAIL:
                continue
            named = [(t["transform"], t["layer"]) for t in (check.hint or {}).get("transforms", [])]
            rows.append({"fault": name, "check": check.check, "exact": named == [(expected, layer)],
                         "hint": (check.hint or {}).get("text")})
    return rows


def main() -> None:
    rows = measure()
    for row in rows:
        print(f"{row['fault']:<38} {row['check']:<14} {'exact' if row['exact'] else '-':<6} {row['hint'] or ''}")
    for group, checks in (("forward/intermediates", ("forward", "intermediates")),
                          ("gradients/training", ("gradients", "training")), ("all", None)):
        chosen = [r for r in rows if checks is None or r["check"] in checks]
        exact = sum(r["exact"] for r in chosen)
        print(f"{group}: {exact}/{len(chosen)} failed checks with an exact hint")


if __name__ == "__main__":
    sys.exit(main())
