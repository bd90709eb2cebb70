"""Token inputs declared without a dtype (`keras.Input(shape=(None,), name="title")`, float32, as the
functional-API guide writes them) and read by an Embedding: Keras' Embedding casts them to int32
(keras/src/layers/core/embedding.py `call`), so the import gives the case integer data below the
vocabulary and states the input as int32. Before, the import wrote a case with normal float data
and stopped with a traceback from the reference's Embedding."""

from __future__ import annotations

import numpy as np

from harness.backends.numpy_reference import run_reference
from harness.entry.cli import main
from harness.weights import load_cases_from_file
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL


def test_float_token_input_into_an_embedding_imports_as_int32(tmp_path):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(2)
    layers = keras.layers
    title = keras.Input(shape=(5,), name="title")  # no dtype: float32, as the guide writes it
    tags = keras.Input(shape=(3,), name="tags")
    features = layers.LSTM(4, name="lstm")(layers.Embedding(30, 4, name="embedding")(title))
    score = layers.Dense(2, name="score")(layers.concatenate([features, tags], name="joined"))
    model = keras.Model([title, tags], score)
    model.save(tmp_path / "tokens.keras")
    out = tmp_path / "tokens.yaml"
    assert main(["import", str(tmp_path / "tokens.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    tokens = case.dataset.inputs["title"]
    assert tokens.dtype == np.int32 and tokens.min() >= 0 and tokens.max() < 30
    assert case.dataset.inputs["tags"].dtype == np.float32  # not read by an Embedding: as declared
    expected = np.asarray(model([tokens, case.dataset.inputs["tags"]], training=False))
    np.testing.assert_allclose(run_reference(case, train=False).outputs["score"], expected, rtol=RTOL, atol=ATOL)

