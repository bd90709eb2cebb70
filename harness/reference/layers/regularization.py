"""Dropout. No parameters.

Inference mode: the identity, in Keras, torch and chainer alike. Training mode zeroes a random
mask and scales the rest by 1 / (1 - rate) ("inverted" dropout, all three), but each framework
draws its mask from its own generator (a TF seed generator in Keras, torch's default generator,
numpy's in chainer). chainer's F.dropout accepts a mask (`mask=`); torch's F.dropout
(torch/nn/functional.py) and Keras' backend.random.dropout (keras/src/layers/regularization/
dropout.py calls it with a seed only) do not, so no mask can be shared: training mode with
rate > 0 is reported as unsupported, by every backend, the reference included.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.common.errors import Unsupported
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer

TRAINING_UNSUPPORTED = (
    "Dropout with rate > 0 in training mode draws a random mask from each framework's own "
    "generator, and torch's F.dropout and Keras' Dropout take no mask from outside, so one mask "
    "cannot be shared and the outputs cannot be compared; use mode: inference, or rate: 0")


class DropoutReference(ReferenceLayer):
    def forward(self, x):
        if self.training and self.spec.rate > 0:
            raise Unsupported(TRAINING_UNSUPPORTED)
        return x

    def backward(self, dy):
        return (dy,)


@LAYERS.register
class Dropout(LayerSpec):
    """y = x in inference mode (and for rate 0). Training mode with rate > 0 is unsupported
    (see the module docstring)."""

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Dropout"]
    rate: float = Field(ge=0, lt=1, description=(
        "fraction of inputs dropped in training mode (torch's p, chainer's ratio)"))

    reference = DropoutReference
