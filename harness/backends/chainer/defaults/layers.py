"""Defaults of chainer's normalization and recurrent links: attributes and signatures for the
values, probes on fresh float64 links for what they mean.

Sources: chainer/links/normalization/batch_normalization.py (decay, eps) and
chainer/functions/normalization/batch_normalization.py (unbiased running variance),
chainer/links/normalization/layer_normalization.py (1e-6) vs
chainer/functions/normalization/layer_normalization.py (1e-5), chainer/links/rnn/lstm.py,
n_step_lstm.py, gru.py (reset-before, z flipped) and n_step_gru.py (reset-after).
"""

from __future__ import annotations

from functools import cache, wraps

import numpy as np

from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.defaults import probes
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


@cache
@keeps_rng
def batch_norm() -> dict:
    with chainer.using_config("dtype", np.float64):
        link = L.BatchNormalization(1)
        fresh = L.BatchNormalization(1)
    with chainer.using_config("train", True):
        link(f64(probes.RUNNING_STATS_BATCH))
    fresh.avg_var[...] = 0.0
    with chainer.using_config("train", False):
        y = float(fresh(f64([[1.0]])).array[0, 0])
    return {"eps": link.eps, "decay": link.decay, "mean_after": float(link.avg_mean[0]),
            "var_after": float(link.avg_var[0]), "y": y}


@readers.register("BatchNormalization.epsilon")
def batch_norm_epsilon(context):
    found = batch_norm()
    effective, meaning, probe = probes.batch_norm_epsilon(found["eps"], found["y"])
    return [Reading("chainer.links.BatchNormalization", "eps", found["eps"], "attribute", effective, meaning,
                    probe, used=True)]


@readers.register("BatchNormalization.momentum")
def batch_norm_momentum(context):
    found = batch_norm()
    kept, meaning, probe = probes.running_mean_convention(found["decay"], found["mean_after"])
    return [Reading("chainer.links.BatchNormalization", "decay", found["decay"], "attribute", kept, meaning,
                    probe, used=True)]


@readers.register("BatchNormalization.moving_variance")
def batch_norm_moving_variance(context):
    found = batch_norm()
    kept, _, _ = probes.running_mean_convention(found["decay"], found["mean_after"])
    estimator, meaning, probe = probes.running_variance_estimator(kept, found["var_after"])
    return [Reading.fixed("chainer.links.BatchNormalization", estimator, meaning, probe, used=True)]


@readers.register("LayerNormalization.epsilon")
@keeps_rng
def layer_norm_epsilon(context):
    with chainer.using_config("dtype", np.float64):
        link = L.LayerNormalization(2)
    found = []
    function_eps = signature_default(F.layer_normalization, "eps")
    for api, epsilon, read_by, run, used in (
            ("chainer.links.LayerNormalization", link.eps, "attribute", link, True),
            ("chainer.functions.layer_normalization", function_eps, "inspect.signature",
             lambda x: F.layer_normalization(x, np.ones(2), np.zeros(2)), False)):
        y = float(run(f64(probes.layer_norm_probe_input(epsilon))).array[0, 0])
        effective, meaning, probe = probes.layer_norm_epsilon(epsilon, y)
        found.append(Reading(api, "eps", epsilon, read_by, effective, meaning, probe, used=used))
    return found


def lstm_link(b: float) -> float:
    """L.LSTM: upward (with bias) on x, lateral (no bias) on h; gates interleaved per unit."""
    link = L.LSTM(1, 1)
    link.upward.W.array[...] = 0.0
    link.upward.b.array[...] = b
    link.lateral.W.array[...] = 0.0
    return float(link(np.zeros((1, 1), dtype=np.float32)).array[0, 0])


def nstep_lstm(b: float) -> float:
    """L.NStepLSTM: ws[0][0..3] act on x, [4..7] on h; bs[0] likewise (two biases per gate)."""
    with chainer.using_config("dtype", np.float64):
        link = L.NStepLSTM(1, 1, 1, 0.0)
    for index in range(8):
        link.ws[0][index].array[...] = 0.0
        link.bs[0][index].array[...] = b if index < 4 else 0.0
    _, _, ys = link(None, None, [np.zeros((1, 1))])
    return float(ys[0].array[0, 0])


@cache
@keeps_rng
def lstm_probes() -> dict:
    # L.LSTM computes in float32 (its parameters' dtype); the candidates differ far more than that.
    return {api: probes.lstm_activations(tuple(run(b) for b in probes.LSTM_PROBE_BIASES))
            for api, run in (("chainer.links.NStepLSTM", nstep_lstm), ("chainer.links.LSTM", lstm_link))}


def lstm_readings(index: int) -> list[Reading]:
    return [Reading(api, "", None, "fixed (no parameter); probe", found[index], probe=found[2],
                    used=api == "chainer.links.NStepLSTM")
            for api, found in lstm_probes().items()]


@readers.register("LSTM.activation")
def lstm_activation(context):
    return lstm_readings(0)


@readers.register("LSTM.recurrent_activation")
def lstm_recurrent_activation(context):
    return lstm_readings(1)


def stateless_gru(h0: float, w: float, b: float) -> float:
    """L.StatelessGRU: six Linear links W_r, U_r, W_z, U_z, W, U (chainer/links/rnn/gru.py)."""
    with chainer.using_config("dtype", np.float64):
        link = L.StatelessGRU(1, 1)
    for name, parameter in link.namedparams():
        recurrent = name.startswith("/U")
        parameter.array[...] = (w if name.endswith("/W") else b) if recurrent else 0.0
    return float(link(f64([[h0]]), f64([[0.0]])).array[0, 0])


def nstep_gru(h0: float, w: float, b: float) -> float:
    """L.NStepGRU: ws[0][0..2] act on x, [3..5] on h; bs[0] likewise."""
    with chainer.using_config("dtype", np.float64):
        link = L.NStepGRU(1, 1, 1, 0.0)
    for index in range(6):
        link.ws[0][index].array[...] = w if index >= 3 else 0.0
        link.bs[0][index].array[...] = b if index >= 3 else 0.0
    _, ys = link(f64([[[h0]]]), [f64([[0.0]])])
    return float(ys[0].array[0, 0])


@cache
@keeps_rng
def gru_probes() -> dict:
    return {api: probes.gru_formula(tuple(run(*point) for point in probes.GRU_PROBE_POINTS))
            for api, run in (("chainer.links.NStepGRU", nstep_gru), ("chainer.links.StatelessGRU", stateless_gru))}


def gru_readings(field: str) -> list[Reading]:
    found = []
    for api, (formula, probe) in gru_probes().items():
        value = formula[field] if formula else None
        meaning = probes.RESET_MEANINGS[value] if field == "reset_after" and formula else ""
        found.append(Reading(api, "", None, "fixed (no parameter); probe", value, meaning, probe,
                             used=api == "chainer.links.NStepGRU"))
    return found


@readers.register("GRU.activation")
def gru_activation(context):
    return gru_readings("activation")


@readers.register("GRU.recurrent_activation")
def gru_recurrent_activation(context):
    return gru_readings("recurrent_activation")


@readers.register("GRU.reset_after")
def gru_reset_after(context):
    return gru_readings("reset_after")


@readers.register("GRU.update_gate")
def gru_update_gate(context):
    return gru_readings("update")
