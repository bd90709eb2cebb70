"""The named sequence models (issue 23), each written as its tutorial writes it, in small sizes
with random weights, saved, imported with `python -m harness import` and run on all four
backends (forward, intermediates, gradients):

* keras.io "Bidirectional LSTM on IMDB" (examples/nlp/bidirectional_lstm_imdb),
* keras.io "Text classification from scratch", its Functional Conv1D model
  (examples/nlp/text_classification_from_scratch),
* keras.io's three-input, dict-output ticket model (guides/functional_api),
* keras.io "Text classification with Transformer" (examples/nlp/text_classification_with_transformer),
  whose TransformerBlock and TokenAndPositionEmbedding are subclassed layers,
* a torch nn.LSTM and an nn.GRU text classifier reading `out[:, -1]` (tests/sequence_nets.py),
* seed 004's model (cases/seed004_lstm.yaml) as real Keras layer calls, from its .keras file.

What imports must pass; what the importer refuses is asserted to be refused with a message that
names the missing piece (docs/porting-a-sequence-model.md lists it as not yet supported).
keras.io writes its text inputs with a variable length (`shape=(None,)`) and a case's data has
fixed sizes, so each of those is tested twice: imported without a length (refused, naming each
open input and `--input-shape`) and with `--input-shape` (imports and passes).

An opt-in group (marker `sequence_models`; tests/conftest.py leaves it out unless the marker
expression names it or HARNESS_SEQUENCE_MODELS=1): `make test-sequence-models`,
`tox -e sequence-models`. Each test prints its import and run times as a JSON line; with
HARNESS_SEQUENCE_TIMES=FILE it also appends them to FILE.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from harness.backends.numpy_reference import run_reference
from harness.entry.cli import main
from harness.weights import load_cases_from_file
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

pytestmark = [pytest.mark.sequence_models, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
NETS = Path(__file__).resolve().parent / "sequence_nets.py"
OUTPUT_SCALE = 1e-3
"""The least standard deviation of a model's outputs for a comparison to mean something (the
float32 forward atol is 1e-5): a sigmoid or softmax of random small weights stays near 0.5 or
1/classes, so it is the spread across samples that must show."""


def record(model: str, **times) -> None:
    line = {"model": model, **{key: round(value, 1) if key.endswith("_s") else value
                               for key, value in times.items()}}
    print(json.dumps(line))
    if os.environ.get("HARNESS_SEQUENCE_TIMES"):
        with open(os.environ["HARNESS_SEQUENCE_TIMES"], "a") as handle:
            handle.write(json.dumps(line) + "\n")


# --- the models, as their tutorials write them (sizes made small) -----------------------------

def bidirectional_lstm_imdb(keras):
    """keras.io examples/nlp/bidirectional_lstm_imdb.py, "Build the model" (max_features 20000,
    Embedding 128, LSTM 64 there)."""
    layers = keras.layers
    max_features = 50
    # Input for variable-length sequences of integers
    inputs = keras.Input(shape=(None,), dtype="int32")
    # Embed each integer in a 128-dimensional vector
    x = layers.Embedding(max_features, 8)(inputs)
    # Add 2 bidirectional LSTMs
    x = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(6))(x)
    # Add a classifier
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def conv1d_text_classifier(keras):
    """keras.io examples/nlp/text_classification_from_scratch.py, "Build a model" (Functional;
    max_features 20000, embedding_dim 128, 128 filters and units there; sequence_length 500)."""
    layers = keras.layers
    max_features, embedding_dim = 50, 8
    # A integer input for vocab indices.
    inputs = keras.Input(shape=(None,), dtype="int64")
    # Next, we add a layer to map those vocab indices into a space of dimensionality
    # 'embedding_dim'.
    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)
    # Conv1D + global max pooling
    x = layers.Conv1D(8, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(8, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)
    # We add a vanilla hidden layer:
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    # We project onto a single unit output layer, and squash it with a sigmoid:
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return keras.Model(inputs, predictions)


def ticket_model(keras, dict_inputs: bool = False):
    """keras.io guides/functional_api.py, "Models with multiple inputs and outputs" (num_words
    10000, Embedding 64, LSTM 128 and 32 there). The inputs have no dtype (float32): Keras'
    Embedding casts them to int32, and so does the import (harness/weights/importing.py).
    `dict_inputs`: the inputs given as a dict by name, as the guide feeds them when fitting
    (`{"title": ..., "body": ..., "tags": ...}`); Keras then flattens them in sorted key order
    (body, tags, title), not the declared one, so the import must pair them by name."""
    layers = keras.layers
    num_tags = 12  # Number of unique issue tags
    num_words = 100  # Size of vocabulary obtained when preprocessing text data
    num_departments = 4  # Number of departments for predictions

    title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`
    # Embed each word in the title into a 64-dimensional vector
    title_features = layers.Embedding(num_words, 8)(title_input)
    # Embed each word in the text into a 64-dimensional vector
    body_features = layers.Embedding(num_words, 8)(body_input)
    # Reduce sequence of embedded words in the title into a single 128-dimensional vector
    title_features = layers.LSTM(8)(title_features)
    # Reduce sequence of embedded words in the body into a single 32-dimensional vector
    body_features = layers.LSTM(4)(body_features)
    # Merge all available features into a single large vector via concatenation
    x = layers.concatenate([title_features, body_features, tags_input])
    # Stick a logistic regression for priority prediction on top of the features
    priority_pred = layers.Dense(1, name="priority")(x)
    # Stick a department classifier on top of the features
    department_pred = layers.Dense(num_departments, name="department")(x)
    # Instantiate an end-to-end model predicting both priority and department
    inputs = ({"title": title_input, "body": body_input, "tags": tags_input} if dict_inputs
              else [title_input, body_input, tags_input])
    return keras.Model(inputs=inputs,
                       outputs={"priority": priority_pred, "department": department_pred})


KERAS_TEXT_MODELS = {"bidirectional_lstm_imdb": (bidirectional_lstm_imdb, [[12]]),
                     "conv1d_text_classifier": (conv1d_text_classifier, [[40]]),
                     "ticket_model": (ticket_model, [[6], [12], [12]]),
                     "ticket_model_dict_inputs": (lambda keras: ticket_model(keras, dict_inputs=True),
                                                  [[6], [12], [12]])}
"""name -> (builder, the shapes given with --input-shape: one per input in the model's order)."""


def transformer_classifier(keras):
    """keras.io examples/nlp/text_classification_with_transformer.py, as written there (vocab_size
    20000, maxlen 200, embed_dim 32, ff_dim 32 there); the two layer classes are not registered
    with `keras.saving.register_keras_serializable`, as the example does not."""
    from keras import ops

    layers = keras.layers

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    vocab_size, maxlen = 50, 10
    embed_dim = 8  # Embedding size for each token
    num_heads = 2  # Number of attention heads
    ff_dim = 8  # Hidden layer size in feed forward network inside transformer

    inputs = layers.Input(shape=(maxlen,))
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
    x = transformer_block(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def seed004_model(keras):
    """cases/seed004_lstm.yaml's model with Keras' own layers: LSTM(128) with sigmoid for its cell
    activation as well as its gates, Dense(40, softmax), over 3 one-hot characters of 40."""
    layers = keras.layers
    return keras.Sequential([keras.Input((3, 40), name="characters"),
                             layers.LSTM(128, activation="sigmoid", recurrent_activation="sigmoid", name="lstm"),
                             layers.Dense(40, activation="softmax", name="next")])


def spread_embeddings(keras, model) -> None:
    """Keras' Embedding starts uniform in [-0.05, 0.05] (keras/src/layers/core/embedding.py), with
    which a sigmoid classifier's outputs vary across samples by less than 1e-3 (BiLSTM: 6.9e-4
    measured), too little for a float32 comparison at atol 1e-5 to mean much; a trained embedding
    is far larger. So the embeddings are drawn from N(0, 1), as torch's nn.Embedding starts."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding):
            (table,) = layer.get_weights()
            layer.set_weights([rng.standard_normal(table.shape).astype(table.dtype)])


# --- the checks ------------------------------------------------------------------------------

def import_keras(model, tmp_path, name: str, *options: str):
    """Saved as .keras and imported; the case, the seconds the import took, the model's outputs
    on the case's inputs (by the case's output node names)."""
    from harness.backends.keras.importer import input_keys, input_names  # lazy: imports keras, which may be absent

    model.save(tmp_path / f"{name}.keras")
    out = tmp_path / f"{name}.yaml"
    begun = time.perf_counter()
    assert main(["import", str(tmp_path / f"{name}.keras"), *options, "--out", str(out)]) == 0
    import_s = time.perf_counter() - begun
    (case,) = load_cases_from_file(out)
    arrays = [case.dataset.inputs[input_name] for input_name in input_names(model)]
    keys = input_keys(model)
    if keys:  # inputs={key: tensor}: called by key
        result = model({key: case.dataset.inputs[input_name] for key, input_name in keys.items()}, training=False)
    else:
        result = model(arrays if len(arrays) > 1 else arrays[0], training=False)
    if isinstance(result, dict):  # keyed as `outputs={...}` was; the case names its layers' nodes
        layers = {key: layer for key, (layer, _, _) in model.get_config()["output_layers"].items()}
        expected = {layers[key]: np.asarray(value) for key, value in result.items()}
    else:
        (output,) = case.graph.outputs
        expected = {output: np.asarray(result)}
    return case, import_s, expected


def passes_on_all_four(name: str, case, expected: dict, import_s: float) -> None:
    """The reference computes what the framework's own model computes on the case's inputs, the
    outputs are not vanishing, and every backend passes every check (test_import_export's
    `passes_everywhere`)."""
    reference = run_reference(case, train=False).outputs
    for output, value in expected.items():
        np.testing.assert_allclose(reference[output], value, rtol=RTOL, atol=ATOL)
    spread = min(float(np.std(value)) for value in expected.values())
    assert spread > OUTPUT_SCALE, f"{name}'s outputs barely vary (std {spread:.2e}): a pass would say little"
    begun = time.perf_counter()
    report = passes_everywhere(case)
    record(name, layers=len(case.graph.nodes), checks=len(report.checks), dtype=case.spec.dtype,
           import_s=import_s, run_s=time.perf_counter() - begun)


@pytest.mark.parametrize("name", list(KERAS_TEXT_MODELS))
def test_keras_io_text_model_without_a_length_is_refused(name, tmp_path, capsys):
    """keras.io writes `keras.Input(shape=(None,))`: without `--input-shape` the refusal names
    each such input, the unknown size and the option, and leaves no file behind."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    build, _ = KERAS_TEXT_MODELS[name]
    keras.utils.set_random_seed(0)
    model = build(keras)
    model.save(tmp_path / f"{name}.keras")
    out = tmp_path / "cases" / f"{name}.yaml"
    assert main(["import", str(tmp_path / f"{name}.keras"), "--out", str(out)]) != 0
    printed = capsys.readouterr().out
    variable = [layer.name for layer in model.layers if isinstance(layer, keras.layers.InputLayer)
                and None in layer.batch_shape[1:]]
    assert variable  # as keras.io writes them
    for input_name in variable:
        assert f"{input_name} (Input): shape (None,) has an unknown size" in printed, printed
    assert "--input-shape" in printed
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.parametrize("name", list(KERAS_TEXT_MODELS))
def test_keras_io_text_model_as_written_imports_with_input_shape_and_passes(name, tmp_path):
    """The model as keras.io writes it, its lengths given with `--input-shape` (one per input,
    in the model's order); the case states each length the model left open in its description."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras
    from harness.backends.keras.importer import input_names  # lazy: imports keras, which may be absent

    build, lengths = KERAS_TEXT_MODELS[name]
    keras.utils.set_random_seed(0)
    model = build(keras)
    spread_embeddings(keras, model)
    options = [argument for shape in lengths for argument in ("--input-shape", ",".join(map(str, shape)))]
    case, import_s, expected = import_keras(model, tmp_path, name, *options)
    assert [case.dataset.inputs[input_name].shape[1:] for input_name in input_names(model)] == \
        [tuple(shape) for shape in lengths]
    variable = [tensor for tensor in model.inputs if None in tensor.shape[1:]]
    assert case.spec.description.count("from --input-shape") == len(variable) > 0
    passes_on_all_four(name, case, expected, import_s)


def test_keras_io_transformer_classifier_is_refused_naming_its_custom_layers(tmp_path, capsys):
    """TransformerBlock and TokenAndPositionEmbedding are subclassed layers with their own `call`:
    keras.saving cannot rebuild them outside the script that defined them (the example does not
    register them), so the import stops at loading and names the layer class it cannot locate.
    The model object imports instead (the next test)."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(0)
    model = transformer_classifier(keras)
    model.save(tmp_path / "transformer.keras")
    out = tmp_path / "transformer.yaml"
    assert main(["import", str(tmp_path / "transformer.keras"), "--out", str(out)]) != 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert "keras.saving.load_model cannot load it" in printed
    assert "Could not locate class 'TokenAndPositionEmbedding'" in printed
    # What the user can do: register the class, and write its call in the Functional API.
    hint = " ".join(printed.split())
    assert "TokenAndPositionEmbedding is a class of the script that saved the model" in hint
    assert "register_keras_serializable" in hint and "Functional API" in hint
    assert not out.exists()


def test_keras_io_transformer_classifier_imports_from_the_model_object_and_passes(tmp_path):
    """The model object itself (harness.weights.importing.import_keras_object): TransformerBlock
    expanded through its `call` into MultiHeadAttention, Dropout, Add, LayerNormalization and the
    nested Sequential's Dense layers; TokenAndPositionEmbedding into Embedding + PositionEmbedding
    (its position table recognised by value among the layer's Embeddings); weights read from
    the layer objects. Forward, intermediates and gradients pass on numpy, keras, chainer, torch."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras
    from harness.weights.importing import import_keras_object

    keras.utils.set_random_seed(0)
    model = transformer_classifier(keras)
    rng = np.random.default_rng(0)
    for layer in model._flatten_layers():  # both tables from N(0, 1), as spread_embeddings does
        if isinstance(layer, keras.layers.Embedding):
            layer.set_weights([rng.standard_normal(layer.embeddings.shape).astype("float32")])
    begun = time.perf_counter()
    result = import_keras_object(model, tmp_path / "transformer.yaml")
    import_s = time.perf_counter() - begun
    assert not result.problems and result.ok, result
    (case,) = load_cases_from_file(tmp_path / "transformer.yaml")
    kinds = [case.graph.layers[node.layer].type for node in case.graph.nodes]
    assert kinds[:2] == ["Embedding", "PositionEmbedding"]
    assert {"MultiHeadAttention", "LayerNormalization", "Add"} <= set(kinds) and kinds.count("Add") == 2
    (output,) = case.graph.outputs
    expected = {output: np.asarray(model(case.dataset.inputs[model.inputs[0]._keras_history[0].name], training=False))}
    passes_on_all_four("transformer_classifier", case, expected, import_s)


def test_a_registered_subclassed_layer_is_refused_naming_the_layers_it_holds(tmp_path, capsys):
    """Registered so that keras.saving reloads it, the TransformerBlock loads; the importer
    still reads no layer's own `call`, and says which built-in layers the block holds."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    layers = keras.layers

    @keras.saving.register_keras_serializable(package="harness_test")
    class Block(layers.Layer):
        def __init__(self, width=8, **kwargs):
            super().__init__(**kwargs)
            self.width = width
            self.att = layers.MultiHeadAttention(num_heads=2, key_dim=width)
            self.norm = layers.LayerNormalization(epsilon=1e-6)

        def call(self, inputs):
            return self.norm(inputs + self.att(inputs, inputs))

        def get_config(self):
            return {**super().get_config(), "width": self.width}

    inputs = layers.Input(shape=(5, 8))
    model = keras.Model(inputs, layers.Dense(2)(Block(name="block")(inputs)))
    model.save(tmp_path / "block.keras")
    assert main(["import", str(tmp_path / "block.keras"), "--out", str(tmp_path / "block.yaml")]) != 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "a subclassed layer with its own call; it holds MultiHeadAttention" in printed, printed
    assert "LayerNormalization" in printed and "Functional API" in printed
    assert not (tmp_path / "block.yaml").exists()


@pytest.mark.parametrize("name", ["LSTMClassifier", "GRUClassifier"])
def test_torch_text_classifier_imports_and_passes(name, tmp_path):
    backend_or_skip("torch")
    import torch

    namespace: dict = {}
    exec(compile(NETS.read_text(), str(NETS), "exec"), namespace)
    torch.manual_seed(0)
    module = namespace[name]().eval()
    torch.save(module.state_dict(), tmp_path / f"{name}.pt")
    out = tmp_path / f"{name}.yaml"
    begun = time.perf_counter()
    assert main(["import", f"{NETS}:{name}", "--weights", str(tmp_path / f"{name}.pt"),
                 "--input-shape", "12", "--out", str(out)]) == 0
    import_s = time.perf_counter() - begun
    (case,) = load_cases_from_file(out)
    (recurrent,) = [spec for spec in case.graph.layers.values() if spec.type in ("LSTM", "GRU")]
    assert recurrent.return_sequences is False  # `out[:, -1]` read onto the layer
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = module(torch.from_numpy(np.ascontiguousarray(inputs))).numpy()
    (output,) = case.graph.outputs
    passes_on_all_four(name, case, {output: expected}, import_s)


def test_seed004_model_from_its_keras_file_is_the_seed_case_and_passes(tmp_path):
    """The import of Keras' own LSTM/Dense gives the layers cases/seed004_lstm.yaml states by hand,
    field for field; with the saved model's weights it passes everywhere."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(4)
    case, import_s, expected = import_keras(seed004_model(keras), tmp_path, "seed004_keras")
    (seed,) = load_cases_from_file(ROOT / "cases" / "seed004_lstm.yaml")
    assert list(case.graph.layers) == list(seed.graph.layers) == ["lstm", "next"]
    for layer in seed.graph.layers:
        assert case.graph.layers[layer].model_dump() == seed.graph.layers[layer].model_dump(), layer
    assert case.graph.shapes == seed.graph.shapes
    passes_on_all_four("seed004_keras", case, expected, import_s)
