"""TensorFlow 2.21's TFLite converter and LiteRT: two channels_first Keras models that Keras runs
correctly but that do not ship to LiteRT as converted. Needs NumPy, TensorFlow/Keras and
(optionally) ai-edge-litert.

    python cases/reproducers/litert_channels_first.py

1. Conv1D(data_format="channels_first"): the converter refuses it ("'tf.Transpose' op x should
   be of the same rank with y, got x of rank 3, and y of rank 4"; TF's MLIR TFLite converter,
   tensorflow/compiler/mlir/lite/). The harness: `litert` skipped on
   `conv003_conv1d.channels_first`.
2. Conv2D(dilation_rate=2, data_format="channels_first"): it converts, with SPACE_TO_BATCH_ND
   given a 3-element block shape, which the kernel refuses when the interpreter prepares the
   graph ("3 != 2"; tensorflow/lite/kernels/space_to_batch_nd.cc). The harness: `litert`
   skipped on `conv002_dilation_groups.channels_first`.
The same layers channels_last convert and run. Exits 1 while either channels_first model fails,
0 once both run.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # the same runtime, bundled with TensorFlow
    Interpreter = tf.lite.Interpreter


def convert_and_run(layer: keras.layers.Layer, shape: tuple[int, ...]) -> str:
    """Convert one layer (its weights frozen) to a .tflite and run it on ones: `runs`, or the
    converter's or the interpreter's refusal."""
    layer.build((1, *shape))
    function = tf.function(lambda x: layer(x), input_signature=[tf.TensorSpec((1, *shape), tf.float32)])
    holder = tf.Module()
    holder.variables_to_freeze = [variable.value for variable in layer.weights]
    try:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], holder)
        flatbuffer = converter.convert()
    except Exception as exc:
        message = " ".join(str(exc).split())  # the MLIR error, after its source locations
        return "converter: " + message[message.find("error: "):].split(" sys.exit")[0][:160]
    interpreter = Interpreter(model_content=flatbuffer)
    try:
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ones((1, *shape), np.float32))
        interpreter.invoke()
    except Exception as exc:
        return "interpreter: " + " ".join(str(exc).split())[:200]
    return "runs"


def main() -> int:
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, {Interpreter.__module__}")
    models = {
        "Conv1D channels_first": (lambda: keras.layers.Conv1D(4, 3, data_format="channels_first"), (2, 9)),
        "Conv1D channels_last": (lambda: keras.layers.Conv1D(4, 3, data_format="channels_last"), (9, 2)),
        "Conv2D dilated channels_first": (
            lambda: keras.layers.Conv2D(4, 3, dilation_rate=2, data_format="channels_first"), (2, 9, 9)),
        "Conv2D dilated channels_last": (
            lambda: keras.layers.Conv2D(4, 3, dilation_rate=2, data_format="channels_last"), (9, 9, 2)),
    }
    failing = 0
    for name, (make, shape) in models.items():
        outcome = convert_and_run(make(), shape)
        print(f"{name:32s} {outcome}")
        failing += "channels_first" in name and outcome != "runs"
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
