"""A hand-written NumPy forward pass of keras.io's Bidirectional LSTM IMDB classifier
(Embedding -> Bidirectional(LSTM, return_sequences=True) -> Bidirectional(LSTM) -> Dense
sigmoid), as one writes it to run the trained Keras model without Keras: the weights come as
`model.get_weights()` returns them, and each LSTM is a loop over the time steps.

    weights = model.get_weights()
    # [embeddings,
    #  forward kernel, recurrent_kernel, bias, backward kernel, recurrent_kernel, bias,  (1st Bidirectional)
    #  forward kernel, recurrent_kernel, bias, backward kernel, recurrent_kernel, bias,  (2nd Bidirectional)
    #  dense kernel, dense bias]

Keras' Bidirectional (keras/src/layers/rnn/bidirectional.py) runs its backward layer with
go_backwards=True on the same input: it reads the steps last to first; with return_sequences it
flips that layer's output sequence back so that step t of both halves is input step t, and
without, its result is the state after it has read the first step. The halves are concatenated,
forward first (merge_mode "concat").

Checked by the harness in cases/porting_bilstm_imdb.yaml (`weights_as: keras`); the walk-through
is docs/porting-a-sequence-model.md.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm(x, kernel, recurrent_kernel, bias):
    """Every step's h over x (batch, time, features), gates in Keras' order i, f, c, o."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units), dtype=x.dtype)
    c = np.zeros((batch, units), dtype=x.dtype)
    outputs = []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i = sigmoid(z[:, :units])
        f = sigmoid(z[:, units:2 * units])
        g = np.tanh(z[:, 2 * units:3 * units])
        o = sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def bidirectional(x, forward, backward, return_sequences):
    ahead = lstm(x, *forward)
    behind = lstm(x[:, ::-1], *backward)          # go_backwards: the steps last to first
    if return_sequences:
        return np.concatenate([ahead, behind[:, ::-1]], axis=-1)   # flipped back to input order
    return np.concatenate([ahead[:, -1], behind[:, -1]], axis=-1)


def predict(inputs, weights):
    embeddings, *rest = weights
    first, second, (dense_kernel, dense_bias) = rest[:6], rest[6:12], rest[12:]
    (tokens,) = inputs.values()                   # (batch, time) integer indices
    embedded = embeddings[tokens]
    sequences = bidirectional(embedded, first[:3], first[3:], return_sequences=True)
    features = bidirectional(sequences, second[:3], second[3:], return_sequences=False)
    score = sigmoid(features @ dense_kernel + dense_bias)
    return {"outputs": score, "intermediates": {"embedding": embedded, "bidirectional": sequences,
                                                "bidirectional_1": features, "dense": score}}
