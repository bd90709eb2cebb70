"""The 2-5-1 tanh network of seed000 as a stand-alone script: a port run as an external program.

    python dense_tanh_script.py INPUTS.npz WEIGHTS.npz OUTPUTS.npz

It knows nothing of the harness: it reads the inputs and the canonical weights from .npz files
and writes its output (and the hidden layer's, under `intermediate:hidden`) to another.
"""

import sys

import numpy as np


def main(inputs_path, weights_path, outputs_path):
    x = np.load(inputs_path)["x"]
    w = np.load(weights_path)
    hidden = np.tanh(x @ w["hidden/kernel"] + w["hidden/bias"])
    output = np.tanh(hidden @ w["output/kernel"] + w["output/bias"])
    np.savez(outputs_path, output=output, **{"intermediate:hidden": hidden})


if __name__ == "__main__":
    main(*sys.argv[1:])
