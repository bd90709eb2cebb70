"""The torch adapter's machine-dependent decisions (`TorchBackend.execution_paths`).

The adapter computes on the CPU always (tensors come from torch.from_numpy and never move), so
TF32 (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32), which changes
float32 matrix products on Ampere and later GPUs, is unused even where a GPU exists: recorded so
that a reader need not guess. The CPU's thread count splits reductions, and so their rounding.
"""

from __future__ import annotations

import torch

from harness.backends.base import ExecutionPath


def execution_paths(case) -> list[ExecutionPath]:
    gpu = torch.cuda.is_available()
    tf32 = (f"unused: computed on the CPU although a GPU is present (allow_tf32: matmul "
            f"{torch.backends.cuda.matmul.allow_tf32}, cudnn {torch.backends.cudnn.allow_tf32})"
            if gpu else "unused: no GPU, computed on the CPU")
    threads = torch.get_num_threads()
    return [ExecutionPath("torch.device", "cpu", "torch device: cpu"),
            ExecutionPath("torch.tf32", "unused", f"torch TF32 {tf32}"),
            ExecutionPath("torch.threads", str(threads), f"torch threads: {threads}")]
