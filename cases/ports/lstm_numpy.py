"""A hand-written NumPy forward pass of an LSTM + Dense softmax model, in the style one writes it
to run a trained Keras model without Keras: the weights come as `model.get_weights()` returns
them, unpacked in that order, and the LSTM is a loop over the time steps.

    model = keras.Sequential([keras.layers.LSTM(units), keras.layers.Dense(classes, activation="softmax")])
    weights = model.get_weights()   # [kernel, recurrent_kernel, bias, dense kernel, dense bias]

Checked by the harness in cases/port_lstm_numpy.yaml (`weights_as: keras`).
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def predict(inputs, weights):
    kernel, recurrent_kernel, bias, dense_kernel, dense_bias = weights
    x = inputs["characters"]                  # (batch, time, features)
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units), dtype=x.dtype)
    c = np.zeros((batch, units), dtype=x.dtype)
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i = sigmoid(z[:, :units])               # Keras' gate order: input, forget, cell, output
        f = sigmoid(z[:, units:2 * units])
        g = np.tanh(z[:, 2 * units:3 * units])
        o = sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
    probabilities = softmax(h @ dense_kernel + dense_bias)
    return {"outputs": probabilities, "intermediates": {"lstm": h, "next": probabilities}}
