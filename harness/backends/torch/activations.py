"""torch versions of the harness's activations: (callable, native|composite, detail), and the
readers of their defaults.

Sources of the defaults: torch/nn/functional.py (leaky_relu, hardsigmoid, softmax and
`_get_softmax_dim`, which picks the axis from the rank when dim is None), torch/nn/modules/activation.py (GELU).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from harness.backends.torch.defaults.probing import at
from harness.backends.torch.registry import REGISTRY
from harness.defaults import probes
from harness.defaults.reading import Reading, signature_default

builders = REGISTRY.activations


@builders.register("linear")
def linear(spec):
    return (lambda x: x), "native", "identity"


@builders.register("relu")
def relu(spec):
    return torch.relu, "native", "torch.relu"


@builders.register("leaky_relu")
def leaky_relu(spec):
    # torch's default slope is 0.01; the case's slope is passed explicitly.
    return (lambda x: F.leaky_relu(x, spec.negative_slope)), "native", \
        f"F.leaky_relu(negative_slope={spec.negative_slope})"


@builders.register("tanh")
def tanh(spec):
    return torch.tanh, "native", "torch.tanh"


@builders.register("sigmoid")
def sigmoid(spec):
    return torch.sigmoid, "native", "torch.sigmoid"


@builders.register("hard_sigmoid")
def hard_sigmoid(spec):
    # F.hardsigmoid is relu6(x + 3) / 6, i.e. slope 1/6, offset 1/2 (torch/nn/functional.py).
    if spec.slope == 1 / 6 and spec.offset == 0.5:
        return F.hardsigmoid, "native", "F.hardsigmoid (slope 1/6)"
    return (lambda x: torch.clamp(spec.slope * x + spec.offset, 0.0, 1.0)), "composite", \
        f"clamp({spec.slope} x + {spec.offset}, 0, 1): F.hardsigmoid's slope is fixed at 1/6"


@builders.register("softmax")
def softmax(spec):
    # Always an explicit dim: torch's dim=None picks one from the rank (torch/nn/functional.py).
    return (lambda x: torch.softmax(x, dim=spec.axis)), "native", f"torch.softmax(dim={spec.axis})"


@builders.register("elu")
def elu(spec):
    return (lambda x: F.elu(x, alpha=spec.alpha)), "native", f"F.elu(alpha={spec.alpha})"


@builders.register("selu")
def selu(spec):
    return F.selu, "native", "F.selu"


@builders.register("softplus")
def softplus(spec):
    # torch switches to the identity where beta x > threshold (default 20); the largest gap to
    # log(1 + exp(beta x)) is about 2e-9, inside the tolerance of softplus's own value in either
    # dtype, but a model that subtracts x again sees all of it (cases/softplus_threshold.yaml).
    return (lambda x: F.softplus(x, beta=spec.beta)), "native", f"F.softplus(beta={spec.beta})"


@builders.register("softsign")
def softsign(spec):
    return F.softsign, "native", "F.softsign"


@builders.register("gelu")
def gelu(spec):
    return (lambda x: F.gelu(x, approximate=spec.approximate)), "native", \
        f"F.gelu(approximate={spec.approximate!r})"


@builders.register("swish", "silu")
def swish(spec):
    if spec.beta == 1.0:
        return F.silu, "native", "F.silu"
    return (lambda x: x * torch.sigmoid(spec.beta * x)), "composite", \
        f"x * sigmoid({spec.beta} x): F.silu has no beta"


@builders.register("log_softmax")
def log_softmax(spec):
    return (lambda x: torch.log_softmax(x, dim=spec.axis)), "native", f"torch.log_softmax(dim={spec.axis})"


@builders.register("hard_swish")
def hard_swish(spec):
    return F.hardswish, "native", "torch.nn.functional.hardswish"


# --- defaults ----------------------------------------------------------------------------------

@REGISTRY.defaults.register("leaky_relu.negative_slope")
def leaky_relu_default(context):
    effective, probe = probes.leaky_relu_slope(float(at(F.leaky_relu, -1.0)))
    return [Reading("torch.nn.functional.leaky_relu", "negative_slope",
                    signature_default(F.leaky_relu, "negative_slope"), "inspect.signature",
                    effective, probe=probe, used=True)]


@REGISTRY.defaults.register("hard_sigmoid.slope")
def hard_sigmoid_default(context):
    # F.hardsigmoid has no slope parameter: the formula is fixed (torch/nn/functional.py).
    slope, formula, probe = probes.hard_sigmoid_formula(at(F.hardsigmoid, probes.HARD_SIGMOID_POINTS).tolist())
    return [Reading.fixed("torch.nn.functional.hardsigmoid", slope, formula,
                    probe, used=True)]


@REGISTRY.defaults.register("gelu.approximate")
def gelu_default(context):
    module = torch.nn.GELU()
    found = []
    for api, function, parameter, value, read_by, used in (
            ("torch.nn.GELU", module, "approximate", module.approximate, "attribute", False),
            # F.gelu is a builtin without a Python signature: only the probe can read it.
            ("torch.nn.functional.gelu", F.gelu, "approximate", None, "probe (builtin, no signature)", True)):
        form, meaning, probe = probes.gelu_form(float(at(function, 1.0)))
        found.append(Reading(api, parameter, value, read_by, form, meaning, probe, used=used))
    return found


@REGISTRY.defaults.register("softmax.axis")
def softmax_default(context):
    def implicit(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Implicit dimension choice for softmax has been deprecated"
            return at(lambda t: F.softmax(t), x)

    axis, meaning, probe = probes.softmax_default_axis(implicit, context.rank)
    return [Reading("torch.nn.functional.softmax", "dim", signature_default(F.softmax, "dim"),
                    "inspect.signature", axis, meaning, probe, used=True)]


@REGISTRY.defaults.register("elu.alpha")
def elu_default(context):
    effective, probe = probes.elu_alpha(float(at(F.elu, -1.0)))
    return [Reading("torch.nn.functional.elu", "alpha", signature_default(F.elu, "alpha"),
                    "inspect.signature", effective, probe=probe, used=True)]
