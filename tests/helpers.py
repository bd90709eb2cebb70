"""Test helpers: central finite differences."""

from __future__ import annotations

from typing import Callable

import numpy as np


FD_STEP = 1e-6
"""Central differences in float64: truncation error ~ step^2 * f''' (1e-12), rounding error ~
u / step * |f| (1e-10): the gradient is good to about 1e-9 relative, far inside the 1e-6
tolerance the tests use."""


def numeric_gradient(function: Callable[[], float], array: np.ndarray, *, limit: int = 60,
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """d function / d array by central differences at up to `limit` positions (in place).

    Returns (flat indices, gradient values) so large tensors are sampled, not swept.
    """
    rng = rng or np.random.default_rng(0)
    flat = array.reshape(-1)
    positions = np.arange(flat.size) if flat.size <= limit else rng.choice(flat.size, limit, replace=False)
    values = np.empty(len(positions))
    for i, position in enumerate(positions):
        original = flat[position]
        flat[position] = original + FD_STEP
        up = function()
        flat[position] = original - FD_STEP
        down = function()
        flat[position] = original
        values[i] = (up - down) / (2 * FD_STEP)
    return positions, values
