"""Defaults of torch's normalization and recurrent modules, read from fresh modules and probes.

Sources: torch/nn/modules/batchnorm.py (momentum weights the new batch; unbiased running
variance), torch/nn/modules/normalization.py, torch/nn/modules/rnn.py (LSTM and GRU formulas).
"""

from __future__ import annotations

from functools import cache, wraps

import numpy as np
import torch

from harness.backends.torch.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading

F64 = torch.float64


def tensor(x) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64))


def keeps_rng(probe):
    """Fresh modules draw their initial weights from torch's global generator: a probe must not
    move it (a case may rely on it)."""
    @wraps(probe)
    def run(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            return probe(*args, **kwargs)
    return run


@cache
@keeps_rng
def batch_norm() -> dict:
    """A fresh BatchNorm1d: its attributes, one training update, and inference with variance 0."""
    module = torch.nn.BatchNorm1d(1, dtype=F64)
    eps, momentum = module.eps, module.momentum
    module.train()
    with torch.no_grad():
        module(tensor(probes.RUNNING_STATS_BATCH))
    mean_after, var_after = module.running_mean.item(), module.running_var.item()
    fresh = torch.nn.BatchNorm1d(1, dtype=F64).eval()
    with torch.no_grad():
        fresh.running_var.zero_()
        y = fresh(tensor([[1.0]])).item()
    return {"eps": eps, "momentum": momentum, "mean_after": mean_after, "var_after": var_after, "y": y}


@readers.register("BatchNormalization.epsilon")
def batch_norm_epsilon(context):
    found = batch_norm()
    effective, meaning, probe = probes.batch_norm_epsilon(found["eps"], found["y"])
    return [Reading("torch.nn.BatchNorm1d", "eps", found["eps"], "attribute", effective, meaning, probe, used=True)]


@readers.register("BatchNormalization.momentum")
def batch_norm_momentum(context):
    found = batch_norm()
    kept, meaning, probe = probes.running_mean_convention(found["momentum"], found["mean_after"])
    return [Reading("torch.nn.BatchNorm1d", "momentum", found["momentum"], "attribute", kept, meaning, probe,
                    used=True)]


@readers.register("BatchNormalization.moving_variance")
def batch_norm_moving_variance(context):
    found = batch_norm()
    kept, _, _ = probes.running_mean_convention(found["momentum"], found["mean_after"])
    estimator, meaning, probe = probes.running_variance_estimator(kept, found["var_after"])
    return [Reading.fixed("torch.nn.BatchNorm1d", estimator, meaning, probe, used=True)]


@readers.register("LayerNormalization.epsilon")
@keeps_rng
def layer_norm_epsilon(context):
    module = torch.nn.LayerNorm(2, dtype=F64)
    with torch.no_grad():
        y = module(tensor(probes.layer_norm_probe_input(module.eps)))[0, 0].item()
    effective, meaning, probe = probes.layer_norm_epsilon(module.eps, y)
    return [Reading("torch.nn.LayerNorm", "eps", module.eps, "attribute", effective, meaning, probe, used=True)]


@cache
@keeps_rng
def lstm_probe() -> tuple:
    """nn.LSTM has no activation arguments (torch/nn/modules/rnn.py): the probe finds them."""
    outputs = []
    for b in probes.LSTM_PROBE_BIASES:
        module = torch.nn.LSTM(1, 1, dtype=F64)
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                # b_ih = b, everything else 0: every gate's total bias is b.
                parameter.fill_(b if name.startswith("bias_ih") else 0.0)
            output, _ = module(torch.zeros(1, 1, 1, dtype=F64))  # (steps, batch, features)
        outputs.append(output.item())
    return probes.lstm_activations(tuple(outputs))


@readers.register("LSTM.activation")
def lstm_activation(context):
    act, _, probe = lstm_probe()
    return [Reading("torch.nn.LSTM", "", None, "fixed (no parameter); probe", act, probe=probe, used=True)]


@readers.register("LSTM.recurrent_activation")
def lstm_recurrent_activation(context):
    _, rec, probe = lstm_probe()
    return [Reading("torch.nn.LSTM", "", None, "fixed (no parameter); probe", rec, probe=probe, used=True)]


@cache
@keeps_rng
def gru_probe() -> tuple:
    """nn.GRU is reset-after with fixed activations (torch/nn/modules/rnn.py): the probe shows it."""
    outputs = []
    for h0, w, b in probes.GRU_PROBE_POINTS:
        module = torch.nn.GRU(1, 1, dtype=F64)
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                value = {"weight_hh": w, "bias_hh": b}.get(name.rsplit("_", 1)[0], 0.0)
                parameter.fill_(value)
            output, _ = module(torch.zeros(1, 1, 1, dtype=F64), torch.full((1, 1, 1), h0, dtype=F64))
        outputs.append(output.item())
    return probes.gru_formula(tuple(outputs))


def gru_reading(field: str, parameter: str = "") -> Reading:
    formula, probe = gru_probe()
    value = formula[field] if formula else None
    meaning = probes.RESET_MEANINGS[value] if field == "reset_after" and formula else ""
    return Reading("torch.nn.GRU", parameter, None, "fixed (no parameter); probe", value, meaning, probe, used=True)


@readers.register("GRU.activation")
def gru_activation(context):
    return [gru_reading("activation")]


@readers.register("GRU.recurrent_activation")
def gru_recurrent_activation(context):
    return [gru_reading("recurrent_activation")]


@readers.register("GRU.reset_after")
def gru_reset_after(context):
    return [gru_reading("reset_after")]


@readers.register("GRU.update_gate")
def gru_update_gate(context):
    return [gru_reading("update")]
