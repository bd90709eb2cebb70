"""What torch's defaults readers share (the readers sit in the family modules beside the builders:
normalization.py, recurrent.py, activation_layers.py, activations.py, optimizers.py): float64
tensors from NumPy values, a function evaluated on one, and probes that leave torch's global
generator where it was."""

from __future__ import annotations

from functools import wraps

import numpy as np
import torch

F64 = torch.float64


def tensor(x) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64))


def at(function, x) -> np.ndarray:
    """`function` evaluated in float64 on a NumPy value."""
    return function(torch.tensor(np.asarray(x, dtype=np.float64))).detach().numpy()


def keeps_rng(probe):
    """Fresh modules draw their initial weights from torch's global generator: a probe must not
    move it (a case may rely on it)."""
    @wraps(probe)
    def run(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            return probe(*args, **kwargs)
    return run
