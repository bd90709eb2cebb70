"""torch versions of the harness's metrics: (callable(y, t) -> scalar, native|composite, detail).

torch itself has no accuracy functions (torchmetrics is another package): accuracies are built
from torch's comparison and arg-max operations, the error metrics are F.l1_loss and F.mse_loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.backends.torch.registry import METRIC_BUILDERS as builders

NO_ACCURACY = "torch has no accuracy functions"


def share(right: torch.Tensor) -> torch.Tensor:
    return right.to(torch.float64).mean()


def labels(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Class indices shaped like y without its class axis (one-hot targets: their arg-max)."""
    if t.shape == y.shape:
        return t.argmax(dim=-1)
    return t.reshape(y.shape[:-1]).to(torch.int64)


@builders.register("sign_accuracy")
def sign_accuracy(spec, dtype):
    return (lambda y, t: share(t * y > 0)), "composite", f"(t * y > 0).mean(): {NO_ACCURACY}"


@builders.register("binary_accuracy")
def binary_accuracy(spec, dtype):
    threshold = spec.threshold
    return (lambda y, t: share((y > threshold).to(y.dtype) == t)), "composite", \
        f"((y > {threshold}) == t).mean(): {NO_ACCURACY}"


@builders.register("categorical_accuracy", "sparse_categorical_accuracy")
def argmax_accuracy(spec, dtype):
    # torch.argmax returns the first maximal index on ties (torch/_torch_docs.py, argmax).
    return (lambda y, t: share(y.argmax(dim=-1) == labels(y, t))), "composite", \
        f"(y.argmax(-1) == t).mean(): {NO_ACCURACY}"


@builders.register("top_k_accuracy")
def top_k_accuracy(spec, dtype):
    k = spec.k

    def metric(y, t):
        scores = y.gather(-1, labels(y, t).unsqueeze(-1))
        return share((y > scores).sum(dim=-1) < k)
    # torch.topk breaks ties at the boundary by position; the canonical meaning counts them in.
    return metric, "composite", f"((y > y[t]).sum(-1) < {k}).mean(): {NO_ACCURACY}, and torch.topk " \
        "breaks ties at the k-th score by position"


@builders.register("mean_absolute_error")
def mean_absolute_error(spec, dtype):
    return (lambda y, t: F.l1_loss(y, t, reduction="mean")), "native", "F.l1_loss(reduction='mean')"


@builders.register("mean_squared_error")
def mean_squared_error(spec, dtype):
    return (lambda y, t: F.mse_loss(y, t, reduction="mean")), "native", "F.mse_loss(reduction='mean')"
