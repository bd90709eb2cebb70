"""The Keras adapter's machine-dependent decisions for one case (`KerasBackend.execution_paths`).

Three things change what the same case computes from one machine to the next:

* TF's oneDNN custom operations (TF_ENABLE_ONEDNN_OPTS, on by default only on some CPUs): they
  reorder float sums, and they give the CPU an NCHW convolution kernel;
* per channels_first convolution, whether Keras' own NCHW call runs (`native`) or the adapter
  runs it channels_last between transposes (conv.py `channels_first_route`). The native path
  meets Keras 3.15.1's bias bug where the last axis is as long as the filters
  (cases/discovered_keras_channels_first_bias.yaml);
* TF's thread pools (0 = one thread per core): the split of a reduction changes its rounding.
"""

from __future__ import annotations

from harness.backends.base import ExecutionPath
from harness.backends.keras._import import tf
from harness.backends.keras.conv import CONV_LAYERS, channels_first_route, onednn_enabled
from harness.case import Case

CONVOLUTIONS = {f"Conv{rank}D" for rank in CONV_LAYERS}


def execution_paths(case: Case) -> list[ExecutionPath]:
    onednn = "on" if onednn_enabled() else "off"
    paths = [ExecutionPath("tensorflow.onednn", onednn, f"TensorFlow oneDNN custom operations {onednn}"),
             ExecutionPath("tensorflow.threads", threads(), f"TensorFlow threads: {threads()}")]
    for name, spec in case.graph.layers.items():
        if spec.type in CONVOLUTIONS and spec.data_format == "channels_first":
            paths.append(channels_first_route(name, spec, case.spec.dtype))
    return paths


def threads() -> str:
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    show = lambda n: "one per core" if n == 0 else str(n)  # noqa: E731
    return f"intra-op {show(intra)}, inter-op {show(inter)}"
