"""torch 2.13's ONNX export (dynamo=True, onnxscript's torch_lib) of a float64 model writes a
Python-float factor such as `x * 0.2` as a 32-bit float first: torch.export records the
multiplication as mul(x, scalar_tensor(0.2)), and onnxscript's `aten_scalar_tensor`
(onnxscript/function_libs/torch_lib/ops/core.py) casts a constant the exporter made from the
Python float, a FLOAT unless told otherwise, to the model's DOUBLE. The file then holds
0.20000000298023224, so a float64 hard_sigmoid built as clamp(0.2 x + 0.5, 0, 1) is off by
about 1.5e-8 relative once exported, while torch itself multiplies by the exact double.
Needs torch, onnx and onnxscript (no onnxruntime).

    python cases/reproducers/torch_onnx_export_scalar_float32.py

The harness meets it as onnxruntime's expected difference on
`recurrent_chainer_links.nstep_lstm_composite` (intermediates of its hard_sigmoid LSTM).
Exits 1 while the exported constant differs from the Python float, 0 once it is exact.
"""

import os
import sys
import tempfile

import onnx
import torch
from onnx import numpy_helper

FACTOR = 0.2


class Scaled(torch.nn.Module):
    def forward(self, x):
        return x * FACTOR


if __name__ == "__main__":
    path = os.path.join(tempfile.mkdtemp(), "scaled.onnx")
    torch.onnx.export(Scaled().eval(), (torch.ones(2, 3, dtype=torch.float64),), path, dynamo=True,
                      opset_version=20)
    constants = [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer]
    (stored,) = [float(c.ravel()[0]) for c in constants if c.size == 1]
    print(f"torch {torch.__version__}: float64 x * {FACTOR!r} exported; the file holds {stored!r}")
    sys.exit(1 if stored != FACTOR else 0)
