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
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "threads": thread_settings(),
        "settings": {name: os.environ.get(name, "(unset)") for name in SETTINGS},
    }


def thread_settings() -> dict[str, object]:
    """Thread counts of the frameworks this process has imported (importing one just to ask
    would cost seconds); a framework that failed to import is left out."""
    threads: dict[str, object] = {}
    torch = sys.modules.get("torch")
    if hasattr(torch, "get_num_threads"):
        threads["torch.get_num_threads"] = torch.get_num_threads()
    tf = sys.modules.get("tensorflow")
    if hasattr(tf, "config"):
        threads["tf.intra_op_parallelism"] = tf.config.threading.get_intra_op_parallelism_threads()
        threads["tf.inter_op_parallelism"] = tf.config.threading.get_inter_op_parallelism_threads()
    return threads


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
