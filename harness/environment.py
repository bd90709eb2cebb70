"""What the run happened on: versions, CPU, threads, the settings that change numerics."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

PACKAGES = ("numpy", "tensorflow-cpu", "tensorflow", "keras", "torch", "chainer", "pydantic")
SETTINGS = ("TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "KERAS_BACKEND",
            "SETUPTOOLS_USE_DISTUTILS", "CI")


def describe_environment() -> dict[str, object]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    threads = {}
    if "torch" in sys.modules:
        threads["torch.get_num_threads"] = sys.modules["torch"].get_num_threads()
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        threads["tf.intra_op_parallelism"] = tf.config.threading.get_intra_op_parallelism_threads()
        threads["tf.inter_op_parallelism"] = tf.config.threading.get_inter_op_parallelism_threads()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "threads": threads,
        "settings": {name: os.environ.get(name, "(unset)") for name in SETTINGS},
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
