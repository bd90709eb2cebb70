"""Ports of tests/test_port_verdicts.py: right values with gradients accumulated in float64
(arrays made with np.zeros(shape), no dtype: the usual way a float32 port returns float64), and
the control that casts them back."""

import numpy as np


def _gradients(inputs, weights, targets):
    x, W, b = inputs["x"], weights["dense/kernel"], weights["dense/bias"]
    y = np.tanh(x @ W + b)
    dy = 2.0 / y.size * (y - targets["t"]) * (1 - y * y)
    kernel, bias = np.zeros(W.shape), np.zeros(b.shape)  # float64: no dtype given
    kernel += x.T @ dy
    bias += dy.sum(axis=0)
    return y, {"dense/kernel": kernel, "dense/bias": bias, "input:x": dy @ W.T}


def float64_gradients(inputs, weights, targets):
    y, gradients = _gradients(inputs, weights, targets)
    return {"outputs": y, "gradients": gradients}


def float32_gradients(inputs, weights, targets):
    """The control: the same gradients, cast back to the port's dtype."""
    y, gradients = _gradients(inputs, weights, targets)
    return {"outputs": y, "gradients": {name: value.astype(np.float32) for name, value in gradients.items()}}
