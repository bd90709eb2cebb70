"""Keras' defaults, read from Keras itself: one reader per catalogue key (harness/defaults/).

The reading marked `used` is the API the Keras builders call, so it is what a case's
`framework_default` resolves to here: keras.activations functions for activations (the
builders use them, in Dense and Activation alike), keras.layers classes for layers. Where Keras
has two defaults under one name (the LeakyReLU layer 0.3 vs keras.activations.leaky_relu 0.2,
keras.activations.gelu exact vs keras.ops.gelu tanh), both are read and shown.
"""

from harness.backends.keras.defaults import activations, layers, optimizers  # noqa: F401
