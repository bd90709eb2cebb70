"""Transforms of activations, losses and optimizers: a parameter replaced by each framework's
default (read by harness/defaults from the frameworks, never written here), the other formula of
hard_sigmoid or gelu, the softmax along another axis, cross-entropy on logits vs probabilities,
Adam's epsilon placement and bias correction, RMSprop's and Adagrad's epsilon placement,
Nesterov momentum.

Each is registered under the activation name, loss type or optimizer type it applies to.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from harness.diagnosis.base import (SITE_ACTIVATION, SITE_LOSS, SITE_OPTIMIZER, Edit, Site, transform,
                                     variant_spec)
from harness.reference.defaults_catalogue import CONCEPTS


def _differs(value, current) -> bool:
    if isinstance(value, bool) or isinstance(current, bool) or not isinstance(value, (int, float)) \
            or not isinstance(current, (int, float)):
        return value != current
    return not math.isclose(value, current, rel_tol=1e-12, abs_tol=0.0)


def _activation_defaults(site: Site, edit: Edit, context, key: str, field: str) -> Iterator:
    current = getattr(getattr(edit.layers[site.layer], site.field), field)
    for value, source in context.framework_values(key):
        if not _differs(value, current):
            continue
        def apply(edit: Edit, value=value, site=site) -> None:
            edit.update_activation(site, **{field: value})
        yield f"{value!r} ({source})", apply


@transform("leaky_relu.negative_slope", family="default value", kind=SITE_ACTIVATION, tags="leaky_relu",
           description="the slope replaced by each framework's leaky_relu default",
           phrase="leaky_relu's negative slope is {choice}")
def leaky_slope(site, edit, context):
    yield from _activation_defaults(site, edit, context, "leaky_relu.negative_slope", "negative_slope")


@transform("elu.alpha", family="default value", kind=SITE_ACTIVATION, tags="elu",
           description="alpha replaced by each framework's elu default", phrase="elu's alpha is {choice}")
def elu_alpha(site, edit, context):
    yield from _activation_defaults(site, edit, context, "elu.alpha", "alpha")


@transform("hard_sigmoid.slope", family="formula", kind=SITE_ACTIVATION, tags="hard_sigmoid",
           description="the other hard_sigmoid formula: each framework's slope (1/6 vs 0.2)",
           phrase="hard_sigmoid's slope is {choice}")
def hard_sigmoid_slope(site, edit, context):
    yield from _activation_defaults(site, edit, context, "hard_sigmoid.slope", "slope")


@transform("gelu.approximate", family="formula", kind=SITE_ACTIVATION, tags="gelu",
           description="the other gelu formula (exact erf vs the tanh approximation)",
           phrase="gelu is {choice}")
def gelu_form(site, edit, context):
    current = getattr(edit.layers[site.layer], site.field).approximate
    other = "tanh" if current == "none" else "none"
    def apply(edit: Edit, site=site) -> None:
        edit.update_activation(site, approximate=other)
    yield "the tanh approximation" if other == "tanh" else "exact (erf)", apply


@transform("softmax.axis", family="axis", kind=SITE_ACTIVATION, tags="softmax",
           description="the softmax taken along another axis", phrase="the softmax is taken {choice}")
def softmax_axis(site, edit, context):
    spec = edit.layers[site.layer]
    original = edit.original.graph
    rank = spec.activation_rank(original.shapes[site.layer] if site.layer in original.shapes
                                else original.node(site.layer).output_shape)
    axis = getattr(spec, site.field).axis % rank
    for other in range(rank):  # axis 0 too: torch's implicit dim for a 3-D input is the batch axis
        if other == axis:
            continue
        def apply(edit: Edit, site=site, other=other) -> None:
            edit.update_activation(site, axis=other)
        yield f"along axis {other} instead of {axis}", apply


@transform("crossentropy.from_logits", family="formula", kind=SITE_LOSS,
           tags=("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"),
           description="the output read as logits instead of probabilities, or the other way",
           phrase="the cross-entropy reads the output as {choice}")
def from_logits(site, edit, context):
    current = edit.losses[site.index].from_logits
    def apply(edit: Edit, index=site.index) -> None:
        edit.losses[index] = edit.losses[index].model_copy(update={"from_logits": not current})
    yield "probabilities (from_logits false)" if current else "logits (from_logits true)", apply


def _optimizer_defaults(site: Site, edit: Edit, context, key: str, field: str) -> Iterator:
    current = getattr(edit.optimizer, field)
    for value, source in context.framework_values(key):
        if not _differs(value, current):
            continue
        def apply(edit: Edit, value=value) -> None:
            edit.optimizer = edit.optimizer.model_copy(update={field: value})
        yield f"{value!r} ({source})", apply


def _flip(site: Site, edit: Edit, field: str, values: tuple[str, str]) -> Iterator:
    current = getattr(edit.optimizer, field)
    other = values[1] if current == values[0] else values[0]
    def apply(edit: Edit) -> None:
        edit.optimizer = edit.optimizer.model_copy(update={field: other})
    yield other.replace("_", " "), apply


@transform("adam.epsilon", family="default value", kind=SITE_OPTIMIZER, tags="adam",
           description="epsilon replaced by each framework's Adam default", phrase="Adam's epsilon is {choice}")
def adam_epsilon(site, edit, context):
    yield from _optimizer_defaults(site, edit, context, "adam.epsilon", "epsilon")


def _register_optimizer_defaults() -> None:
    """A default-value transform for each optimizer hyper-parameter the defaults audit reads
    (harness/reference/defaults_catalogue.py) beyond those above: learning rates, momentum, rho, betas,
    the initial accumulator, epsilons."""
    for concept in CONCEPTS:
        tag, _, field = concept.key.partition(".")
        if concept.group != "optimizer" or field == "epsilon_placement" \
                or concept.key in ("adam.epsilon", "rmsprop.epsilon"):
            continue

        def variants(site, edit, context, key=concept.key, field=field):
            yield from _optimizer_defaults(site, edit, context, key, field)
        transform(concept.key, family="default value", kind=SITE_OPTIMIZER, tags=tag,
                  description=f"{field} replaced by each framework's {tag} default",
                  phrase=f"{tag}'s {field} is {{choice}}")(variants)


_register_optimizer_defaults()


@transform("adam.epsilon_placement", family="formula", kind=SITE_OPTIMIZER, tags="adam",
           description="epsilon added before vs after the bias correction",
           phrase="Adam's epsilon is added {choice}")
def adam_placement(site, edit, context):
    if edit.optimizer.epsilon == 0:
        return
    yield from _flip(site, edit, "epsilon_placement", ("before_bias_correction", "after_bias_correction"))


def _adam_without_bias_correction(self, theta, g, state, t):
    """Adam's update with no bias correction: theta - eta m / (sqrt(v) + epsilon)."""
    m = self.beta_1 * state["m"] + (1 - self.beta_1) * g
    v = self.beta_2 * state["v"] + (1 - self.beta_2) * g * g
    state["m"], state["v"] = m, v
    if self.amsgrad:
        v = state["v_hat"] = np.maximum(state["v_hat"], v)
    return theta - self.learning_rate * m / (np.sqrt(v) + self.epsilon)


