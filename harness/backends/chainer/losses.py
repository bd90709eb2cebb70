"""chainer versions of the harness's losses: (callable(y, t) -> scalar, native|composite, detail).

chainer's losses are called with reduce='no' where they have it, and reduced here to the
canonical per-sample mean, then batch mean or sum (see harness/reference/losses.py).
"""

from __future__ import annotations

from harness.backends.chainer._import import F
from harness.backends.chainer.registry import LOSS_BUILDERS as builders


def reduce(per_element, reduction: str):
    per_sample = F.mean(F.reshape(per_element, (per_element.shape[0], -1)), axis=1)
    return F.mean(per_sample) if reduction == "mean" else F.sum(per_sample)


def as_output_dtype(y, t):
    """Targets of a value loss in the output's dtype: F.squared_error and F.absolute_error
    refuse integer targets ("Expect: x0.dtype == x1.dtype"), which Keras casts and torch
    promotes, so a chainer program casts them (tests/test_loss_edge_cases.py)."""
    return t if t.dtype == y.dtype else F.cast(t, y.dtype)


def elementwise(function, kind: str, detail: str):
    def build(spec, dtype):
        return (lambda y, t: reduce(function(y, as_output_dtype(y, t)), spec.reduction)), kind, detail
    return build


builders.register("mean_squared_error")(elementwise(F.squared_error, "native", "F.squared_error"))
builders.register("mean_absolute_error")(elementwise(F.absolute_error, "native", "F.absolute_error"))
# F.hinge is a one-vs-rest multi-class loss over integer labels: not this function.
builders.register("hinge")(elementwise(
    lambda y, t: F.relu(1 - t * y), "composite", "F.relu(1 - t y): F.hinge is one-vs-rest over integer labels"))
builders.register("squared_hinge")(elementwise(
    lambda y, t: F.relu(1 - t * y) ** 2, "composite", "F.relu(1 - t y)^2: chainer has no squared hinge"))


@builders.register("binary_crossentropy")
def binary_crossentropy(spec, dtype):
    if spec.from_logits:
        # F.sigmoid_cross_entropy needs int32 0/1 labels; soft targets need the formula instead.
        def logits(y, t):
            return F.relu(y) - y * t + F.log1p(F.exp(-F.absolute(y)))
        return (lambda y, t: reduce(logits(y, t), spec.reduction)), "composite", \
            "max(y,0) - y t + log1p(exp(-|y|)): F.sigmoid_cross_entropy takes only int labels"
    return (lambda y, t: reduce(-(t * F.log(y) + (1 - t) * F.log(1 - y)), spec.reduction)), "composite", \
        "-(t log p + (1-t) log(1-p)): chainer has no cross-entropy on probabilities"


def classes_second(x):
    """chainer's softmax_cross_entropy wants the class axis at 1; the canonical one is last."""
    return x if x.ndim == 2 else F.moveaxis(x, -1, 1)


@builders.register("categorical_crossentropy")
def categorical_crossentropy(spec, dtype):
    if spec.from_logits:
        return (lambda y, t: reduce(F.softmax_cross_entropy(
            classes_second(y), classes_second(t).array if hasattr(t, "array") else classes_second(t),
            reduce="no"), spec.reduction)), "native", \
            "F.softmax_cross_entropy with soft (probability) targets"
    return (lambda y, t: reduce(-F.sum(t * F.log(y), axis=-1), spec.reduction)), "composite", \
        "-(t * log p).sum(-1): chainer has no cross-entropy on probabilities"


@builders.register("sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(spec, dtype):
    def labels(y, t):
        return t.reshape(y.shape[:-1])

    # chainer's softmax_cross_entropy drops positions labelled -1 (its default ignore_label)
    # without a word; the case's labels hold no -1 unless the loss declares it
    # (harness/case/case.py), so the declared label is passed and the default never acts.
    ignore = spec.ignore_label if spec.ignore_label is not None else -1
    if spec.from_logits:
        return (lambda y, t: reduce(F.softmax_cross_entropy(classes_second(y), labels(y, t), reduce="no",
                                                            ignore_label=ignore),
                                    spec.reduction)), "native", \
            f"F.softmax_cross_entropy with class indices, ignore_label={ignore}"

    def from_probabilities(y, t):
        # select_item would index -1 from the end: ignored positions pick class 0, then count 0.
        flat_labels = labels(y, t).reshape(-1)
        kept = (flat_labels != spec.ignore_label).astype(y.dtype)
        flat = F.reshape(F.log(y), (-1, y.shape[-1]))
        picked = F.select_item(flat, flat_labels * (kept > 0)) * kept
        return -F.reshape(picked, y.shape[:-1])
    return (lambda y, t: reduce(from_probabilities(y, t), spec.reduction)), "composite", \
        "-F.select_item(log p, t): chainer has no cross-entropy on probabilities"
