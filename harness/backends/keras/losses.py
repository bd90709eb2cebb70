"""Keras versions of the harness's losses: (callable(y, t) -> scalar, native|composite, detail).

Each Keras loss is called with `reduction=None`, which gives the per-sample (per-position, for
sequence outputs) values; the canonical reduction is applied here. Keras' own "sum" would add
up positions too, which differs from the canonical definition for outputs with more than 2 axes.
"""

from __future__ import annotations

from harness.backends.keras._import import BACKEND, keras, tf

from harness.backends.keras.registry import LOSS_BUILDERS as builders

ops = keras.ops


def reduce(per_sample, reduction: str):
    per_sample = ops.mean(ops.reshape(per_sample, (ops.shape(per_sample)[0], -1)), axis=1)
    return ops.mean(per_sample) if reduction == "mean" else ops.sum(per_sample)


# Keras' sigmoid and softmax attach their input to their output as `_keras_logits`
# (keras/src/activations/activations.py), and the crossentropies' `_get_logits`
# (keras/src/backend/tensorflow/nn.py) then compute on those logits instead of the output. With
# from_logits=True that drops the activation altogether: a case whose loss takes a softmax
# output as logits got the loss of the pre-softmax values (found by a generated case; cases/
# discovered_keras_cached_logits.yaml). tf.identity gives the loss the output's values without
# the attribute. With from_logits=False the cache computes the same function exactly, without
# Keras' 1e-7 clip, so it is left alone there; the clip then applies only to probabilities that
# carry no cache, and at saturation that is no rounding: 16.118 instead of 30 per sample
# (cases/discovered_keras_cached_logits.yaml, saturated_* variants).
CACHED_LOGITS = ("; the output passed through tf.identity: Keras would otherwise take the logits a "
                 "sigmoid/softmax cached on it (_keras_logits) and skip that activation")


def without_cached_logits(y):
    """`y`'s values without the `_keras_logits` cache. Only Keras' TensorFlow crossentropies
    read the cache (keras/src/backend/torch/nn.py has no `_keras_logits`), so on the torch
    backend `y` is passed as it is (the detail still names tf.identity only on TensorFlow)."""
    return tf.identity(y) if BACKEND == "tensorflow" else y


def with_feature_axis(loss):
    """Keras' elementwise losses average over the last axis. On an output of one scalar per
    sample (shape (batch,), e.g. Dense(1) then Reshape([])) that last axis is the batch: Keras
    returns one 0-d value, the mean over the whole batch, where the canonical loss has one value
    per sample (which `sum` adds up). A feature axis of size 1 on both gives Keras one value per
    sample (found by a check outside the project: an IndexError in `reduce`; tests/
    test_loss_edge_cases.py)."""
    def call(t, y):
        if len(y.shape) == 1:
            y, t = ops.expand_dims(y, -1), ops.expand_dims(t, -1)
        return loss(t, y)
    return call


def keras_loss(cls, detail_extra: str = "", **fixed):
    def build(spec, dtype):
        options = {key: getattr(spec, key) for key in ("from_logits",) if hasattr(spec, key)}
        # dtype: Keras losses cast to keras.config.floatx() (float32) unless told otherwise.
        loss = with_feature_axis(cls(reduction=None, dtype=dtype, **options, **fixed))
        detail = f"keras.losses.{cls.__name__}({', '.join(f'{k}={v}' for k, v in {**options, **fixed}.items())})"
        if options.get("from_logits"):
            return (lambda y, t: reduce(loss(t, without_cached_logits(y)), spec.reduction)), "native", \
                detail + detail_extra + (CACHED_LOGITS if BACKEND == "tensorflow" else "")
        return (lambda y, t: reduce(loss(t, y), spec.reduction)), "native", detail + detail_extra
    return build


