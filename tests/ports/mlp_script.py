"""cases/ports/mlp_numpy.py as an external program, with the training steps of
cases/port_mlp_training.yaml written into it (an external program is given the inputs, weights
and targets, not the case's training settings: it trains as it was written to):

    python mlp_script.py INPUTS.npz WEIGHTS.npz TARGETS.npz OUTPUTS.npz

It writes every key an outputs file may have for such a model: outputs, layer outputs, loss,
gradients (parameters and input) and, per SGD step k, `loss@step<k>` and `<parameter>@step<k>`.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "cases" / "ports"))
import mlp_numpy  # noqa: E402

STEPS, BATCH, LEARNING_RATE = 6, 16, 0.05


def main(inputs_path, weights_path, targets_path, outputs_path):
    x, t = np.load(inputs_path)["x"], np.load(targets_path)["t"]
    weights = dict(np.load(weights_path))
    starts = [(step * BATCH) % len(x) for step in range(STEPS)]  # consecutive slices, then again
    batches = [{"inputs": {"x": x[s:s + BATCH]}, "targets": {"t": t[s:s + BATCH]}} for s in starts]
    result = mlp_numpy.train({"x": x}, weights, {"t": t},
                             {"optimizer": {"learning_rate": LEARNING_RATE}, "batches": batches})
    flat = {"output": result["outputs"], "loss": result["loss"]}
    flat.update({f"intermediate:{layer}": value for layer, value in result["intermediates"].items()})
    flat.update({f"grad:{name}": value for name, value in result["gradients"].items()})
    for k, step in enumerate(result["training"], start=1):
        flat[f"loss@step{k}"] = step["loss"]
        flat.update({f"{name}@step{k}": value for name, value in step["parameters"].items()})
    np.savez(outputs_path, **flat)


if __name__ == "__main__":
    main(*sys.argv[1:])
