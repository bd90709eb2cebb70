"""ONNX Runtime 1.31 (CPU): in a float64 model, the default graph optimizations fold a
`Mul(x, c)` before a MatMul into com.microsoft FusedMatMul, whose `alpha` attribute is a float
(32-bit) in the contrib schema (onnxruntime/core/graph/contrib_ops/contrib_defs.cc, FusedMatMul;
the fusion: onnxruntime/core/optimizer/matmul_scale_fusion.cc). A float64 scale such as
sqrt(0.5), which torch's ONNX export of scaled_dot_product_attention multiplies the query and
the key by (onnxscript/function_libs/torch_lib/ops/nn.py), becomes 0.70710677 and the product
0.49999997: float64 attention loses about 1e-8 absolute. With the optimizations off
(ORT_ENABLE_BASIC or lower) the same file is exact. Needs only NumPy, onnx and onnxruntime.

    python cases/reproducers/onnxruntime_fused_matmul_alpha.py

The harness meets it as onnxruntime's expected difference on
`discovered_keras_attention_scale_float64` (both variants, forward and intermediates).
Exits 1 while the default session differs from the unoptimized one by more than float64
rounding, 0 once they agree.
"""

import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

SCALE = np.sqrt(0.5)


def model() -> onnx.ModelProto:
    """y = (a * s) @ (b * s): the two Mul by a float64 constant that MatMulScaleFusion folds."""
    scale = helper.make_tensor("s", TensorProto.DOUBLE, [1], [SCALE])
    nodes = [helper.make_node("Mul", ["a", "s"], ["a_s"]), helper.make_node("Mul", ["b", "s"], ["b_s"]),
             helper.make_node("MatMul", ["a_s", "b_s"], ["y"])]
    graph = helper.make_graph(nodes, "scaled_matmul",
                              [helper.make_tensor_value_info("a", TensorProto.DOUBLE, [4, 8]),
                               helper.make_tensor_value_info("b", TensorProto.DOUBLE, [8, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [4, 4])], [scale])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)


def run(level) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = level
    session = onnxruntime.InferenceSession(model().SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    return session.run(None, {"a": rng.normal(size=(4, 8)), "b": rng.normal(size=(8, 4))})[0]


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 8)), rng.normal(size=(8, 4))
    exact = (a * SCALE) @ (b * SCALE)
    levels = onnxruntime.GraphOptimizationLevel
    optimized, basic = run(levels.ORT_ENABLE_ALL), run(levels.ORT_ENABLE_BASIC)
    print(f"onnxruntime {onnxruntime.__version__}: float64 (a*s)@(b*s), s = sqrt(0.5)")
    print(f"  ORT_ENABLE_BASIC: max |difference| from NumPy {np.abs(basic - exact).max():.3g}")
    print(f"  ORT_ENABLE_ALL:   max |difference| from NumPy {np.abs(optimized - exact).max():.3g}")
    sys.exit(1 if np.abs(optimized - exact).max() > 1e-12 else 0)
