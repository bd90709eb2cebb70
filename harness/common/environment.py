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
        "numerics": numerics(),
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


def numerics() -> dict[str, str]:
    """Switches that change results in the last bits, read from frameworks already imported
    (nothing is imported here: framework imports belong to the adapters)."""
    found = {}
    # TF's oneDNN custom ops reorder float sums. Whether they are on depends on the build and
    # on TF_ENABLE_ONEDNN_OPTS (off by default in tensorflow-cpu 2.21 here); IsMklEnabled()
    # reports the effective state (tensorflow/python/util/_pywrap_util_port.pyi).
    port = sys.modules.get("tensorflow.python.util._pywrap_util_port")
    if port is not None:
        found["TensorFlow oneDNN custom operations"] = "on" if port.IsMklEnabled() else "off"
    torch = sys.modules.get("torch")
    if hasattr(torch, "get_num_interop_threads"):
        found["torch.get_num_interop_threads"] = str(torch.get_num_interop_threads())
        found["torch default dtype"] = str(torch.get_default_dtype())
    return found


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
