"""How long a harness run over the seed workloads takes, against the floor of the frameworks.

../shared/reference/performance.md measured the floor: one process that imports numpy, Keras
(TensorFlow), torch and chainer and runs the five seed workloads (2-5-1 tanh, the MNIST MLP, the
1-16-32-1 leaky regression, the LSTM, the small CNN) forward and backward once in each framework,
written directly: about 5 s, of which the work is about 0.43 s and the rest imports and interpreter
shutdown. The target: a harness run of the same cases stays within 1.5x of that floor.

This script measures, on the machine it runs on, in fresh processes:

* `imports`: a process that imports the four frameworks and exits (the bulk of the floor);
* `harness`: `python -m harness run` over the seed cases that are those five workloads, with a
  warm defaults-table cache (the usual case) and, once, with an empty one (a first run);

and prints the medians and the ratio of `harness` to `imports + 0.43 s` (the work part of the floor,
taken from performance.md since it is small and not worth re-implementing every workload for).
The harness's run does more than the floor: intermediates of every layer, pairwise comparisons,
float64 reference, both variants of seed000 and seed003, results.json and the HTML report.

    .venv/bin/python benchmarks/seed_run.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_WORKLOADS = ["cases/seed000_dense_tanh.yaml", "cases/seed001_mnist_mlp.yaml",
                  "cases/seed003_exp_regression.yaml", "cases/seed004_lstm.yaml",
                  "cases/conv000_small_cnn.yaml"]
FLOOR_WORK_SECONDS = 0.43
"""performance.md: the five workloads' forward and backward in all four frameworks, once each."""


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, SETUPTOOLS_USE_DISTUTILS="stdlib", HARNESS_CACHE_DIR=f"{scratch}/cache",
                   PYTHONWARNINGS="ignore")
        run = [python, "-m", "harness", "run", *SEED_WORKLOADS, "--out", f"{scratch}/reports"]
        cold = wall(run, env)  # the first run with an empty cache reads the defaults table
        imports = [wall([python, "-c", "import numpy, keras, tensorflow, torch, chainer"], env)
                   for _ in range(args.repeat)]
        harness = [wall(run, env) for _ in range(args.repeat)]
    floor = statistics.median(imports) + FLOOR_WORK_SECONDS
    print(f"imports of numpy, keras, tensorflow, torch, chainer: median {statistics.median(imports):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in imports)})")
    print(f"floor here: imports + {FLOOR_WORK_SECONDS} s of work = {floor:.2f} s")
    print(f"harness run of {len(SEED_WORKLOADS)} seed case files: median {statistics.median(harness):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in harness)}); first run, empty defaults cache: {cold:.2f} s")
    print(f"ratio to the floor: {statistics.median(harness) / floor:.2f}x (target 1.5x); "
          f"first run {cold / floor:.2f}x")


if __name__ == "__main__":
    main()
