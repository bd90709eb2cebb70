"""Example configurations of every layer, activation and loss.

They drive the unit tests (finite differences for the reference, conversion round trips and
single-layer equivalence for every adapter) and `python -m harness support`, which runs them
through every adapter to build the README's support table. Each registered layer type,
activation and loss must appear here: tests/test_coverage.py fails otherwise.

A layer example is a config (without `type`), the input shapes (without batch), and optionally
how to draw the inputs (integer indices for Embedding, positive values, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from harness.case import Case


@dataclass
class LayerExample:
    type: str
    config: dict[str, Any]
    input_shapes: list[tuple[int, ...]]
    training: bool = False
    make_inputs: Callable[[np.random.Generator, list[tuple[int, ...]], int], list[np.ndarray]] | None = None
    batch: int = 3
    make_parameters: Callable[[np.random.Generator, str, tuple[int, ...]], np.ndarray] | None = None
    """Draws a parameter (name without layer prefix); default 0.5 * N(0, 1). Positive
    variances and the like need their own."""
    id: str = ""

    def __post_init__(self):
        if not self.id:
            settings = ",".join(f"{k}={v}" for k, v in self.config.items() if k != "name")
            self.id = f"{self.type}({settings})" + "x".join(str(list(s)) for s in self.input_shapes)

    def parameter(self, rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if self.make_parameters is not None:
            return self.make_parameters(rng, name, shape)
        return 0.5 * rng.normal(size=shape)

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        if self.make_inputs is not None:
            return self.make_inputs(rng, self.input_shapes, self.batch)
        return [rng.normal(size=(self.batch, *shape)) for shape in self.input_shapes]


ACTIVATION_EXAMPLES: list[dict[str, Any]] = [
    {"name": "linear"},
    {"name": "relu"},
    {"name": "leaky_relu", "negative_slope": 0.2},
    {"name": "leaky_relu", "negative_slope": 0.01},
    {"name": "tanh"},
    {"name": "sigmoid"},
    {"name": "hard_sigmoid", "slope": 1 / 6},
    {"name": "hard_sigmoid", "slope": 0.2},
    {"name": "softmax"},
    {"name": "softmax", "axis": 1},
    {"name": "elu", "alpha": 1.0},
    {"name": "elu", "alpha": 0.5},
    {"name": "selu"},
    {"name": "softplus"},
    {"name": "softplus", "beta": 2.0},
    {"name": "softsign"},
    {"name": "gelu", "approximate": "none"},
    {"name": "gelu", "approximate": "tanh"},
    {"name": "swish"},
    {"name": "silu"},
    {"name": "swish", "beta": 1.5},
]


def _activation_examples() -> list[LayerExample]:
    examples = []
    for activation in ACTIVATION_EXAMPLES:
        # Three inputs wide so softmax over axis 1 and -1 differ; scaled so hard_sigmoid and
        # the relu family see both sides of their kinks.
        examples.append(LayerExample("Activation", {"activation": activation}, [(2, 4)],
                                     make_inputs=lambda rng, shapes, batch: [
                                         3 * rng.normal(size=(batch, *shapes[0]))]))
    return examples


_HARD_SIGMOID_KERAS = {"name": "hard_sigmoid", "slope": 1 / 6}
_HARD_SIGMOID_CHAINER = {"name": "hard_sigmoid", "slope": 0.2}

RECURRENT_EXAMPLES: list[LayerExample] = [
    # Sequences of 4 steps (3 where the output is every step) over 3 features, 4-5 units: long
    # enough that every gradient flows through the recurrence, small enough for finite differences.
    LayerExample("LSTM", {"units": 4}, [(4, 3)]),
    LayerExample("LSTM", {"units": 3, "return_sequences": True}, [(3, 2)]),
    LayerExample("LSTM", {"units": 4, "activation": "sigmoid", "recurrent_activation": "sigmoid"}, [(3, 5)]),
    LayerExample("LSTM", {"units": 3, "activation": "softsign", "recurrent_activation": _HARD_SIGMOID_CHAINER,
                          "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 4, "reset_after": True}, [(4, 3)]),
    LayerExample("GRU", {"units": 4, "reset_after": False}, [(4, 3)]),
    LayerExample("GRU", {"units": 3, "reset_after": True, "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": False, "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": True, "activation": "softsign",
                         "recurrent_activation": _HARD_SIGMOID_KERAS}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": False, "activation": "relu",
                         "recurrent_activation": _HARD_SIGMOID_CHAINER}, [(3, 2)]),
    LayerExample("SimpleRNN", {"units": 4}, [(4, 3)]),
    LayerExample("SimpleRNN", {"units": 3, "activation": "relu", "return_sequences": True}, [(3, 2)]),
    LayerExample("SimpleRNN", {"units": 3, "activation": "sigmoid"}, [(3, 2)]),
]
"""Recurrent layers in every formulation and with activations that the native torch and chainer
cells cannot take (their adapters build those from primitives)."""

LAYER_EXAMPLES: list[LayerExample] = [
    LayerExample("Dense", {"units": 3, "activation": "tanh"}, [(4,)]),
    LayerExample("Dense", {"units": 2, "use_bias": False}, [(5,)]),
    LayerExample("Dense", {"units": 3, "activation": {"name": "leaky_relu", "negative_slope": 0.2}}, [(2, 4)]),
    *_activation_examples(),
    LayerExample("Flatten", {}, [(2, 3)]),
    LayerExample("Flatten", {}, [(2, 3, 2)]),
    LayerExample("Add", {}, [(4,), (4,)]),
    LayerExample("Add", {}, [(2, 3), (2, 3), (2, 3)]),
    LayerExample("Multiply", {}, [(4,), (4,)]),
    LayerExample("Multiply", {}, [(3,), (3,), (3,)]),
    LayerExample("Concatenate", {}, [(2,), (3,)]),
    LayerExample("Concatenate", {"axis": 1}, [(2, 3), (1, 3)]),
    *RECURRENT_EXAMPLES,
]
"""Every layer type but Reuse (a graph construct, tested in test_graph.py)."""


@dataclass
class LossExample:
    config: dict[str, Any]
    output_shape: tuple[int, ...]
    make_outputs: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
    make_targets: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
    id: str = field(default="")

    def __post_init__(self):
        if not self.id:
            settings = ",".join(f"{k}={v}" for k, v in self.config.items())
            self.id = f"{settings}{list(self.output_shape)}"


def _normal(rng, shape):
    return rng.normal(size=shape)


def _probabilities(rng, shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _softmax_rows(rng, shape):
    e = np.exp(rng.normal(size=shape))
    return e / e.sum(axis=-1, keepdims=True)


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def _one_hot(rng, shape):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]


def _soft_targets(rng, shape):
    return _softmax_rows(rng, shape)


def _labels(rng, shape):
    return rng.integers(0, shape[-1], size=shape[:-1])


LOSS_EXAMPLES: list[LossExample] = [
    LossExample({"type": "mean_squared_error", "reduction": "mean"}, (4, 3), _normal, _normal),
    LossExample({"type": "mean_squared_error", "reduction": "sum"}, (4, 2, 3), _normal, _normal),
    LossExample({"type": "mean_absolute_error", "reduction": "mean"}, (4, 3), _normal, _normal),
    LossExample({"type": "mean_absolute_error", "reduction": "sum"}, (4, 3), _normal, _normal),
    LossExample({"type": "hinge", "reduction": "mean"}, (6, 2), _normal, _signs),
    LossExample({"type": "hinge", "reduction": "sum"}, (6, 1), _normal, _signs),
    LossExample({"type": "squared_hinge", "reduction": "mean"}, (6, 2), _normal, _signs),
    LossExample({"type": "binary_crossentropy", "from_logits": False, "reduction": "mean"}, (5, 3),
                _probabilities, _probabilities),
    LossExample({"type": "binary_crossentropy", "from_logits": True, "reduction": "sum"}, (5, 3),
                _normal, _probabilities),
    LossExample({"type": "binary_crossentropy", "from_logits": True, "reduction": "mean"}, (5, 2),
                _normal, lambda rng, shape: rng.integers(0, 2, size=shape).astype(float)),
    LossExample({"type": "categorical_crossentropy", "from_logits": False, "reduction": "mean"}, (5, 4),
                _softmax_rows, _one_hot),
    LossExample({"type": "categorical_crossentropy", "from_logits": True, "reduction": "mean"}, (5, 4),
                _normal, _soft_targets),
    LossExample({"type": "categorical_crossentropy", "from_logits": True, "reduction": "sum"}, (3, 2, 4),
                _normal, _one_hot),
    LossExample({"type": "sparse_categorical_crossentropy", "from_logits": False, "reduction": "mean"},
                (5, 4), _softmax_rows, _labels),
    LossExample({"type": "sparse_categorical_crossentropy", "from_logits": True, "reduction": "sum"},
                (5, 4), _normal, _labels),
    LossExample({"type": "sparse_categorical_crossentropy", "from_logits": True, "reduction": "mean"},
                (3, 2, 4), _normal, _labels),
]


def single_layer_case(example, *, dtype: str = "float64", seed: int = 0) -> "Case":
    """A case whose model is one layer applied to the example's inputs, with a sum-of-squares
    loss against a random target, so every output element has a gradient."""
    from harness.case import cases_from_data
    from harness.layers import LAYERS

    rng = np.random.default_rng(seed)
    inputs = example.inputs(rng)
    names = [f"in{i}" for i in range(len(inputs))]
    spec = LAYERS[example.type].model_validate({"type": example.type, **example.config})
    shapes = [tuple(array.shape[1:]) for array in inputs]
    output_shape = (len(inputs[0]), *spec.output_shape(shapes))
    data: dict[str, Any] = {
        "name": "single_layer",
        "dtype": dtype,
        "mode": "training" if example.training else "inference",
        "inputs": {name: {"data": {"values": array.tolist()},
                          **({"dtype": "int64"} if array.dtype.kind in "iu" else {})}
                   for name, array in zip(names, inputs)},
        "targets": {"t": {"data": {"values": rng.normal(size=output_shape).tolist()}}},
        "model": {"nodes": [{"type": example.type, "name": "layer", **example.config, "inputs": names}]},
        "weights": {"seed": seed, "parameters": {
            f"layer/{name}": {"values": np.asarray(example.parameter(rng, name, shape)).tolist()}
            for name, shape in spec.parameter_shapes(shapes).items()}},
        "loss": {"type": "mean_squared_error", "reduction": "sum"},
    }
    (case,) = cases_from_data(data, file=f"<{example.id}>")
    return case


def single_loss_case(example, seed: int = 0) -> "Case":
    from harness.case import cases_from_data

    rng = np.random.default_rng(seed)
    y = example.make_outputs(rng, example.output_shape)
    t = example.make_targets(rng, example.output_shape)
    # The "model" is an identity Activation, so the loss sees exactly y and d loss / d input is
    # d loss / d y.
    data = {
        "name": "single_loss", "dtype": "float64",
        "inputs": {"y": {"data": {"values": y.tolist()}}},
        "targets": {"t": {"data": {"values": t.tolist()},
                          **({"dtype": "int64"} if t.dtype.kind in "iu" else {})}},
        "model": {"sequential": [{"type": "Activation", "name": "identity", "activation": "linear"}]},
        "loss": example.config,
    }
    (case,) = cases_from_data(data, file=f"<{example.id}>")
    return case
