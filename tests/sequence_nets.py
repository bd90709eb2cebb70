"""torch text classifiers as the named sequence models (tests/test_sequence_models.py) import them:
`python -m harness import tests/sequence_nets.py:LSTMClassifier --weights W.pt --input-shape 12`.

Written the way torch text classifiers are commonly written: an nn.Embedding, a batch_first
recurrent layer whose output sequence is unpacked as `out, _ = self.rnn(x)`, and a Linear on the
last step `out[:, -1]`. Each class is built with no arguments (the importer calls `Class()`), so
the small sizes are the defaults.
"""

from __future__ import annotations

from torch import nn

VOCABULARY, EMBEDDING, HIDDEN, CLASSES = 50, 8, 8, 3


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size=VOCABULARY, embed_dim=EMBEDDING, hidden_dim=HIDDEN, num_class=CLASSES):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_class)

    def forward(self, text):
        embedded = self.embedding(text)
        out, _ = self.lstm(embedded)
        return self.fc(out[:, -1])


class GRUClassifier(nn.Module):
    def __init__(self, vocab_size=VOCABULARY, embed_dim=EMBEDDING, hidden_dim=HIDDEN, num_class=CLASSES):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_class)

    def forward(self, text):
        embedded = self.embedding(text)
        out, _ = self.gru(embedded)
        return self.fc(out[:, -1])
