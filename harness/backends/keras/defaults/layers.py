"""Defaults of Keras' normalization and recurrent layers: get_config() for the values, probes
on fresh float64 layers for what they mean.

Sources: keras/src/layers/normalization/batch_normalization.py and layer_normalization.py,
keras/src/layers/rnn/lstm.py and gru.py (kernel columns [i,f,c,o] and [z,r,h]; GRU bias (2, 3u)
when reset_after).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from harness.backends.keras._import import keras
from harness.backends.keras.registry import DEFAULT_READERS as readers
from harness.defaults import probes
from harness.defaults.reading import Reading


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@cache
def batch_norm() -> dict:
    layer = keras.layers.BatchNormalization(dtype="float64")
    layer.build((None, 1))
    config = layer.get_config()
    layer(f64(probes.RUNNING_STATS_BATCH), training=True)  # one update of the moving statistics
    mean_after, var_after = float(numpy(layer.moving_mean)[0]), float(numpy(layer.moving_variance)[0])
    fresh = keras.layers.BatchNormalization(dtype="float64")
    fresh.build((None, 1))
    fresh.moving_variance.assign(np.zeros(1))
    y = float(numpy(fresh(f64([[1.0]]), training=False))[0, 0])
    return {"epsilon": config["epsilon"], "momentum": config["momentum"], "mean_after": mean_after,
            "var_after": var_after, "y": y}


@readers.register("BatchNormalization.epsilon")
def batch_norm_epsilon(context):
    found = batch_norm()
    effective, meaning, probe = probes.batch_norm_epsilon(found["epsilon"], found["y"])
    return [Reading("keras.layers.BatchNormalization", "epsilon", found["epsilon"], "get_config()",
                    effective, meaning, probe, used=True)]


@readers.register("BatchNormalization.momentum")
def batch_norm_momentum(context):
    found = batch_norm()
    kept, meaning, probe = probes.running_mean_convention(found["momentum"], found["mean_after"])
    return [Reading("keras.layers.BatchNormalization", "momentum", found["momentum"], "get_config()",
                    kept, meaning, probe, used=True)]


@readers.register("BatchNormalization.moving_variance")
def batch_norm_moving_variance(context):
    found = batch_norm()
    kept, _, _ = probes.running_mean_convention(found["momentum"], found["mean_after"])
    estimator, meaning, probe = probes.running_variance_estimator(kept, found["var_after"])
    return [Reading.fixed("keras.layers.BatchNormalization", estimator, meaning, probe, used=True)]


@readers.register("LayerNormalization.epsilon")
def layer_norm_epsilon(context):
    layer = keras.layers.LayerNormalization(dtype="float64")
    layer.build((None, 2))
    epsilon = layer.get_config()["epsilon"]
    y = float(numpy(layer(f64(probes.layer_norm_probe_input(epsilon))))[0, 0])
    effective, meaning, probe = probes.layer_norm_epsilon(epsilon, y)
    return [Reading("keras.layers.LayerNormalization", "epsilon", epsilon, "get_config()", effective, meaning,
                    probe, used=True)]


@cache
def lstm_probe() -> tuple:
    config, outputs = keras.layers.LSTM(1).get_config(), []
    for b in probes.LSTM_PROBE_BIASES:
        layer = keras.layers.LSTM(1, dtype="float64")
        layer.build((None, 1, 1))
        cell = layer.cell
        cell.kernel.assign(np.zeros(cell.kernel.shape))
        cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape))
        cell.bias.assign(np.full(cell.bias.shape, b))  # one bias: every gate's total bias is b
        outputs.append(float(numpy(layer(np.zeros((1, 1, 1))))[0, 0]))
    return config, probes.lstm_activations(tuple(outputs))


@readers.register("LSTM.activation")
def lstm_activation(context):
    config, (act, _, probe) = lstm_probe()
    return [Reading("keras.layers.LSTM", "activation", config["activation"], "get_config()", act, probe=probe,
                    used=True)]


@readers.register("LSTM.recurrent_activation")
def lstm_recurrent_activation(context):
    config, (_, rec, probe) = lstm_probe()
    return [Reading("keras.layers.LSTM", "recurrent_activation", config["recurrent_activation"], "get_config()",
                    rec, probe=probe, used=True)]


@cache
def gru_probe() -> tuple:
    config, outputs = keras.layers.GRU(1).get_config(), []
    for h0, w, b in probes.GRU_PROBE_POINTS:
        layer = keras.layers.GRU(1, dtype="float64")
        layer.build((None, 1, 1))
        cell = layer.cell
        cell.kernel.assign(np.zeros(cell.kernel.shape))
        cell.recurrent_kernel.assign(np.full(cell.recurrent_kernel.shape, w))
        # reset_after=True: bias (2, 3u) = [input bias; recurrent bias]; else one bias (3u,).
        bias = np.zeros(cell.bias.shape)
        bias[-1] = b
        cell.bias.assign(bias if bias.ndim == 2 else np.full(cell.bias.shape, b))
        outputs.append(float(numpy(layer(np.zeros((1, 1, 1)), initial_state=[np.full((1, 1), h0)]))[0, 0]))
    return config, probes.gru_formula(tuple(outputs))


def gru_reading(field: str, parameter: str) -> Reading:
    config, (formula, probe) = gru_probe()
    value = formula[field] if formula else None
    meaning = probes.RESET_MEANINGS[value] if field == "reset_after" and formula else ""
    return Reading("keras.layers.GRU", parameter, config.get(parameter) if parameter else None,
                   "get_config()" if parameter else "fixed (no parameter)", value, meaning, probe, used=True)


@readers.register("GRU.activation")
def gru_activation(context):
    return [gru_reading("activation", "activation")]


@readers.register("GRU.recurrent_activation")
def gru_recurrent_activation(context):
    return [gru_reading("recurrent_activation", "recurrent_activation")]


@readers.register("GRU.reset_after")
def gru_reset_after(context):
    return [gru_reading("reset_after", "reset_after")]


@readers.register("GRU.update_gate")
def gru_update_gate(context):
    return [gru_reading("update", "")]
