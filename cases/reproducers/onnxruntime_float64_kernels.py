"""ONNX Runtime 1.31 (CPU): no float64 kernel for Erf (exact GELU), Softplus, GRU or LSTM, though
ONNX allows double for each. Needs only NumPy, onnx and onnxruntime.

    python cases/reproducers/onnxruntime_float64_kernels.py

The harness meets these as `onnxruntime` skips with the runtime's words on
`discovered_keras_gelu_float64` (Erf), the float64 `softplus_threshold` variants (Softplus),
`recurrent_training.gru_adam` and
`recurrent_training.lstm_sgd_momentum` (float64 cases exported from torch). Each model here is
one operator in float64, built with onnx.helper; ONNX Runtime refuses Erf when the session is
made ("Could not find an implementation for Erf(13) node with name ''", the CPU provider
registers Erf for float only: onnxruntime/core/providers/cpu/math/element_wise_ops.cc; Softplus
likewise, onnxruntime/core/providers/cpu/activation/activations.cc) and the
recurrent ones when they run ("GRU operator does not support double yet",
onnxruntime/core/providers/cpu/rnn/deep_cpu_gru.cc; deep_cpu_lstm.cc for LSTM). The same models in
float32 run. Exits 1 while any float64 model is refused, 0 once all run.
"""

import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

SEQUENCE, BATCH, FEATURES, HIDDEN = 3, 2, 4, 5


def model(operator: str, dtype: int) -> onnx.ModelProto:
    """One node: Erf(x) or Softplus(x), or a GRU/LSTM over x with weights W, R as initializers."""
    numpy_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    if operator in ("Erf", "Softplus"):
        node, shape, initializers, output = helper.make_node(operator, ["x"], ["y"]), [BATCH, FEATURES], [], [BATCH, FEATURES]
    else:
        gates = 3 if operator == "GRU" else 4
        rng = np.random.default_rng(0)
        initializers = [helper.make_tensor(name, dtype, value.shape, value.ravel())
                        for name, value in (("W", rng.normal(size=(1, gates * HIDDEN, FEATURES)).astype(numpy_dtype)),
                                            ("R", rng.normal(size=(1, gates * HIDDEN, HIDDEN)).astype(numpy_dtype)))]
        node = helper.make_node(operator, ["x", "W", "R"], ["y"], hidden_size=HIDDEN)
        shape, output = [SEQUENCE, BATCH, FEATURES], [SEQUENCE, 1, BATCH, HIDDEN]
    graph = helper.make_graph([node], operator, [helper.make_tensor_value_info("x", dtype, shape)],
                              [helper.make_tensor_value_info("y", dtype, output)], initializers)
    # IR version 10, what torch 2.13 writes at opset 20 (onnx 1.23 would write a newer one than ONNX Runtime 1.31 reads)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)


def runs(operator: str, dtype: int) -> str:
    built = model(operator, dtype)
    onnx.checker.check_model(built)  # ONNX itself allows double for the operator
    x = np.random.default_rng(1).normal(size=[d.dim_value for d in built.graph.input[0].type.tensor_type.shape.dim])
    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4  # the refusal comes back in the exception
        session = onnxruntime.InferenceSession(built.SerializeToString(), options, providers=["CPUExecutionProvider"])
        session.run(None, {"x": x.astype(helper.tensor_dtype_to_np_dtype(dtype))})
    except Exception as exc:  # the runtime's refusal, in its words
        message = " ".join(str(exc).split())
        return message.split("Status Message: ")[-1] if "Status Message: " in message else message.split(" : ")[-1]
    return "runs"


def main() -> int:
    print(f"onnxruntime {onnxruntime.__version__}, onnx {onnx.__version__}")
    refused = 0
    for operator in ("Erf", "Softplus", "GRU", "LSTM"):
        single, double = runs(operator, TensorProto.FLOAT), runs(operator, TensorProto.DOUBLE)
        print(f"{operator:8s} float32: {single}\n{'':8s} float64: {double}")
        refused += double != "runs"
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