builders.register("mean_squared_error")(keras_loss(keras.losses.MeanSquaredError))
builders.register("mean_absolute_error")(keras_loss(keras.losses.MeanAbsoluteError))
# Hinge converts {0, 1} targets to {-1, +1} when all are 0 or 1 (keras/src/losses/losses.py).
builders.register("hinge")(keras_loss(keras.losses.Hinge, "; turns all-{0,1} targets into -1/+1"))
builders.register("squared_hinge")(keras_loss(keras.losses.SquaredHinge, "; turns all-{0,1} targets into -1/+1"))
# On probabilities Keras clips p to [1e-7, 1 - 1e-7]; that only matters at saturation.
builders.register("binary_crossentropy")(keras_loss(keras.losses.BinaryCrossentropy))

# Keras' categorical losses on probabilities divide p by its row sum before the log
# (keras/src/backend/tensorflow/nn.py, categorical_crossentropy). For rows that sum to one the
# value is the same, but d loss / d p gains 1/sum(p) per element: a different function of p
# (measured: +1/N on every element of the gradient). Where p is a softmax output the chain
# rule cancels it, but the canonical loss is -sum(t log p), so it is built from keras.ops.
RENORMALISES = "keras.losses.{} renormalises p by its row sum, which changes d loss/d p: built from keras.ops"


@builders.register("categorical_crossentropy")
def categorical_crossentropy(spec, dtype):
    if spec.from_logits:
        return keras_loss(keras.losses.CategoricalCrossentropy)(spec, dtype)
    return (lambda y, t: reduce(-ops.sum(t * ops.log(y), axis=-1), spec.reduction)), "composite", \
        "-sum(t * log p): " + RENORMALISES.format("CategoricalCrossentropy")


# Keras' loss wrapper squeezes a last axis of size 1 off y_pred when y_true has one axis less
# (keras/src/losses/loss.py `squeeze_or_expand_to_same_rank`, called by LossFunctionWrapper.call
# in losses.py) unless y_true has rank 1: with one class and a sequence or feature-map output the
# class axis is gone and sparse_categorical_crossentropy raises "Argument `output` must have
# rank (ndim) `target.ndim - 1`" (found by a generated case). Then the loss is composed.
ONE_CLASS = ("; with one class on outputs of rank > 2, which keras.losses.SparseCategoricalCrossentropy "
             "squeezes off and then refuses: -log_softmax(y)[t] from keras.ops")


def picked_log_probability(log_p, t, reduction, ignore_label=None):
    labels = ops.reshape(ops.cast(t, "int32"), ops.shape(log_p)[:-1])
    if ignore_label is None:
        picked = ops.take_along_axis(log_p, ops.expand_dims(labels, -1), axis=-1)
        return reduce(-ops.squeeze(picked, -1), reduction)
    # take_along_axis indexes -1 from the end: ignored positions pick class 0, then count 0.
    kept = ops.not_equal(labels, ignore_label)
    picked = ops.take_along_axis(log_p, ops.expand_dims(ops.where(kept, labels, 0), -1), axis=-1)
    return reduce(-ops.squeeze(picked, -1) * ops.cast(kept, log_p.dtype), reduction)


@builders.register("sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(spec, dtype):
    if spec.from_logits:
        # A declared ignore_label is Keras' ignore_class (0 loss there with reduction=None).
        fixed = {"ignore_class": spec.ignore_label} if spec.ignore_label is not None else {}
        native, kind, detail = keras_loss(keras.losses.SparseCategoricalCrossentropy, **fixed)(spec, dtype)

        def loss(y, t):
            if len(y.shape) > 2 and y.shape[-1] == 1:
                return picked_log_probability(ops.log_softmax(y, axis=-1), t, spec.reduction, spec.ignore_label)
            return native(y, t)
        return loss, kind, detail + ONE_CLASS

    def loss(y, t):
        return picked_log_probability(ops.log(y), t, spec.reduction, spec.ignore_label)
    return loss, "composite", "-log p[t]: " + RENORMALISES.format("SparseCategoricalCrossentropy")
