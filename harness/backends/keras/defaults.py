"""What the defaults readers of the family modules share: Keras run on float64 probes.

Each family module registers the readers of its kinds' defaults in REGISTRY.defaults (one per
catalogue key, harness/defaults/): normalization.py, recurrent.py, activation_layers.py,
activations.py, optimizers.py. The reading marked `used` is the API the Keras builders call, so
it is what a case's `framework_default` resolves to here: keras.activations functions for
activations (the builders use them, in Dense and Activation alike), keras.layers classes for
layers. Where Keras has two defaults under one name (the LeakyReLU layer 0.3 vs
keras.activations.leaky_relu 0.2, keras.activations.gelu exact vs keras.ops.gelu tanh), both are
read and shown.
"""

from __future__ import annotations

import numpy as np

from harness.backends.keras._import import keras


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def at(function, x) -> np.ndarray:
    """`function` evaluated on a float64 tensor (Keras keeps float64 inputs in float64)."""
    return keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(np.asarray(x, dtype=np.float64))))
