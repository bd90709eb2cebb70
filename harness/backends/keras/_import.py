"""Import Keras on the backend the harness asked for, quietly, or fail with a reason.

KERAS_BACKEND must be set before the first `import keras`. The harness's own process runs Keras
on TensorFlow (the `keras` column); Keras' other backends (`keras-torch`) run in a worker
process that the harness starts with KERAS_BACKEND and HARNESS_KERAS_BACKEND both set to that
backend (harness/backends/keras_other/). A user who set KERAS_BACKEND to another backend in the
harness's own process gets a clear skip reason rather than a comparison of the wrong thing.

TensorFlow is imported on every backend: the adapter names a few of its types (errors, thread
settings, IndexedSlices) in code that the other backends never reach, and an import is cheaper
than a second copy of those modules. What a model computes goes through keras.ops and layers.
"""

from __future__ import annotations

import os

WANTED = os.environ.get("HARNESS_KERAS_BACKEND", "tensorflow")
"""The backend this process must run Keras on (set only by the keras-other worker)."""

os.environ.setdefault("KERAS_BACKEND", WANTED)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up banners are not our output

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

BACKEND = keras.backend.backend()
if BACKEND != WANTED:
    raise ImportError(f"Keras runs on the {BACKEND!r} backend here; the harness compares Keras on "
                      f"{WANTED}: unset KERAS_BACKEND or set it to {WANTED} (Keras' other backends "
                      "are columns of their own: --frameworks keras-torch)")

__all__ = ["keras", "tf", "BACKEND"]
