"""torch 2.13's ONNX exporter (dynamo=True, the default) cannot export an adaptive max pooling
whose output size does not divide its input. Needs only torch (with onnxscript).

    python cases/reproducers/onnx_adaptive_max_pool.py

torch/_decomp/decompositions.py `adaptive_max_pool2d` decomposes the global case (amax) and the
evenly divisible one (max_pool2d_with_indices) and returns NotImplemented otherwise; onnxscript's
torchlib has no function for it either (onnxscript/function_libs/torch_lib/ops/nn.py,
`aten_adaptive_max_pool2d` raises NotImplementedError), so the exporter stops: "No ONNX function
found for <OpOverload(op='aten.adaptive_max_pool2d', overload='default')>". AdaptiveMaxPool1d
goes through the same op. Adaptive average pooling exports in every case (torch decomposes it).
The harness: `onnxruntime` skipped with the exporter's words on `pool002_adaptive.torchvision_head`
(AdaptiveMaxPool2d(3) on 7x5) and `pool002_adaptive.keras_channels_last` (AdaptiveMaxPool1d(4)
on 6). Exits 1 while a non-divisible adaptive max pooling fails to export, 0 once it exports.
"""

import contextlib
import io
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import torch

MODELS = [
    ("AdaptiveMaxPool2d(3) on 7x5 (not divisible)", torch.nn.AdaptiveMaxPool2d(3), (2, 4, 7, 5), True),
    ("AdaptiveMaxPool1d(4) on 6 (not divisible)", torch.nn.AdaptiveMaxPool1d(4), (2, 3, 6), True),
    ("AdaptiveMaxPool2d(3) on 6x6 (divisible)", torch.nn.AdaptiveMaxPool2d(3), (2, 4, 6, 6), False),
    ("AdaptiveAvgPool2d((3, 2)) on 7x5", torch.nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5), False),
]


def export(module: torch.nn.Module, shape: tuple[int, ...], path: Path) -> str:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines
            torch.onnx.export(module, (torch.randn(*shape),), str(path), dynamo=True, opset_version=20, verbose=False)
    except Exception as exc:
        cause = exc
        while cause.__cause__ is not None:  # the exporter wraps the dispatcher's error
            cause = cause.__cause__
        return f"{type(cause).__name__}: " + " ".join(str(cause).split())[:140]
    return "exports"


def main() -> int:
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    print(f"torch {torch.__version__}")
    failing = 0
    with tempfile.TemporaryDirectory() as directory:
        for name, module, shape, not_divisible in MODELS:
            outcome = export(module, shape, Path(directory) / "model.onnx")
            print(f"{name:46s} {outcome}")
            failing += not_divisible and outcome != "exports"
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
