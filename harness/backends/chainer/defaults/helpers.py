"""What the chainer defaults readers (in the family modules) share: float64 arrays, probes that
leave NumPy's global generator where it was, an activation evaluated on float64, optimizer steps
measured from zero, and a signature default as a Reading."""

from __future__ import annotations

from functools import wraps

import numpy as np

from harness.backends.chainer._import import chainer
from harness.defaults.reading import Reading, signature_default


def f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def keeps_rng(probe):
    """chainer's initializers draw from NumPy's global generator: a probe must not move it."""
    @wraps(probe)
    def run(*args, **kwargs):
        state = np.random.get_state()
        try:
            return probe(*args, **kwargs)
        finally:
            np.random.set_state(state)
    return run


def at(function, x) -> np.ndarray:
    """`function` evaluated on a float64 array."""
    return function(np.asarray(x, dtype=np.float64)).array


def steps(optimizer, gradients: list[float], count: int = 1) -> list[list[float]]:
    """How far each of `count` steps moves float64 parameters starting at 0."""
    link = chainer.Link()
    with link.init_scope():
        link.p = chainer.Parameter(np.zeros(len(gradients)))
    optimizer.setup(link)
    moves, before = [], np.zeros(len(gradients))
    for _ in range(count):
        link.p.grad = np.asarray(gradients, dtype=np.float64)
        optimizer.update()
        moves.append((before - link.p.array).tolist())
        before = link.p.array.copy()
    return moves


def stated(cls, parameter: str, *, used: bool = True) -> Reading:
    value = signature_default(cls, parameter)
    return Reading(f"chainer.optimizers.{cls.__name__}", parameter, value, "inspect.signature", value, used=used)
