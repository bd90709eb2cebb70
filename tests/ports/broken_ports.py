"""Ports that break in the ways tests/test_ports.py checks the messages of."""

import numpy as np


def right(inputs, weights):
    return np.tanh(inputs["x"] @ weights["dense/kernel"] + weights["dense/bias"])


def raises(inputs, weights):
    return helper(inputs["x"])


def helper(x):
    raise ValueError(f"cannot handle a batch of {len(x)}")


def wrong_names(inputs, weights):
    return {"y": right(inputs, weights)}


def wrong_shape(inputs, weights):
    return right(inputs, weights)[:, :1]


def float64_outputs(inputs, weights):
    return right(inputs, weights).astype(np.float64)


def returns_none(inputs, weights):
    return None


def one_argument(inputs):
    return inputs["x"]


def unknown_layer(inputs, weights):
    y = right(inputs, weights)
    return {"outputs": y, "intermediates": {"dens": y}}


def extras(inputs, weights, targets, loss, mode, **rest):
    """Returns what it was given, through the metrics channel of the rich form: the harness only
    passes what a function names (or all of it, to **rest)."""
    assert set(targets) == {"t"} and loss["type"] == "mean_squared_error" and mode == "inference"
    assert set(rest) == {"metrics"}, rest
    return right(inputs, weights)


def keras_list_too_long(inputs, weights):
    """weights_as keras: the list [kernel, bias]; gradients returned as a list of three."""
    kernel, bias = weights
    y = np.tanh(inputs["x"] @ kernel + bias)
    return {"outputs": y, "gradients": [kernel, bias, bias]}
