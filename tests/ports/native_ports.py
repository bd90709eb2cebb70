"""Ports written against each framework's own weight layout (`weights_as: torch | chainer |
keras`), as a person writes them from that framework's documentation, not from the harness's
code: tests/test_ports.py checks that they pass, which checks the layouts the harness hands out
(and reads gradients and trained parameters back from) independently of its mapping code.

Sources of each layout (paths relative to site-packages):
* torch: torch/nn/modules/linear.py (`weight` (out_features, in_features), y = x W^T + b);
  torch/nn/modules/rnn.py (LSTM docstring: `weight_ih_l0` (4*hidden, input) holding the gates
  (W_ii|W_if|W_ig|W_io), i.e. input, forget, cell (g), output; two biases `bias_ih_l0`,
  `bias_hh_l0`, both added).
* chainer: chainer/links/connection/linear.py (`W` (out_size, in_size), `b`);
  chainer/links/rnn/lstm.py (LSTM = `upward` Linear on x, with the bias, + `lateral` Linear on
  h, no bias); chainer/functions/rnn/lstm.py (`_extract_gates`: the 4*units axis reshaped to
  (units, 4), gates a, i, f, o interleaved: a is the cell input (tanh)).
* keras: `model.get_weights()` order for Dense: kernel (in, out), bias.
"""

import numpy as np

SLOPE = 0.2


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- the MLP of cases/port_mlp_training.yaml, weights as (out, in) matrices --------------------

def _mlp(x, t, W1, b1, W2, b2):
    """Outputs, hidden layer, loss and gradients (dW as (out, in), like W) of
    x -> leaky_relu(x W1^T + b1) -> h W2^T + b2, mean squared error."""
    z = x @ W1.T + b1
    h = np.where(z > 0, z, SLOPE * z)
    y = h @ W2.T + b2
    loss = np.mean((y - t) ** 2)
    dy = 2 * (y - t) / y.size
    dz = (dy @ W2) * np.where(z > 0, 1, SLOPE).astype(z.dtype)
    return y, h, loss, {"W1": dz.T @ x, "b1": dz.sum(0), "W2": dy.T @ h, "b2": dy.sum(0), "x": dz @ W1}


def _train_out_in(inputs, weights, targets, training, names):
    """names: W1, b1, W2, b2 -> the framework's keys."""
    x, t = inputs["x"], targets["t"]
    w = {short: weights[key].copy() for short, key in names.items()}
    y, h, loss, grads = _mlp(x, t, **w)
    gradients = {key: grads[short] for short, key in names.items()}
    gradients["input:x"] = grads["x"]
    lr = np.float32(training["optimizer"]["learning_rate"])
    steps = []
    for batch in training["batches"]:
        _, _, step_loss, step = _mlp(batch["inputs"]["x"], batch["targets"]["t"], **w)
        w = {short: w[short] - lr * step[short] for short in w}
        steps.append({"loss": step_loss, "parameters": {key: w[short].copy() for short, key in names.items()}})
    return {"outputs": y, "intermediates": {"hidden": h, "output": y}, "loss": loss,
            "gradients": gradients, "training": steps}


def torch_mlp(inputs, weights, targets, training):
    return _train_out_in(inputs, weights, targets, training, {
        "W1": "hidden.weight", "b1": "hidden.bias", "W2": "output.weight", "b2": "output.bias"})


def chainer_mlp(inputs, weights, targets, training):
    return _train_out_in(inputs, weights, targets, training, {
        "W1": "hidden/W", "b1": "hidden/b", "W2": "output/W", "b2": "output/b"})


def keras_mlp(inputs, weights, targets, training):
    """weights: [hidden kernel (in, out), hidden bias, output kernel, output bias]; gradients and
    trained parameters returned as lists in the same order."""
    k1, b1, k2, b2 = weights
    result = _train_out_in(inputs, {"W1": k1.T, "b1": b1, "W2": k2.T, "b2": b2}, targets, training,
                           {"W1": "W1", "b1": "b1", "W2": "W2", "b2": "b2"})
    as_list = (lambda d: [d["W1"].T, d["b1"], d["W2"].T, d["b2"]])
    gradients = result["gradients"]
    result["gradients"], result["input_gradients"] = as_list(gradients), {"x": gradients["input:x"]}
    result["training"] = [{"loss": s["loss"], "parameters": as_list(s["parameters"])} for s in result["training"]]
    return result


# --- the LSTM + Dense softmax of cases/port_lstm_numpy.yaml ------------------------------------

def torch_lstm(inputs, weights):
    W_ih, W_hh = weights["lstm.weight_ih_l0"], weights["lstm.weight_hh_l0"]
    b = weights["lstm.bias_ih_l0"] + weights["lstm.bias_hh_l0"]
    x = inputs["characters"]
    units = W_hh.shape[1]
    h = np.zeros((x.shape[0], units), x.dtype)
    c = np.zeros_like(h)
    for step in range(x.shape[1]):
        gates = x[:, step] @ W_ih.T + h @ W_hh.T + b
        i, f, g, o = (gates[:, k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    y = softmax(h @ weights["next.weight"].T + weights["next.bias"])
    return {"outputs": y, "intermediates": {"lstm": h, "next": y}}


def chainer_lstm(inputs, weights):
    W_up, b_up, W_lat = weights["lstm/upward/W"], weights["lstm/upward/b"], weights["lstm/lateral/W"]
    x = inputs["characters"]
    units = W_lat.shape[1]
    h = np.zeros((x.shape[0], units), x.dtype)
    c = np.zeros_like(h)
    for step in range(x.shape[1]):
        gates = (x[:, step] @ W_up.T + b_up + h @ W_lat.T).reshape(len(h), units, 4)
        a, i, f, o = (gates[:, :, k] for k in range(4))
        c = np.tanh(a) * sigmoid(i) + sigmoid(f) * c
        h = sigmoid(o) * np.tanh(c)
    y = softmax(h @ weights["next/W"].T + weights["next/b"])
    return {"outputs": y, "intermediates": {"lstm": h, "next": y}}


# --- cases/batchnorm_mlp.yaml, training_keras_conventions: state in torch's names ---------------

def torch_batchnorm_training(inputs, weights):
    """Dense (no bias) -> BatchNorm in training mode (epsilon 1e-3, moving = 0.99 moving + 0.01
    batch, the biased batch variance, as the variant states) -> relu -> Dense; the moving
    statistics it leaves behind returned under torch's buffer names (`bn.running_mean`,
    `bn.running_var`), with the batch counter torch keeps (`bn.num_batches_tracked`)."""
    x = inputs["x"]
    z = x @ weights["hidden.weight"].T
    mean, var = z.mean(axis=0), z.var(axis=0)
    normalised = (z - mean) / np.sqrt(var + np.float32(1e-3))
    h = np.maximum(weights["bn.weight"] * normalised + weights["bn.bias"], 0)
    y = h @ weights["classes.weight"].T + weights["classes.bias"]
    state = {"bn.running_mean": np.float32(0.99) * weights["bn.running_mean"] + np.float32(0.01) * mean,
             "bn.running_var": np.float32(0.99) * weights["bn.running_var"] + np.float32(0.01) * var,
             "bn.num_batches_tracked": weights["bn.num_batches_tracked"] + 1}
    return {"outputs": y, "state": state}
