"""chainer builder for Dropout."""

from __future__ import annotations

from harness.backends.base import BuiltLayer, Unsupported
from harness.backends.chainer._import import F
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.reference.layers.regularization import TRAINING_UNSUPPORTED


@builders.register("Dropout")
def dropout(spec, ctx) -> BuiltLayer:
    """F.dropout returns its input when chainer.config.train is False, or the ratio is 0
    (chainer/functions/noise/dropout.py); the session sets config.train to the case's mode.
    It would take a mask (mask=), but torch and Keras would not, so training mode stays out."""
    if ctx.training and spec.rate > 0:
        raise Unsupported(TRAINING_UNSUPPORTED)
    return BuiltLayer(call=lambda x: F.dropout(x, ratio=spec.rate),
                      detail=f"F.dropout(ratio={spec.rate}), train={ctx.training}")
