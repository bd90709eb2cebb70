"""Keras 3.15.1 (TensorFlow backend): an adaptive pooling to an output size of 1 along an axis
(the global head torchvision writes, AdaptiveAvgPool2d((1, 1))) runs eagerly but fails in graph
mode: in a tf.function, in model.predict and fit, and so in TFLiteConverter. Needs only NumPy and
Keras.

    python cases/reproducers/keras_adaptive_pool_graph_mode.py

keras/src/backend/tensorflow/nn.py `_adaptive_average_pool2d` (and the max and 1-D/3-D ones)
pools with two windows, `small = input // output` and `big = small + 1`
(keras/src/ops/nn.py `compute_adaptive_pooling_window_sizes`), then gathers from both. For an
output size of 1 the big window is one longer than the input: eagerly, a VALID pooling with a
window longer than its input returns an empty tensor that the gather never reads, but in graph
mode TensorFlow's shape inference refuses it ("Negative dimension size caused by subtracting 4
from 3"). The harness's keras column runs eagerly and passes; `litert` traces the model for the
converter and is skipped with this message on `pool002_adaptive.torchvision_head`.
Exits 1 while the graph-mode call fails, 0 once it agrees with the eager one.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def main() -> int:
    print(f"keras {keras.__version__}, tensorflow {tf.__version__}")
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")  # NHWC, 3x3 planes
    failing = 0
    for output_size in ((1, 1), (3, 1), (2, 2)):
        layer = keras.layers.AdaptiveAveragePooling2D(output_size)
        eager = keras.ops.convert_to_numpy(layer(x))
        try:
            graph = tf.function(lambda t: layer(t))(x).numpy()
            outcome = "agrees" if np.allclose(graph, eager, atol=1e-6) else "differs"
        except Exception as exc:  # graph mode's refusal
            message = " ".join(str(exc).split())
            outcome = "fails: " + message[message.find("Negative"):][:90]
        print(f"output {output_size}: eager {eager.shape}, graph mode {outcome}")
        failing += outcome != "agrees"
    model = keras.Sequential([keras.Input((3, 3, 4)), keras.layers.AdaptiveAveragePooling2D((1, 1))])
    try:
        model.predict(x, verbose=0)
        print("model.predict: runs")
    except Exception:
        print("model.predict: fails the same way")
        failing += 1
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
