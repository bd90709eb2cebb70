"""The 2-5-1 tanh network of cases/seed000_dense_tanh.yaml, by hand in NumPy: the shortest port.

    python -m harness run cases/seed000_dense_tanh.yaml --port mine=cases/ports/dense_tanh.py:predict

`inputs` is {input name: array}, batch first; `weights` is {"<layer>/<parameter>": array} with
Keras' layout (kernels (in, out)), the harness's canonical form. It returns the model's output.
"""

import numpy as np


def predict(inputs, weights):
    hidden = np.tanh(inputs["x"] @ weights["hidden/kernel"] + weights["hidden/bias"])
    return np.tanh(hidden @ weights["output/kernel"] + weights["output/bias"])
