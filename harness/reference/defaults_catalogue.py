"""The hyper-parameters the defaults audit covers: one row each, in the table's order.

A key is `<spec tag>.<field>`: the case-file spec (layer type, activation name, optimizer type)
and the field a case may write as `{framework_default: ...}`. Keys for layers and optimizers
that other branches are adding use Keras' names (the canonical ones): `BatchNormalization`,
`LSTM`, `Adam`, and fields `epsilon`, `momentum`, `learning_rate`. Every adapter registers a
reader for every key here (tests/test_defaults.py checks it); the readers, not this file, say
what the defaults are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    key: str
    group: str
    """activation, layer or optimizer."""
    title: str
    effective: str
    """What the `effective` value means: the harness's convention for this field."""


CONCEPTS: tuple[Concept, ...] = (
    Concept("leaky_relu.negative_slope", "activation", "leaky_relu function: slope for x < 0",
            "f(x) = slope x for x < 0"),
    Concept("LeakyReLU.negative_slope", "layer", "LeakyReLU layer: slope for x < 0",
            "f(x) = slope x for x < 0"),
    Concept("hard_sigmoid.slope", "activation", "hard_sigmoid: formula (slope)",
            "f(x) = clip(slope x + 1/2, 0, 1)"),
    Concept("gelu.approximate", "activation", "gelu: approximation",
            "'none': x Phi(x) with erf; 'tanh': the tanh approximation"),
    Concept("softmax.axis", "activation", "softmax: axis (3-D input)",
            "the axis the outputs sum to 1 along, for a (batch, steps, features) input"),
    Concept("elu.alpha", "activation", "elu: alpha", "f(x) = alpha (exp(x) - 1) for x < 0"),
    Concept("BatchNormalization.epsilon", "layer", "BatchNormalization: epsilon",
            "y = (x - mean) / sqrt(var + epsilon)"),
    Concept("BatchNormalization.momentum", "layer", "BatchNormalization: momentum",
            "share of the running statistic kept at each update (Keras' momentum)"),
    Concept("BatchNormalization.moving_variance", "layer", "BatchNormalization: moving variance",
            "which batch variance updates the moving variance: biased (divides by n) or unbiased"),
    Concept("LayerNormalization.epsilon", "layer", "LayerNormalization: epsilon",
            "y = (x - mean) / sqrt(var + epsilon)"),
    Concept("LSTM.activation", "layer", "LSTM: activation", "cell input and output activation"),
    Concept("LSTM.recurrent_activation", "layer", "LSTM: recurrent activation", "gate activation"),
    Concept("GRU.activation", "layer", "GRU: activation", "candidate activation"),
    Concept("GRU.recurrent_activation", "layer", "GRU: recurrent activation", "gate activation"),
    Concept("GRU.reset_after", "layer", "GRU: reset_after",
            "True: r * (h U + b_rec) (Keras 3, cuDNN); False: (r * h) U"),
    Concept("GRU.update_gate", "layer", "GRU: update gate convention",
            "h' = z h + (1 - z) candidate (Keras, torch)"),
    Concept("sgd.learning_rate", "optimizer", "SGD: learning rate", "eta"),
    Concept("sgd.momentum", "optimizer", "SGD: momentum", "v <- mu v - eta g; theta <- theta + v"),
    Concept("adam.learning_rate", "optimizer", "Adam: learning rate", "eta"),
    Concept("adam.beta_1", "optimizer", "Adam: beta_1", "first-moment decay"),
    Concept("adam.beta_2", "optimizer", "Adam: beta_2", "second-moment decay"),
    Concept("adam.epsilon", "optimizer", "Adam: epsilon", "see epsilon_placement"),
    Concept("adam.epsilon_placement", "optimizer", "Adam: epsilon placement",
            "before_bias_correction: m / (sqrt(v) + eps), step eta sqrt(1 - b2^t) / (1 - b1^t) (epsilon-hat); "
            "after_bias_correction: m_hat / (sqrt(v_hat) + eps)"),
    Concept("rmsprop.learning_rate", "optimizer", "RMSprop: learning rate", "eta"),
    Concept("rmsprop.rho", "optimizer", "RMSprop: rho (decay of the mean square)",
            "s <- rho s + (1 - rho) g^2 (torch's and chainer's alpha)"),
    Concept("rmsprop.epsilon", "optimizer", "RMSprop: epsilon", "see epsilon_placement"),
    Concept("rmsprop.epsilon_placement", "optimizer", "RMSprop: epsilon placement",
            "inside_sqrt: g / sqrt(s + eps); outside_sqrt: g / (sqrt(s) + eps)"),
    Concept("rmsprop.momentum", "optimizer", "RMSprop: momentum", "mu; 0 for none"),
    Concept("adagrad.learning_rate", "optimizer", "Adagrad: learning rate", "eta"),
    Concept("adagrad.epsilon", "optimizer", "Adagrad: epsilon", "see epsilon_placement"),
    Concept("adagrad.epsilon_placement", "optimizer", "Adagrad: epsilon placement",
            "inside_sqrt: g / sqrt(s + eps); outside_sqrt: g / (sqrt(s) + eps)"),
    Concept("adagrad.initial_accumulator_value", "optimizer", "Adagrad: initial accumulator",
            "s before the first step"),
)

CONCEPTS_BY_KEY = {concept.key: concept for concept in CONCEPTS}