@transform("adam.bias_correction", family="formula", kind=SITE_OPTIMIZER, tags="adam",
           description="Adam without bias correction", phrase="Adam {choice}")
def adam_bias_correction(site, edit, context):
    def apply(edit: Edit) -> None:
        edit.optimizer = variant_spec(edit.optimizer, "no_bias_correction", update=_adam_without_bias_correction)
    yield "has no bias correction", apply


@transform("rmsprop.epsilon_placement", family="formula", kind=SITE_OPTIMIZER, tags=("rmsprop", "adagrad"),
           description="epsilon inside vs outside the square root", phrase="the epsilon is {choice}")
def root_placement(site, edit, context):
    if edit.optimizer.epsilon == 0:
        return
    yield from _flip(site, edit, "epsilon_placement", ("inside_sqrt", "outside_sqrt"))


@transform("rmsprop.epsilon", family="default value", kind=SITE_OPTIMIZER, tags="rmsprop",
           description="epsilon replaced by each framework's RMSprop default", phrase="RMSprop's epsilon is {choice}")
def rmsprop_epsilon(site, edit, context):
    yield from _optimizer_defaults(site, edit, context, "rmsprop.epsilon", "epsilon")


@transform("sgd.nesterov", family="formula", kind=SITE_OPTIMIZER, tags="sgd",
           description="Nesterov momentum switched on or off", phrase="SGD {choice}")
def sgd_nesterov(site, edit, context):
    if not edit.optimizer.momentum:
        return
    nesterov = edit.optimizer.nesterov
    def apply(edit: Edit) -> None:
        edit.optimizer = edit.optimizer.model_copy(update={"nesterov": not nesterov})
    yield "without Nesterov momentum" if nesterov else "with Nesterov momentum", apply
