"""Ports with the mistakes people make when they port a model by hand, each one on purpose.
tests/test_ports.py checks that each fails on the right check and that the intermediates view
names the layer where it goes wrong. All take the canonical weights."""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def lstm_gate_order(inputs, weights):
    """LSTM + Dense softmax with the gate blocks read in TF 1's BasicLSTMCell order (i, c, f, o)
    instead of Keras' (i, f, c, o)."""
    W, U, b = weights["lstm/kernel"], weights["lstm/recurrent_kernel"], weights["lstm/bias"]
    x = inputs["characters"]
    units = U.shape[0]
    h = np.zeros((x.shape[0], units), x.dtype)
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t] @ W + h @ U + b
        i, g, f, o = (z[:, k * units:(k + 1) * units] for k in range(4))  # wrong: Keras is i, f, c, o
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    y = softmax(h @ weights["next/kernel"] + weights["next/bias"])
    return {"outputs": y, "intermediates": {"lstm": h, "next": y}}


def dense_untransposed(inputs, weights):
    """Three Dense layers; the second kernel used as torch stores a Linear weight, (out, in):
    with a square kernel nothing complains."""
    x = inputs["x"]
    first = np.tanh(x @ weights["first/kernel"] + weights["first/bias"])
    second = np.tanh(first @ weights["second/kernel"].T + weights["second/bias"])  # wrong: .T
    third = second @ weights["third/kernel"] + weights["third/bias"]
    return {"outputs": third, "intermediates": {"first": first, "second": second, "third": third}}


def dense_missing_bias(inputs, weights):
    """The same three layers, the third one's bias forgotten."""
    x = inputs["x"]
    first = np.tanh(x @ weights["first/kernel"] + weights["first/bias"])
    second = np.tanh(first @ weights["second/kernel"] + weights["second/bias"])
    third = second @ weights["third/kernel"]  # wrong: + weights["third/bias"]
    return {"outputs": third, "intermediates": {"first": first, "second": second, "third": third}}


def dense_right(inputs, weights):
    """The three layers done right (the control)."""
    x = inputs["x"]
    first = np.tanh(x @ weights["first/kernel"] + weights["first/bias"])
    second = np.tanh(first @ weights["second/kernel"] + weights["second/bias"])
    third = second @ weights["third/kernel"] + weights["third/bias"]
    return {"outputs": third, "intermediates": {"first": first, "second": second, "third": third}}


def mlp_wrong_slope(inputs, weights, targets, training):
    """cases/ports/mlp_numpy.py with leaky_relu's slope 0.3 (Keras 2's LeakyReLU default) where
    the model has 0.2."""
    module = _mlp_copy("mlp_wrong_slope_copy")
    module.SLOPE = 0.3  # wrong
    return module.train(inputs, weights, targets, training)


def mlp_gradient_sign(inputs, weights, targets, training):
    """cases/ports/mlp_numpy.py with a sign error in the backward pass through the hidden layer
    (d loss / d h taken as -dy W^T): the forward pass is right, the hidden layer's gradients and
    so every SGD step are wrong."""
    module = _mlp_copy("mlp_gradient_sign_copy")
    right = module.loss_and_gradients

    def wrong(x, t, w):
        loss, grads = right(x, t, w)
        for name in ("hidden/kernel", "hidden/bias", "input:x"):
            grads[name] = -grads[name]  # wrong: the sign of dh
        return loss, grads

    module.loss_and_gradients = wrong
    return module.train(inputs, weights, targets, training)


def _mlp_copy(name):
    """A fresh copy of the shipped MLP port, to break one thing in."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "cases" / "ports" / "mlp_numpy.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _keras_lstm(x, kernel, recurrent_kernel, bias):
    """Every step's h, gates in Keras' order i, f, c, o (as cases/ports/bilstm_numpy.py)."""
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units), x.dtype)
    c = np.zeros_like(h)
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def bilstm_unflipped(inputs, weights):
    """cases/ports/bilstm_numpy.py (keras.io's BiLSTM, weights as Keras' get_weights()) with the
    mistake docs/porting-a-sequence-model.md shows: the backward direction's sequence is
    concatenated in the order it was computed, not flipped back to input time."""
    embeddings, *rest = weights
    first, second, (dense_kernel, dense_bias) = rest[:6], rest[6:12], rest[12:]
    (tokens,) = inputs.values()
    embedded = embeddings[tokens]
    ahead, behind = _keras_lstm(embedded, *first[:3]), _keras_lstm(embedded[:, ::-1], *first[3:])
    sequences = np.concatenate([ahead, behind], axis=-1)  # wrong: Keras flips `behind` back
    last = np.concatenate([_keras_lstm(sequences, *second[:3])[:, -1],
                           _keras_lstm(sequences[:, ::-1], *second[3:])[:, -1]], axis=-1)
    score = sigmoid(last @ dense_kernel + dense_bias)
    return {"outputs": score, "intermediates": {"embedding": embedded, "bidirectional": sequences,
                                                "bidirectional_1": last, "dense": score}}
