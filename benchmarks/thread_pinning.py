"""The thread count every benchmark runs with, fixed before NumPy or a framework is imported.

NumPy's BLAS, TensorFlow and torch size their thread pools when imported, from these
environment variables, so a benchmark script imports this module first (`from thread_pinning
import ROOT, THREADS` at the top, before `import numpy`). It also puts the repository root on
sys.path, so the script imports this checkout's harness. Default one thread: timings that do not
depend on how many cores a shared machine has free.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _threads() -> int:
    """--threads, read before NumPy and the frameworks are imported (their pools size at import)."""
    for index, argument in enumerate(sys.argv):
        if argument == "--threads" and index + 1 < len(sys.argv):
            return int(sys.argv[index + 1])
        if argument.startswith("--threads="):
            return int(argument.split("=", 1)[1])
    return 1


THREADS = _threads()
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                 "TF_NUM_INTEROP_THREADS"):
    os.environ[variable] = str(THREADS)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
