"""Harness bugs found by generated cases (python -m harness campaign), each with its minimal case.

Each test runs the shrunk case the campaign found, in the framework that crashed, and checks
it against the float64 reference: the harness must now compute what the case says.
"""

from __future__ import annotations

import pytest

from harness.backends import get_backend
from harness.weights import cases_from_data
from harness.checks.runner import PASS, CaseRunner


def require(framework: str) -> None:
    reason = get_backend(framework).unavailable_reason()
    if reason:
        pytest.skip(reason)


def minimal_case(**overrides):
    data = {
        "name": "discovered", "dtype": "float32", "samples": 1, "data_seed": 850,
        "inputs": {"x": {"shape": [1, 2, 2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        "targets": {"t": {"shape": [1, 2], "data": {"integers": {"low": 0, "high": 2}}}},
        "model": {"sequential": [{"type": "Activation", "activation": {"name": "softmax"}}]},
        "loss": {"type": "sparse_categorical_crossentropy", "reduction": "sum", "from_logits": False},
    }
    data.update(overrides)
    (case,) = cases_from_data(data)
    return case


def test_torch_sparse_crossentropy_on_probabilities_over_a_feature_map():
    """gen_7_00032 shrunk: F.nll_loss's backward refused the (N, C, H, W) view that moving the
    class axis makes of a rank-4 output ("grad_input must be contiguous")."""
    require("torch")
    runner = CaseRunner(minimal_case())
    for check in ("forward", "gradients"):
        result = runner.check("torch", check)
        assert result.verdict == PASS, result.message


@pytest.mark.parametrize("framework", ["torch", "keras", "chainer"])
def test_training_a_model_without_trainable_parameters(framework):
    """gen_7_00001 shrunk: a training case whose model has no trainable parameter (an
    Activation); torch.optim refused the empty parameter list, so the training check errored.
    The loss of each step must still agree with the reference."""
    require(framework)
    case = minimal_case(
        model={"sequential": [{"type": "Activation", "activation": {"name": "sigmoid"}}]},
        targets={"t": {"shape": [1, 2, 2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        loss={"type": "mean_squared_error", "reduction": "mean"},
        checks=["forward", "training"],
        optimizer={"type": "rmsprop", "learning_rate": 0.001953125, "rho": 0.99609375, "epsilon": 0.0,
                   "epsilon_placement": "outside_sqrt", "momentum": 0.5, "centered": True},
        training={"steps": 2, "batch_size": 1})
    result = CaseRunner(case).check(framework, "training")
    assert result.verdict == PASS, result.message
    assert [t.tensor for t in result.tensors] == ["loss@step1", "loss@step2"]


def test_torch_training_a_model_whose_parameters_do_not_reach_the_loss():
    """gen_7_00290's kind: a graph whose only trainable layer feeds no output. A training step's
    inputs need no gradient, so the loss needs none either, and torch.autograd.grad raised
    "element 0 of tensors does not require grad"; the parameters' gradients are zero and the
    step leaves them as they are, as in the reference."""
    require("torch")
    case = minimal_case(
        model={"nodes": [{"type": "Dense", "name": "unused", "units": 2, "inputs": ["x"]},
                         {"type": "Activation", "name": "out", "activation": {"name": "tanh"}, "inputs": ["x"]}],
               "outputs": ["out"]},
        targets={"t": {"shape": [1, 2, 2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        loss={"type": "mean_squared_error", "reduction": "mean"},
        checks=["gradients", "training"],
        optimizer={"type": "sgd", "learning_rate": 0.5, "momentum": 0.0},
        training={"steps": 1, "batch_size": 1})
    runner = CaseRunner(case)
    for check in ("gradients", "training"):
        result = runner.check("torch", check)
        assert result.verdict == PASS, result.message


def test_chainer_average_pooling_before_a_global_average():
    """gen_0_00791's kind: AveragePooling1D followed by GlobalAveragePooling1D. chainer's
    F.average_pooling_nd backward divides its incoming gradient in place, and F.average's
    backward hands it a read-only broadcast view: "output array is read-only". The adapter gives
    the pooling a private gradient; gradients must now agree with the reference."""
    require("chainer")
    case = minimal_case(
        model={"sequential": [{"type": "AveragePooling1D", "pool_size": 1, "padding": "valid",
                               "data_format": "channels_last"},
                              {"type": "GlobalAveragePooling1D", "data_format": "channels_last"}]},
        inputs={"x": {"shape": [3, 2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        targets={"t": {"shape": [2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        loss={"type": "mean_squared_error", "reduction": "sum"},
        checks=["forward", "gradients"])
    result = CaseRunner(case).check("chainer", "gradients")
    assert result.verdict == PASS, result.message


def test_keras_composite_optimizer_on_an_embedding():
    """gen_0_01552 shrunk: an Embedding trained by RMSprop with epsilon outside the square root
    (the Keras adapter's composite update, written in keras.ops). TensorFlow hands a lookup's
    gradient over as tf.IndexedSlices, which `float * IndexedSlices` refused."""
    require("keras")
    case = minimal_case(
        inputs={"x": {"shape": [2], "data": {"integers": {"low": 0, "high": 3}}}},
        targets={"t": {"shape": [2, 2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        model={"sequential": [{"type": "Embedding", "input_dim": 3, "output_dim": 2}]},
        loss={"type": "mean_squared_error", "reduction": "mean"},
        checks=["training"],
        optimizer={"type": "rmsprop", "learning_rate": 0.0625, "rho": 0.75, "epsilon": 0.0009765625,
                   "epsilon_placement": "outside_sqrt", "momentum": 0.5},
        training={"steps": 2, "batch_size": 1},
        samples=2)
    result = CaseRunner(case).check("keras", "training")
    assert result.verdict == PASS, result.message


def test_keras_strided_dilated_convolution_on_an_input_shorter_than_its_kernel():
    """gen_0_01017's kind: Conv1D with strides 2, dilation 2 and 'same' padding on a sequence
    of one step. The Keras adapter runs it at stride 1 on the padded input (Keras refuses
    strides > 1 with dilation > 1), but built the layer for the unpadded input, which Keras
    rejected as "Computed output size would be zero or negative"."""
    require("keras")
    case = minimal_case(
        inputs={"x": {"shape": [1, 2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        targets={"t": {"shape": [1, 3], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        model={"sequential": [{"type": "Conv1D", "filters": 3, "kernel_size": 2, "strides": 2,
                               "dilation_rate": 2, "padding": "same", "data_format": "channels_last"}]},
        loss={"type": "mean_squared_error", "reduction": "mean"},
        checks=["forward", "gradients"])
    runner = CaseRunner(case)
    for check in ("forward", "gradients"):
        result = runner.check("keras", check)
        assert result.verdict == PASS, result.message


def test_keras_sparse_crossentropy_with_one_class_over_a_sequence():
    """gen_0_00802 shrunk: sparse categorical crossentropy on logits with one class over a
    sequence output. Keras' loss wrapper squeezed the class axis of size 1 off the output and
    then refused it ("Argument `output` must have rank (ndim) `target.ndim - 1`")."""
    require("keras")
    case = minimal_case(
        inputs={"x": {"shape": [2, 1], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
        targets={"t": {"shape": [2], "data": {"integers": {"low": 0, "high": 1}}}},
        model={"sequential": [{"type": "Dense", "units": 1}]},
        loss={"type": "sparse_categorical_crossentropy", "reduction": "mean", "from_logits": True})
    runner = CaseRunner(case)
    for check in ("forward", "gradients"):
        result = runner.check("keras", check)
        assert result.verdict == PASS, result.message


def test_keras_crossentropy_from_logits_takes_the_logits_a_softmax_cached():
    """The framework fact behind cases/discovered_keras_cached_logits.yaml, against a hand
    computation: Keras' from_logits=True crossentropy of softmax(z) is the loss of z, not of
    softmax(z); through tf.identity (what the adapter does) it is the loss of softmax(z). (The
    loss's dtype is the tensor's, as in the adapter: a cast would make a new tensor without the
    cache.)"""
    require("keras")
    import numpy as np
    from harness.backends.keras._import import keras, tf

    z = np.array([[0.5, -1.0, 2.0]])
    t = np.array([[0.0, 1.0, 0.0]])
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)

    def by_hand(logits):
        return float(-(t * (logits - np.log(np.exp(logits).sum(-1, keepdims=True)))).sum())

    loss = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")
    output = keras.activations.softmax(tf.constant(z))
    assert np.isclose(float(loss(t, output)), by_hand(z), rtol=1e-12)
    assert np.isclose(float(loss(t, tf.identity(output))), by_hand(p), rtol=1e-12)
    assert not np.isclose(by_hand(z), by_hand(p), rtol=1e-3)


def test_keras_probability_crossentropy_of_a_cached_sigmoid_is_not_clipped():
    """The correction of issue 27: with from_logits=False the cache changes more than rounding.
    By hand, -log sigmoid(z) = log(1 + exp(-z)) = -z + log1p(exp(z)): 30 and 110 for z = -30,
    -110 and target 1. Keras gives exactly that from the sigmoid's own output, and -log(1e-7)
    = 16.118 (its clip) for the same probabilities through tf.identity."""
    require("keras")
    import numpy as np
    from harness.backends.keras._import import keras, tf

    z = np.array([[-30.0], [-110.0]])
    t = np.ones_like(z)
    by_hand = -z[:, 0] + np.log1p(np.exp(z[:, 0]))
    loss = keras.losses.BinaryCrossentropy(reduction=None, dtype="float64")
    output = keras.activations.sigmoid(tf.constant(z))
    np.testing.assert_allclose(loss(t, output).numpy(), by_hand, rtol=1e-12)
    np.testing.assert_allclose(loss(t, tf.identity(output)).numpy(), [-np.log(1e-7)] * 2, rtol=1e-12)
    assert np.allclose(by_hand, [30.0, 110.0]) and round(-np.log(1e-7), 3) == 16.118


def test_keras_adam_on_repeated_indices_squares_each_slice():
    """The framework fact behind cases/discovered_keras_sparse_embedding_updates.yaml, by hand:
    Adam's first step moves a parameter by learning_rate * g / |g| = learning_rate whatever g
    is. Two slices of gradient 1 for one row (an index met twice) make g = 2, so the step is
    0.25; Keras accumulates the slices (m = 2 (1 - beta_1), v = 2 (1 - beta_2) instead of
    4 (1 - beta_2)) and moves it by 0.25 * 2 / sqrt(2) = 0.354."""
    require("keras")
    import numpy as np
    from harness.backends.keras._import import keras, tf

    def step(gradient):
        variable = keras.Variable(np.zeros((3, 1), np.float32))
        keras.optimizers.Adam(learning_rate=0.25, epsilon=0.0).apply([gradient], [variable])
        return variable.numpy()[2, 0]

    slices = tf.IndexedSlices(tf.constant([[1.0], [1.0]]), tf.constant([2, 2]), tf.constant([3, 1]))
    # rtol 1e-5: the float32 step, measured 0.2499983 (bias corrections and sqrt in float32).
    assert np.isclose(step(tf.convert_to_tensor(slices)), -0.25, rtol=1e-5)
    assert np.isclose(step(slices), -0.25 * np.sqrt(2), rtol=1e-5)
