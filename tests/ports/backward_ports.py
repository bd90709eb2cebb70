"""cases/ports/mlp_numpy.py with leaky_relu's derivative wrong on one side (1 for z < 0, where
it is the slope): the forward pass is right, the hidden layer's backward is not. With
`output_gradients`, it also returns d loss / d each layer's output (`output:<layer>`)."""

import importlib.util
from pathlib import Path

import numpy as np


def _mlp():
    path = Path(__file__).resolve().parents[2] / "cases" / "ports" / "mlp_numpy.py"
    spec = importlib.util.spec_from_file_location("backward_ports_mlp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wrong_gradients(module, x, t, w, outputs=False):
    z, h, y = module.forward(x, w)
    loss = np.mean((y - t) ** 2)
    dy = 2 * (y - t) / y.size
    grads = {"output/kernel": h.T @ dy, "output/bias": dy.sum(axis=0)}
    dh = dy @ w["output/kernel"].T
    dz = dh * np.where(z > 0, 1, 1).astype(z.dtype)  # wrong: the negative side's slope taken as 1
    grads.update({"hidden/kernel": x.T @ dz, "hidden/bias": dz.sum(axis=0), "input:x": dz @ w["hidden/kernel"].T})
    if outputs:
        grads.update({"output:output": dy, "output:hidden": dh})
    return loss, grads


def leaky_backward_wrong(inputs, weights, targets, training):
    module = _mlp()
    module.loss_and_gradients = lambda x, t, w: _wrong_gradients(module, x, t, w)
    return module.train(inputs, weights, targets, training)


def leaky_backward_wrong_with_output_gradients(inputs, weights, targets, training):
    module = _mlp()
    module.loss_and_gradients = lambda x, t, w: _wrong_gradients(module, x, t, w, outputs=True)
    return module.train(inputs, weights, targets, training)
