"""The in-memory Keras import (harness/backends/keras/live_import.py, reached through
harness.weights.importing.import_keras_object): subclassed layers expanded through their `call`,
weights read from the layer objects, and a precise refusal of what it cannot expand. The keras.io
Transformer classifier itself is in the opt-in group (tests/test_sequence_models.py)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.weights import load_cases_from_file
from tests.conftest import backend_or_skip


@pytest.fixture
def keras():
    backend_or_skip("keras")
    from harness.backends.keras._import import keras  # lazy: keras may be absent

    keras.utils.set_random_seed(0)
    return keras


def block_model(keras, body):
    """Input (5, 8) -> a subclassed layer whose call is `body(self, x)` -> Dense(2)."""
    layers = keras.layers

    class Block(layers.Layer):  # no **kwargs, no registration: as keras.io's examples write them
        def __init__(self):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=2, key_dim=4)
            self.norm = layers.LayerNormalization(epsilon=1e-6)
            self.table = layers.Embedding(input_dim=7, output_dim=8)

        def call(self, x):
            return body(self, x)

    inputs = layers.Input(shape=(5, 8))
    return keras.Model(inputs, layers.Dense(2)(Block()(inputs)))


def test_a_subclassed_block_expands_into_its_layers_and_agrees(keras, tmp_path):
    """norm(x + att(x, x)), then the same norm again: the second use is a Reuse node; the case's
    reference computes what the Keras model computes, on the weights read from the objects."""
    from harness.weights.importing import import_keras_object

    model = block_model(keras, lambda self, x: self.norm(self.norm(x + self.att(x, x))))
    result = import_keras_object(model, tmp_path / "block.yaml")
    assert not result.problems and result.ok, result
    assert max(result.differences.values()) < 1e-5
    (case,) = load_cases_from_file(tmp_path / "block.yaml")
    types = [case.graph.layers[node.layer].type for node in case.graph.nodes]
    assert types == ["MultiHeadAttention", "Add", "LayerNormalization", "LayerNormalization", "Dense"]
    assert [node.layer for node in case.graph.nodes][2] == [node.layer for node in case.graph.nodes][3]
    assert (tmp_path / "block.npz").is_file()


def test_an_op_other_than_plus_is_refused_naming_it(keras, tmp_path):
    from harness.weights.importing import import_keras_object

    model = block_model(keras, lambda self, x: self.norm(x * 2.0))
    result = import_keras_object(model, tmp_path / "block.yaml")
    (problem,) = result.problems
    assert problem.type == "Multiply" and "translates the ops `+` only" in problem.reason, problem
    assert "inside block" in problem.reason, problem  # the subclassed layer it sits in
    assert not (tmp_path / "block.yaml").exists()


def test_a_constant_that_is_no_embedding_table_is_refused(keras, tmp_path):
    """x + a constant (5, 8) that no Embedding of the layer holds: refused; the Embedding's own
    rows over arange(5) are a PositionEmbedding."""
    from harness.weights.importing import import_keras_object

    model = block_model(keras, lambda self, x: x + keras.ops.ones((5, 8)))
    result = import_keras_object(model, tmp_path / "bad.yaml")
    (problem,) = result.problems
    assert "not the first rows of an Embedding" in problem.reason and "(5, 8)" in problem.reason, problem

    model = block_model(keras, lambda self, x: x + self.table(keras.ops.arange(0, 5)))
    result = import_keras_object(model, tmp_path / "good.yaml")
    assert not result.problems and result.ok, result
    (case,) = load_cases_from_file(tmp_path / "good.yaml")
    (position,) = [spec for spec in case.graph.layers.values() if spec.type == "PositionEmbedding"]
    assert position.sequence_length == 7
    weights = np.load(tmp_path / "good.npz")
    table = [key for key in weights.files if key.endswith("/embeddings")]
    assert len(table) == 1 and weights[table[0]].shape == (7, 8)


def test_the_command_line_imports_a_builder_function(keras, tmp_path, capsys):
    """`python -m harness import keras:module.py:build_model`: the function's model as an object;
    a function returning no keras.Model is a user error naming what it returned."""
    from harness.entry.cli import main

    (tmp_path / "nets.py").write_text(
        "import keras\n"
        "class Scale(keras.layers.Layer):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.dense = keras.layers.Dense(3)\n"
        "    def call(self, x):\n"
        "        return x + self.dense(x)\n"
        "def build_model():\n"
        "    inputs = keras.Input((3,))\n"
        "    return keras.Model(inputs, keras.layers.Dense(2)(Scale()(inputs)))\n"
        "def not_a_model():\n"
        "    return 3\n")
    out = tmp_path / "cases" / "scale.yaml"
    assert main(["import", f"keras:{tmp_path / 'nets.py'}:build_model", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert [case.graph.layers[node.layer].type for node in case.graph.nodes] == ["Dense", "Add", "Dense"]
    assert main(["import", f"keras:{tmp_path / 'nets.py'}:not_a_model", "--out", str(tmp_path / "x.yaml")]) != 0
    captured = capsys.readouterr()
    assert "not_a_model() returned int, not a keras.Model" in captured.out + captured.err
