"""A hand-written NumPy MLP, with its own backward pass and SGD loop: the kind of port this
harness checks (see cases/port_mlp_training.yaml, and docs/ports.md).

    x -> Dense(8), leaky_relu with slope 0.2 -> Dense(1) -> y,  loss: mean squared error

`train(inputs, weights, targets, training)` is called by the harness with the case's inputs and
weights (canonical layout: kernels (in, out)), its targets and its training steps, and returns
the outputs, every layer's output, the gradients at the initial weights, and the loss and the
parameters after every SGD step.
"""

import numpy as np

SLOPE = 0.2  # leaky_relu's negative slope


def forward(x, w):
    z = x @ w["hidden/kernel"] + w["hidden/bias"]
    h = np.where(z > 0, z, SLOPE * z)
    y = h @ w["output/kernel"] + w["output/bias"]
    return z, h, y


def loss_and_gradients(x, t, w):
    z, h, y = forward(x, w)
    loss = np.mean((y - t) ** 2)
    dy = 2 * (y - t) / y.size                     # d mean((y - t)^2) / dy
    grads = {"output/kernel": h.T @ dy, "output/bias": dy.sum(axis=0)}
    dh = dy @ w["output/kernel"].T
    dz = dh * np.where(z > 0, 1, SLOPE).astype(z.dtype)
    grads["hidden/kernel"] = x.T @ dz
    grads["hidden/bias"] = dz.sum(axis=0)
    grads["input:x"] = dz @ w["hidden/kernel"].T
    return loss, grads


def train(inputs, weights, targets, training):
    x, t = inputs["x"], targets["t"]
    z, h, y = forward(x, weights)
    loss, grads = loss_and_gradients(x, t, weights)

    lr = np.float32(training["optimizer"]["learning_rate"])
    w = {name: value.copy() for name, value in weights.items()}
    steps = []
    for batch in training["batches"]:
        step_loss, step_grads = loss_and_gradients(batch["inputs"]["x"], batch["targets"]["t"], w)
        for name in w:
            w[name] = w[name] - lr * step_grads[name]
        steps.append({"loss": step_loss, "parameters": {name: value.copy() for name, value in w.items()}})

    return {"outputs": y, "intermediates": {"hidden": h, "output": y}, "loss": loss,
            "gradients": grads, "training": steps}
