"""Keras versions of the harness's metrics: (callable(y, t) -> scalar, native|composite, detail).

Keras' metric functions (keras.metrics.binary_accuracy, ...) return one value per prediction;
the share over all of them is their mean. The threshold and k are always passed: Keras'
defaults (binary_accuracy threshold=0.5, top-k k=5, keras/src/metrics/accuracy_metrics.py) are
not what a case that states its own means.
"""

from __future__ import annotations

from harness.backends.keras._import import keras
from harness.backends.keras.registry import METRIC_BUILDERS as builders

ops = keras.ops


def share(values):
    return ops.mean(ops.cast(values, "float64"))


@builders.register("sign_accuracy")
def sign_accuracy(spec, dtype):
    # binary_accuracy(threshold=0) on (t + 1) / 2 would count y = 0 as a prediction of -1.
    return (lambda y, t: share(ops.greater(t * y, 0))), "composite", \
        "mean(t * y > 0) from keras.ops: Keras has no sign accuracy, and binary_accuracy(threshold=0) " \
        "counts y = 0 as right for t = -1"


@builders.register("binary_accuracy")
def binary_accuracy(spec, dtype):
    threshold = spec.threshold
    return (lambda y, t: share(keras.metrics.binary_accuracy(t, y, threshold=threshold))), "native", \
        f"keras.metrics.binary_accuracy(threshold={threshold}) (Keras' default threshold is 0.5)"


@builders.register("categorical_accuracy")
def categorical_accuracy(spec, dtype):
    return (lambda y, t: share(keras.metrics.categorical_accuracy(t, y))), "native", \
        "keras.metrics.categorical_accuracy"


@builders.register("sparse_categorical_accuracy")
def sparse_categorical_accuracy(spec, dtype):
    def metric(y, t):
        return share(keras.metrics.sparse_categorical_accuracy(ops.reshape(t, ops.shape(y)[:-1]), y))
    return metric, "native", "keras.metrics.sparse_categorical_accuracy"


@builders.register("top_k_accuracy")
def top_k_accuracy(spec, dtype):
    k = spec.k
    if dtype != "float32":
        # tf.math.in_top_k (keras/src/backend/tensorflow/math.py, in_top_k) takes float32
        # predictions only: float64 scores rounded to float32 can tie and change the answer.
        def composite(y, t):
            labels = t if tuple(t.shape) != tuple(y.shape) else ops.argmax(t, axis=-1)
            labels = ops.reshape(ops.cast(labels, "int64"), ops.shape(y)[:-1])
            scores = ops.take_along_axis(y, ops.expand_dims(labels, -1), axis=-1)
            return share(ops.less(ops.sum(ops.cast(ops.greater(y, scores), "int64"), axis=-1), k))
        return composite, "composite", f"count(y > y[t]) < {k} from keras.ops: keras.metrics' top-k " \
            "accuracy calls tf.math.in_top_k, which takes float32 predictions only"

    def metric(y, t):
        if tuple(t.shape) == tuple(y.shape):
            return share(keras.metrics.top_k_categorical_accuracy(t, y, k=k))
        return share(keras.metrics.sparse_top_k_categorical_accuracy(ops.reshape(t, ops.shape(y)[:-1]), y, k=k))
    return metric, "native", f"keras.metrics.(sparse_)top_k_categorical_accuracy(k={k}) (Keras' default k is 5)"


@builders.register("mean_absolute_error")
def mean_absolute_error(spec, dtype):
    return (lambda y, t: ops.mean(keras.metrics.mean_absolute_error(t, y))), "native", \
        "keras.metrics.mean_absolute_error (mean over the last axis), then the mean over the rest"


@builders.register("mean_squared_error")
def mean_squared_error(spec, dtype):
    return (lambda y, t: ops.mean(keras.metrics.mean_squared_error(t, y))), "native", \
        "keras.metrics.mean_squared_error (mean over the last axis), then the mean over the rest"
