"""Import Keras on the TensorFlow backend, quietly, or fail with a reason.

KERAS_BACKEND must be set before the first `import keras`; a user who set it to another backend
gets a clear skip reason rather than a comparison of the wrong thing.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up banners are not our output

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(f"Keras runs on the {keras.backend.backend()!r} backend here; the harness "
                      "compares Keras on TensorFlow: unset KERAS_BACKEND or set it to tensorflow")

__all__ = ["keras", "tf"]
