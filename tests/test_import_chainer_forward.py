"""chainer Chains with their own forward, imported by recording one forward pass
(harness/backends/chainer/trace.py): an MLP with a residual `+`, a CNN with explicit pads and a
concat, an LSTM stepped over x[:, t], a sub-chain with BatchNormalization, an EmbedID + LSTM text
model, a link called twice. Each case's NumPy reference is checked against the chain
itself, then every backend runs the case. A chain the importer cannot express gets every
problem listed, not the first one only."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.backends.numpy_reference import run_reference
from harness.entry.cli import main
from harness.weights import load_cases_from_file
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

CHAINS = textwrap.dedent("""
    import chainer
    import chainer.functions as F
    import chainer.links as L


    class MLP(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.l1 = L.Linear(6, 8)
                self.l2 = L.Linear(8, 8)
                self.out = L.Linear(8, 3)

        def forward(self, x):
            h = F.relu(self.l1(x))
            h = F.tanh(self.l2(h)) + h
            return self.out(h)


    class CNN(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.conv1 = L.Convolution2D(2, 4, ksize=3, stride=2, pad=1)
                self.conv2 = L.Convolution2D(4, 4, ksize=3, pad=1)
                self.conv3 = L.Convolution2D(8, 3, ksize=5, pad=1)
                self.fc = L.Linear(None, 3)

        def forward(self, x):
            h = F.relu(self.conv1(x))
            h = F.concat([F.sigmoid(self.conv2(h)), h], axis=1)
            return self.fc(F.tanh(self.conv3(h)))


    class RNN(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.lstm = L.LSTM(3, 5)
                self.out = L.Linear(5, 2)

        def forward(self, x):
            self.lstm.reset_state()
            for t in range(x.shape[1]):
                h = self.lstm(x[:, t])
            return self.out(h)


    class Block(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.conv = L.Convolution2D(2, 3, ksize=3, pad=1)
                self.bn = L.BatchNormalization(3)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))


    class Nested(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.block = Block()
                self.head = L.Linear(None, 2)

        def forward(self, x):
            return self.head(self.block(x))


    class TextRNN(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.embed = L.EmbedID(10, 4)
                self.lstm = L.LSTM(4, 3)
                self.out = L.Linear(3, 2)

        def forward(self, x):
            e = self.embed(x)
            self.lstm.reset_state()
            for t in range(e.shape[1]):
                h = self.lstm(e[:, t])
            return self.out(h)


    class Shared(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.l = L.Linear(4, 4)

        def forward(self, x):
            return self.l(F.tanh(self.l(x)))


    class Unsupported(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.l1 = L.Linear(6, 8)
                self.l2 = L.Linear(8, 3)

        def forward(self, x):
            h = F.elu(self.l1(x))
            h = h * 2.0
            return F.linear(h, self.l2.W)


    class UnsupportedSequential(chainer.Sequential):
        def __init__(self):
            super().__init__(L.Linear(6, 8), F.elu, L.Linear(8, 4), F.softplus, L.Linear(4, 2))
""")


def imported(tmp_path, name: str, input_shape: tuple[int, ...]):
    """(exit code, the chain as saved, the output case file): the chain built with seeded
    weights, saved with save_npz, imported."""
    from harness.backends.chainer._import import chainer

    (tmp_path / "chains.py").write_text(CHAINS)
    namespace: dict = {}
    exec(compile(CHAINS, str(tmp_path / "chains.py"), "exec"), namespace)
    np.random.seed(5)  # chainer's initializers draw from numpy's global generator
    chain = namespace[name]()
    dtype = np.int32 if name == "TextRNN" else np.float32  # EmbedID reads int32 indices
    chain(np.zeros((1, *input_shape), dtype=dtype))  # Linear(None, ...) sizes itself on the first call
    if name == "Nested":  # running statistics that are not the initial 0 and 1, so the file's are checked
        chain.block.bn.avg_mean[...] = np.random.rand(3)
        chain.block.bn.avg_var[...] = 1 + np.random.rand(3)
    chainer.serializers.save_npz(str(tmp_path / f"{name}.npz"), chain)
    out = tmp_path / f"{name.lower()}.yaml"
    code = main(["import", f"{tmp_path / 'chains.py'}:{name}", "--weights", str(tmp_path / f"{name}.npz"),
                 "--input-shape", ",".join(map(str, input_shape)), "--out", str(out)])
    return code, chain, out


def reference_matches_chain(case, chain) -> None:
    from harness.backends.chainer._import import chainer

    x = case.dataset.inputs["x"]
    with chainer.using_config("train", False):
        expected = chain(x).array
    np.testing.assert_allclose(run_reference(case, train=False).outputs[case.graph.outputs[0]], expected,
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, input_shape, layer_types", [
    ("MLP", (6,), ["Dense", "Activation", "Dense", "Activation", "Add", "Dense"]),
    # Width 5 after conv1 (not 4 = its filters): away from the Keras channels_first bias bug
    # (cases/discovered_keras_channels_first_bias.yaml), which is not what this test is about.
    ("CNN", (2, 9, 10), ["Conv2D", "Activation", "Conv2D", "Activation", "Concatenate", "Conv2D", "Activation",
                         "Flatten", "Dense"]),
    ("RNN", (4, 3), ["LSTM", "Dense"]),
    # A sub-chain's links are layers named by their path (block_conv, block_bn, with avg_mean/avg_var).
    ("Nested", (2, 5, 6), ["Conv2D", "BatchNormalization", "Activation", "Flatten", "Dense"]),
    ("TextRNN", (5,), ["Embedding", "LSTM", "Dense"]),
    ("Shared", (4,), ["Dense", "Activation", "Dense"]),  # the second call of `l` is a Reuse of it
])
def test_chain_with_own_forward_imports_and_passes(tmp_path, name, input_shape, layer_types):
    backend_or_skip("chainer")
    code, chain, out = imported(tmp_path, name, input_shape)
    assert code == 0
    (case,) = load_cases_from_file(out)
    assert [case.graph.layers[node.layer].type for node in case.graph.nodes] == layer_types
    reference_matches_chain(case, chain)
    passes_everywhere(case)


def test_cnn_keeps_explicit_pads(tmp_path):
    backend_or_skip("chainer")
    code, _, out = imported(tmp_path, "CNN", (2, 9, 10))
    assert code == 0
    (case,) = load_cases_from_file(out)
    paddings = {name: spec.padding for name, spec in case.graph.layers.items() if hasattr(spec, "padding")}
    # pad 1 with stride 2, pad 1 on a 3x3 kernel at stride 1 ('same'), pad 1 on a 5x5 kernel.
    assert paddings == {"conv1": 1, "conv2": "same", "conv3": 1}


def test_every_problem_is_listed(tmp_path, capsys):
    backend_or_skip("chainer")
    code, _, out = imported(tmp_path, "Unsupported", (6,))
    assert code != 0 and not out.exists()
    printed = capsys.readouterr().out
    for line in ("elu (ELU): the importer has no translation for this function",
                 "mulconstant (_ * 2.0): the importer has no translation for this function",
                 "l2/W (Parameter): a parameter used outside its link's call",
                 "linearfunction (LinearFunction): the importer has no translation for this function"):
        assert line in printed


def test_sequential_lists_every_problem(tmp_path, capsys):
    backend_or_skip("chainer")
    code, _, out = imported(tmp_path, "UnsupportedSequential", (6,))
    assert code != 0 and not out.exists()
    printed = capsys.readouterr().out
    assert "elu_1 (elu): the importer has no translation for it" in printed
    assert "softplus_3 (softplus): the importer has no translation for it" in printed


def test_lstm_link_outside_a_step_loop_is_refused_with_the_reason():
    backend_or_skip("chainer")
    from harness.backends.chainer._import import L
    from harness.backends.chainer.registry import IMPORT_TRANSLATIONS

    reasons: list[str] = []
    IMPORT_TRANSLATIONS[L.LSTM](L.LSTM(3, 5), (3,), reasons)
    assert reasons and "x[:, t]" in reasons[0]
