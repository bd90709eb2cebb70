"""Keras versions of the harness's losses: (callable(y, t) -> scalar, native|composite, detail).

Each Keras loss is called with `reduction=None`, which gives the per-sample (per-position, for
sequence outputs) values; the canonical reduction is applied here. Keras' own "sum" would add
up positions too, which differs from the canonical definition for outputs with more than 2 axes.
"""

from __future__ import annotations

from harness.adapters.keras_backend._import import keras

from harness.adapters.keras_backend.registry import LOSS_BUILDERS as builders

ops = keras.ops


def reduce(per_sample, reduction: str):
    per_sample = ops.mean(ops.reshape(per_sample, (ops.shape(per_sample)[0], -1)), axis=1)
    return ops.mean(per_sample) if reduction == "mean" else ops.sum(per_sample)


def keras_loss(cls, detail_extra: str = "", **fixed):
    def build(spec):
        options = {key: getattr(spec, key) for key in ("from_logits",) if hasattr(spec, key)}
        loss = cls(reduction=None, **options, **fixed)
        detail = f"keras.losses.{cls.__name__}({', '.join(f'{k}={v}' for k, v in options.items())})"
        return (lambda y, t: reduce(loss(t, y), spec.reduction)), "native", detail + detail_extra
    return build


builders.register("mean_squared_error")(keras_loss(keras.losses.MeanSquaredError))
builders.register("mean_absolute_error")(keras_loss(keras.losses.MeanAbsoluteError))
# Hinge converts {0, 1} targets to {-1, +1} when all are 0 or 1 (keras/src/losses/losses.py).
builders.register("hinge")(keras_loss(keras.losses.Hinge, "; turns all-{0,1} targets into -1/+1"))
builders.register("squared_hinge")(keras_loss(keras.losses.SquaredHinge, "; turns all-{0,1} targets into -1/+1"))
# On probabilities Keras clips to [1e-7, 1 - 1e-7] and, for categorical, renormalises the rows.
builders.register("binary_crossentropy")(keras_loss(keras.losses.BinaryCrossentropy))
builders.register("categorical_crossentropy")(keras_loss(keras.losses.CategoricalCrossentropy))
builders.register("sparse_categorical_crossentropy")(keras_loss(keras.losses.SparseCategoricalCrossentropy))
