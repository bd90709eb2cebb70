"""Defaults of torch's activation functions and the LeakyReLU module.

Sources: torch/nn/functional.py (leaky_relu, hardsigmoid, softmax and `_get_softmax_dim`, which
picks the axis from the rank when dim is None), torch/nn/modules/activation.py (LeakyReLU, GELU).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from harness.backends.torch.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default


def at(function, x) -> np.ndarray:
    """`function` evaluated in float64 on a NumPy value."""
    return function(torch.tensor(np.asarray(x, dtype=np.float64))).detach().numpy()


@readers.register("leaky_relu.negative_slope")
def leaky_relu(context):
    effective, probe = probes.leaky_relu_slope(float(at(F.leaky_relu, -1.0)))
    return [Reading("torch.nn.functional.leaky_relu", "negative_slope",
                    signature_default(F.leaky_relu, "negative_slope"), "inspect.signature",
                    effective, probe=probe, used=True)]


@readers.register("LeakyReLU.negative_slope")
def leaky_relu_module(context):
    module = torch.nn.LeakyReLU()
    effective, probe = probes.leaky_relu_slope(float(at(module, -1.0)))
    return [Reading("torch.nn.LeakyReLU", "negative_slope", module.negative_slope, "attribute",
                    effective, probe=probe, used=True)]


@readers.register("hard_sigmoid.slope")
def hard_sigmoid(context):
    # F.hardsigmoid has no slope parameter: the formula is fixed (torch/nn/functional.py).
    slope, formula, probe = probes.hard_sigmoid_formula(at(F.hardsigmoid, probes.HARD_SIGMOID_POINTS).tolist())
    return [Reading.fixed("torch.nn.functional.hardsigmoid", slope, formula,
                    probe, used=True)]


@readers.register("gelu.approximate")
def gelu(context):
    module = torch.nn.GELU()
    found = []
    for api, function, parameter, value, read_by, used in (
            ("torch.nn.GELU", module, "approximate", module.approximate, "attribute", False),
            # F.gelu is a builtin without a Python signature: only the probe can read it.
            ("torch.nn.functional.gelu", F.gelu, "approximate", None, "probe (builtin, no signature)", True)):
        form, meaning, probe = probes.gelu_form(float(at(function, 1.0)))
        found.append(Reading(api, parameter, value, read_by, form, meaning, probe, used=used))
    return found


@readers.register("softmax.axis")
def softmax(context):
    def implicit(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Implicit dimension choice for softmax has been deprecated"
            return at(lambda t: F.softmax(t), x)

    axis, meaning, probe = probes.softmax_default_axis(implicit, context.rank)
    return [Reading("torch.nn.functional.softmax", "dim", signature_default(F.softmax, "dim"),
                    "inspect.signature", axis, meaning, probe, used=True)]


@readers.register("elu.alpha")
def elu(context):
    effective, probe = probes.elu_alpha(float(at(F.elu, -1.0)))
    return [Reading("torch.nn.functional.elu", "alpha", signature_default(F.elu, "alpha"),
                    "inspect.signature", effective, probe=probe, used=True)]
