"""Keras 3.15.1 (TensorFlow backend): a channels_first convolution adds its bias along the last
axis when that axis is as long as the number of filters. Needs only NumPy and Keras.

    python cases/reproducers/keras_channels_first_bias.py

keras/src/layers/convolutional/base_conv.py `call` adds the bias with
`ops.add(outputs, ops.reshape(self.bias, (1, filters, 1, 1)))` for channels_first;
keras/src/backend/tensorflow/numpy.py `add` sends any second argument that squeezes to a vector
to `tf.nn.bias_add`, with data_format "NHWC" whenever `x1.shape[-1]` equals its length. A grouped
convolution runs channels_first on every CPU (Keras compiles it with XLA), so the second check
shows the bug on any machine; a plain one needs TF's NCHW kernel (oneDNN on, or a GPU).
Prints each check and exits 1 while the bug is there, 0 once Keras adds the bias per channel.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402


def broadcast_add() -> float:
    """ops.add of (1, 3, 2, 3) zeros and a (1, 3, 1, 1) bias: NumPy puts 0, 1, 2 on axis 1."""
    x = np.zeros((1, 3, 2, 3), dtype="float32")
    bias = np.arange(3, dtype="float32").reshape(1, 3, 1, 1)
    return float(np.abs(keras.ops.convert_to_numpy(keras.ops.add(x, bias)) - (x + bias)).max())


def grouped_conv2d(width: int) -> float:
    """Conv2D(4 filters, 1x1, groups 2, channels_first) with a zero kernel: the output is the
    bias on every channel's plane, and nothing else."""
    layer = keras.layers.Conv2D(4, 1, groups=2, data_format="channels_first")
    layer.build((None, 2, 3, width))
    layer.kernel.assign(np.zeros(layer.kernel.shape, dtype="float32"))
    bias = np.array([1.0, 2.0, 3.0, 4.0], dtype="float32")
    layer.bias.assign(bias)
    y = keras.ops.convert_to_numpy(layer(np.zeros((1, 2, 3, width), dtype="float32")))
    return float(np.abs(y - bias.reshape(1, 4, 1, 1)).max())


if __name__ == "__main__":
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    checks = {"ops.add((1,3,2,3), bias (1,3,1,1))": broadcast_add(),
              "grouped Conv2D channels_first, width 4 = filters": grouped_conv2d(4),
              "grouped Conv2D channels_first, width 5 (control)": grouped_conv2d(5)}
    for name, error in checks.items():
        print(f"{name}: max |keras - numpy| = {error:g}")
    raise SystemExit(1 if max(checks.values()) > 0 else 0)
