"""Every layer kind the harness knows. Importing this package registers them all in `LAYERS`.

To add a layer kind: write its spec and reference in a module here (see base.py), import the
module below, and register one builder per adapter under harness/backends/.
"""

# Imported for their registration side effects.
from harness.reference.layers import (  # noqa: F401
    activation_layers, adaptive, attention, bidirectional, conv, core, depthwise, embedding, merge, normalization,
    peephole, pooling, recurrent, regularization, reshaping, transpose, variable_length)
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer

__all__ = ["LAYERS", "LayerSpec", "ReferenceLayer"]
