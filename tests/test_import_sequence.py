"""`python -m harness import` of sequence models written the way keras.io writes them (issue 23).

The models are built with Keras' own Functional API and saved as `.keras`; the independent check
is the saved model computing on the case's inputs (the import compares it) and every backend
passing against the NumPy reference (`passes_everywhere`).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere


def keras_text_classifier(path, *, training=None):
    """keras.io's text classifier shape, Functional: Embedding -> LSTM -> Dropout -> Dense.
    `training=True` is a call argument the user gives (Dropout active at inference)."""
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(5)
    layers = keras.layers
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = layers.Embedding(20, 6, name="embedding")(tokens)
    x = layers.LSTM(5, name="lstm")(x)
    x = layers.Dropout(0.5, name="dropout")(x, training=training) if training is not None \
        else layers.Dropout(0.5, name="dropout")(x)
    out = layers.Dense(1, activation="sigmoid", name="score")(x)
    model = keras.Model(tokens, out)
    model.save(path)
    return model


def test_functional_text_classifier_with_lstm_and_dropout_imports(tmp_path):
    """Keras records `training: false` (and `mask: None`) in every Dropout/LSTM call of a
    Functional config; at those inference defaults they are not the user's arguments."""
    backend_or_skip("keras")
    model = keras_text_classifier(tmp_path / "text.keras")
    out = tmp_path / "cases" / "text.yaml"
    assert main(["import", str(tmp_path / "text.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert [type(node.spec).__name__ for node in case.graph.nodes] == ["Embedding", "LSTM", "Dropout", "Dense"]
    expected = np.asarray(model(case.dataset.inputs["tokens"], training=False))
    np.testing.assert_allclose(run_reference(case, train=False).outputs["score"], expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_a_call_argument_the_user_gave_is_still_refused(tmp_path, capsys):
    backend_or_skip("keras")
    keras_text_classifier(tmp_path / "text.keras", training=True)
    out = tmp_path / "text.yaml"
    assert main(["import", str(tmp_path / "text.keras"), "--out", str(out)]) != 0
    assert "dropout (Dropout): called with keyword arguments ['training']" in capsys.readouterr().out
    assert not out.exists()


def keras_encoder_decoder(path):
    """keras.io's seq2seq shape in small: an encoder LSTM from given states, return_state, its
    [h, c] the decoder's initial_state; a GRU's state read too."""
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(9)
    layers = keras.layers
    x, y = keras.Input((5, 3), name="x"), keras.Input((4, 3), name="y")
    h0, c0 = keras.Input((4,), name="h0"), keras.Input((4,), name="c0")
    _, h, c = layers.LSTM(4, return_state=True, name="enc")(x, initial_state=[h0, c0])
    sequence = layers.LSTM(4, return_sequences=True, name="dec")(y, initial_state=[h, c])
    _, g = layers.GRU(4, return_state=True, name="gru")(sequence)
    out = layers.Dense(2, name="head")(layers.Concatenate(name="cat")([g, c]))
    model = keras.Model([x, y, h0, c0], [out, h])
    model.save(path)
    return model


def test_functional_initial_state_and_return_state_import(tmp_path):
    backend_or_skip("keras")
    model = keras_encoder_decoder(tmp_path / "seq2seq.keras")
    out = tmp_path / "seq2seq.yaml"
    assert main(["import", str(tmp_path / "seq2seq.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.graph.node("dec").inputs == ["y", "enc.h", "enc.c"]
    assert case.graph.node("cat").inputs == ["gru.h", "enc.c"] and case.graph.outputs == ["head", "enc.h"]
    inputs = case.dataset.inputs
    expected = model([inputs[name] for name in ("x", "y", "h0", "c0")])
    result = run_reference(case, train=False)
    for name, value in zip(case.graph.outputs, expected):
        np.testing.assert_allclose(result.outputs[name], np.asarray(value), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def keras_ticket_model(path):
    """keras.io's multi-input, multi-output ticket model (fixed lengths: variable-length inputs
    are another matter), outputs as a dict; one key differs from its layer's name."""
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(9)
    layers = keras.layers
    title = keras.Input((5,), dtype="int32", name="title")
    body = keras.Input((8,), dtype="int32", name="body")
    tags = keras.Input((4,), name="tags")
    title_features = layers.LSTM(6, name="title_lstm")(layers.Embedding(30, 4, name="title_embedding")(title))
    body_features = layers.LSTM(3, name="body_lstm")(layers.Embedding(30, 4, name="body_embedding")(body))
    x = layers.Concatenate(name="joined")([title_features, body_features, tags])
    priority = layers.Dense(1, name="priority")(x)
    department = layers.Dense(3, name="department_logits")(x)
    model = keras.Model(inputs=[title, body, tags], outputs={"priority": priority, "department": department})
    model.save(path)
    return model


def test_functional_model_with_dict_outputs_imports(tmp_path):
    backend_or_skip("keras")
    model = keras_ticket_model(tmp_path / "ticket.keras")
    out = tmp_path / "ticket.yaml"
    assert main(["import", str(tmp_path / "ticket.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.graph.outputs == ["priority", "department_logits"]  # the dict's order, the layers' nodes
    inputs = case.dataset.inputs
    expected = model([inputs["title"], inputs["body"], inputs["tags"]], training=False)
    reference = run_reference(case, train=False).outputs
    for key, node in [("priority", "priority"), ("department", "department_logits")]:
        np.testing.assert_allclose(reference[node], np.asarray(expected[key]), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_an_output_name_that_is_not_an_identifier_gets_a_case_name_from_it(tmp_path):
    backend_or_skip("keras")
    keras_text_classifier(tmp_path / "text.keras")
    out = tmp_path / "cases" / "lstm-text.yaml"
    assert main(["import", str(tmp_path / "text.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.spec.name == "lstm_text"
    assert sorted(path.name for path in out.parent.iterdir()) == ["lstm-text.weights.h5", "lstm-text.yaml"]


def test_a_case_refused_on_loading_leaves_no_file_behind(tmp_path, monkeypatch, capsys):
    """Written to a staging folder and loaded back there first: a refusal at that point (here
    forced) leaves neither the case nor its weights, nor the staging folder."""
    import harness.weights.importing
    from harness.common.errors import CaseError

    backend_or_skip("keras")
    keras_text_classifier(tmp_path / "text.keras")
    out = tmp_path / "cases" / "text.yaml"

    def refuse(path):
        assert path.exists() and path.with_name("text.weights.h5").exists()  # both were written
        raise CaseError("refused for the test", file=str(path))

    monkeypatch.setattr(harness.weights.importing, "load_cases_from_file", refuse)
    assert main(["import", str(tmp_path / "text.keras"), "--out", str(out)]) != 0
    captured = capsys.readouterr()
    assert "refused for the test" in captured.err + captured.out
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("stem, name", [("lstm-text", "lstm_text"), ("2nd model", "case_2nd_model"),
                                        ("plain", "plain")])
def test_case_name(stem, name):
    from pathlib import Path

    from harness.weights.importing import case_name

    assert case_name(Path(f"cases/{stem}.yaml")) == name


TORCH_TEXT = textwrap.dedent('''
    import torch
    from torch import nn


    class LSTMText(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(20, 6)
            self.lstm = nn.LSTM(6, 5, batch_first=True)
            self.head = nn.Linear(5, 2)

        def forward(self, tokens):
            out, _ = self.lstm(self.embedding(tokens))
            return self.head(out[:, -1])


    class GRUText(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 4, batch_first=True)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            out, _ = self.gru(x)
            return self.head(torch.tanh(out[:, -1, :]))


    class Sequence(nn.Module):  # every step's output, read as it is
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True)

        def forward(self, x):
            out, _ = self.lstm(x)
            return out


    class BiSequence(nn.Module):  # bidirectional, every step's output into a Linear per step
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out)


    class BiLast(nn.Module):  # the common idiom whose reverse half is not a final state
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 4, batch_first=True, bidirectional=True)

        def forward(self, x):
            out, _ = self.gru(x)
            return out[:, -1]


    class States(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)

        def forward(self, x):
            out, (h, c) = self.lstm(x)
            return h[-1]


    class FinalStates(nn.Module):  # h_n and c_n of a one-direction LSTM, GRU's h_n into it
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True)
            self.gru = nn.GRU(3, 4, batch_first=True)
            self.head = nn.Linear(12, 2)

        def forward(self, x):
            _, (h, c) = self.lstm(x)
            _, g = self.gru(x)
            return self.head(torch.cat([h[-1], c[0], g[-1]], dim=1))


    class StatesWhole(nn.Module):  # h_n with its layer axis, used as it is
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 4, batch_first=True)

        def forward(self, x):
            _, h = self.gru(x)
            return h.sum(0)
''')


def torch_module(tmp_path, name: str):
    import torch

    (tmp_path / "text.py").write_text(TORCH_TEXT)
    namespace: dict = {}
    exec(compile(TORCH_TEXT, str(tmp_path / "text.py"), "exec"), namespace)
    torch.manual_seed(3)
    module = namespace[name]().eval()
    torch.save(module.state_dict(), tmp_path / f"{name}.pt")
    return module


def import_torch(tmp_path, name: str, shape: str) -> int:
    """`python -m harness import text.py:<name> --weights <name>.pt --input-shape <shape>` into
    <name>.yaml; its exit code."""
    return main(["import", f"{tmp_path / 'text.py'}:{name}", "--weights", str(tmp_path / f"{name}.pt"),
                 "--input-shape", shape, "--out", str(tmp_path / f"{name}.yaml")])


def imported_reproduces_module(tmp_path, name: str, shape: str, module):
    """Import torch module `name`, check the reference on the case reproduces the module's own
    output and that every framework passes; the case, for further assertions."""
    import torch

    assert import_torch(tmp_path, name, shape) == 0
    (case,) = load_cases_from_file(tmp_path / f"{name}.yaml")
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = module(torch.from_numpy(np.ascontiguousarray(inputs))).numpy()
    (output,) = case.graph.outputs
    np.testing.assert_allclose(run_reference(case, train=False).outputs[output], expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
    return case


def refused_torch_import(tmp_path, capsys, name: str, shape: str) -> str:
    """Import torch module `name`, expecting a refusal that leaves no case behind; what it printed."""
    torch_module(tmp_path, name)
    assert import_torch(tmp_path, name, shape) != 0
    assert not (tmp_path / f"{name}.yaml").exists()
    return capsys.readouterr().out


@pytest.mark.parametrize("name, shape, recurrent", [("LSTMText", "7", "LSTM"), ("GRUText", "7,3", "GRU"),
                                                    ("Sequence", "6,3", "LSTM")])
def test_torch_recurrent_text_model_imports(tmp_path, name, shape, recurrent):
    """nn.LSTM/GRU (batch_first, one layer; torch's own random biases, bias_hh included, which
    the case's mapping folds) and the indexing after them: `out, _ = ...`, `out[:, -1]`."""
    backend_or_skip("torch")
    case = imported_reproduces_module(tmp_path, name, shape, torch_module(tmp_path, name))
    (layer,) = [node.spec for node in case.graph.nodes if type(node.spec).__name__ == recurrent]
    assert layer.return_sequences == (name == "Sequence")  # `out[:, -1]` is the last step


def test_torch_recurrent_options_the_case_cannot_express_are_listed(tmp_path, capsys):
    backend_or_skip("torch")
    assert "uses the final states" in refused_torch_import(tmp_path, capsys, "States", "6,3")


def test_torch_final_states_import_as_return_state(tmp_path):
    """`_, (h, c) = self.lstm(x)` and `_, g = self.gru(x)`, then h[-1], c[0], g[-1]: the case
    layers with return_state, their tensors lstm.h, lstm.c and gru.h."""
    backend_or_skip("torch")
    case = imported_reproduces_module(tmp_path, "FinalStates", "6,3", torch_module(tmp_path, "FinalStates"))
    assert case.graph.node("lstm").spec.return_state and case.graph.node("gru").spec.return_state
    assert {"lstm.h", "lstm.c", "gru.h"} <= {name for node in case.graph.nodes for name in node.inputs}


def test_torch_final_state_with_its_layer_axis_is_refused(tmp_path, capsys):
    backend_or_skip("torch")
    assert "used with torch's layer axis" in refused_torch_import(tmp_path, capsys, "StatesWhole", "6,3")


def keras_bidirectional_classifier(path):
    """keras.io's Bidirectional LSTM IMDB classifier in small: Embedding -> Bidirectional
    LSTM (sequences) -> Bidirectional LSTM -> Dense, plus a GRU with merge_mode sum."""
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(3)
    layers = keras.layers
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(20, 4, name="embedding")(tokens)
    x = layers.Bidirectional(layers.LSTM(5, return_sequences=True), name="bi_sequences")(x)
    x = layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode="sum", name="bi_gru")(x)
    x = layers.Bidirectional(layers.LSTM(4), name="bi_last")(x)
    out = layers.Dense(1, activation="sigmoid", name="score")(x)
    model = keras.Model(tokens, out)
    model.save(path)
    return model


def test_keras_bidirectional_imports_and_passes(tmp_path):
    """The wrapped layer comes from forward_layer; the saved model's output is the check."""
    backend_or_skip("keras")
    model = keras_bidirectional_classifier(tmp_path / "bi.keras")
    out = tmp_path / "cases" / "bi.yaml"
    assert main(["import", str(tmp_path / "bi.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    kinds = {name: spec for name, spec in case.graph.layers.items()}
    assert kinds["bi_gru"].merge_mode == "sum" and kinds["bi_gru"].layer.type == "GRU"
    assert kinds["bi_last"].layer.go_backwards is False
    expected = np.asarray(model(case.dataset.inputs["tokens"], training=False))
    np.testing.assert_allclose(run_reference(case, train=False).outputs["score"], expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_keras_bidirectional_without_merge_is_refused(tmp_path, capsys):
    from harness.backends.keras._import import keras

    backend_or_skip("keras")
    tokens = keras.Input((4, 3), name="x")
    forward, backward = keras.layers.Bidirectional(keras.layers.LSTM(2), merge_mode=None, name="bi")(tokens)
    keras.Model(tokens, keras.layers.Add(name="add")([forward, backward])).save(tmp_path / "two.keras")
    out = tmp_path / "two.yaml"
    assert main(["import", str(tmp_path / "two.keras"), "--out", str(out)]) != 0
    assert "merge_mode None returns two outputs" in capsys.readouterr().out
    assert not out.exists()


def test_torch_bidirectional_module_imports_as_bidirectional_concat(tmp_path):
    """nn.LSTM(bidirectional=True): torch's own random weights (both directions, bias_hh
    folded) through the case's Bidirectional; the module's output is the check."""
    backend_or_skip("torch")
    case = imported_reproduces_module(tmp_path, "BiSequence", "5,3", torch_module(tmp_path, "BiSequence"))
    (layer,) = [node.spec for node in case.graph.nodes if type(node.spec).__name__ == "Bidirectional"]
    assert layer.merge_mode == "concat" and layer.layer.return_sequences


def test_torch_last_step_of_a_bidirectional_output_is_refused(tmp_path, capsys):
    backend_or_skip("torch")
    assert "the last step of a bidirectional output" in refused_torch_import(tmp_path, capsys, "BiLast", "5,3")


def keras_variable_length_classifier(path):
    """keras.io's text classifiers take `keras.Input(shape=(None,), dtype="int64")`: any length.
    Embedding -> Conv1D -> GlobalMaxPooling1D -> Dense, the Conv1D text classifier's shape."""
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(11)
    layers = keras.layers
    tokens = keras.Input((None,), dtype="int64", name="tokens")
    x = layers.Embedding(20, 4, name="embedding")(tokens)
    x = layers.Conv1D(3, 3, activation="relu", name="conv")(x)
    x = layers.GlobalMaxPooling1D(name="pool")(x)
    out = layers.Dense(1, activation="sigmoid", name="score")(x)
    model = keras.Model(tokens, out)
    model.save(path)
    return model


def test_a_variable_length_input_asks_for_its_length(tmp_path, capsys):
    """shape=(None,): a case's data has fixed sizes, so without --input-shape the import is
    refused with a message that says which option gives the length; nothing is written."""
    backend_or_skip("keras")
    keras_variable_length_classifier(tmp_path / "text.keras")
    out = tmp_path / "cases" / "text.yaml"
    assert main(["import", str(tmp_path / "text.keras"), "--out", str(out)]) != 0
    printed = capsys.readouterr().out
    assert "tokens (Input): shape (None,) has an unknown size" in printed
    assert "--input-shape 8" in printed
    assert not out.exists() and not out.with_name("text.weights.h5").exists()


def test_a_variable_length_input_takes_its_length_from_input_shape(tmp_path):
    """`--input-shape 9`: the case's input is 9 long, its description says where the length
    came from, the reference computes what the saved model computes at that length, and every
    backend passes."""
    backend_or_skip("keras")
    model = keras_variable_length_classifier(tmp_path / "text.keras")
    out = tmp_path / "cases" / "text.yaml"
    assert main(["import", str(tmp_path / "text.keras"), "--input-shape", "9", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.dataset.inputs["tokens"].shape[1:] == (9,)
    assert "input tokens: shape (None,) in the saved model (variable size), imported as (9,) from --input-shape" \
        in case.spec.description
    expected = np.asarray(model(case.dataset.inputs["tokens"], training=False))
    np.testing.assert_allclose(run_reference(case, train=False).outputs["score"], expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


@pytest.mark.parametrize("shapes, message", [
    (["9", "4"], "2 shape(s) given for 1 input(s)"),
    (["9,2"], "input tokens's shape does not fit the saved model's"),
])
def test_an_input_shape_that_does_not_fit_is_a_user_error(tmp_path, capsys, shapes, message):
    backend_or_skip("keras")
    keras_variable_length_classifier(tmp_path / "text.keras")
    out = tmp_path / "text.yaml"
    arguments = [part for shape in shapes for part in ("--input-shape", shape)]
    assert main(["import", str(tmp_path / "text.keras"), *arguments, "--out", str(out)]) != 0
    captured = capsys.readouterr()
    assert message in captured.err + captured.out and "--input-shape" in captured.err + captured.out
    assert not out.exists()
