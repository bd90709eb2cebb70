"""A chainer Chain with its own forward, as chainer's examples write models, imported by tracing
the graph chainer records (harness/backends/chainer/trace.py): tests/chainer_nets.py's AlexLike
(explicit pads, a stride-2 convolution with pad (1, 0), max pooling with chainer's default
cover_all, BatchNormalization with running statistics, a residual addition, average pooling with
pad, Linear on a rank-4 input) becomes a graph-form case; chainer's own chain checks the case's
reference, then every backend runs it. And two refusals, each with its reason: chainer's cover_all
where torch's ceil_mode rule differs, and a function with no translation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from harness.backends.numpy_reference import run_reference
from harness.entry.cli import main
from harness.weights import load_cases_from_file
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

NETS = str(Path(__file__).resolve().parent / "chainer_nets.py")


def build_alex_like(chainer, size: int):
    """AlexLike with running statistics measured on normal data (train-mode passes; at their
    initial 0 and 1 BatchNormalization would be nearly the identity, checking little)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("chainer_nets", NETS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    np.random.seed(0)  # chainer's initializers draw from numpy's global generator
    net = module.AlexLike()
    data = np.random.default_rng(1).standard_normal((8, 3, size, size)).astype(np.float32)
    with chainer.using_config("train", True):
        for _ in range(5):
            net(data)
    return net


def import_chain(tmp_path, chainer, net, model: str, shape: str):
    chainer.serializers.save_npz(str(tmp_path / "net.npz"), net)
    out = tmp_path / "net.yaml"
    status = main(["import", model, "--weights", str(tmp_path / "net.npz"), "--input-shape", shape,
                   "--out", str(out)])
    return status, out


def test_import_chainer_chain_with_its_own_forward(tmp_path):
    backend_or_skip("chainer")
    from harness.backends.chainer._import import chainer

    net = build_alex_like(chainer, 32)
    status, out = import_chain(tmp_path, chainer, net, f"{NETS}:AlexLike", "3,32,32")
    assert status == 0
    (case,) = load_cases_from_file(out)
    nodes = {node.name: node for node in case.graph.nodes}
    layers = case.graph.layers
    assert (layers["conv1"].padding, layers["conv4"].padding, layers["conv4"].strides) == (2, [1, 0], [2, 2])
    assert layers["maxpoolingnd"].ceil_mode and layers["averagepooling2d"].count_include_pad
    assert nodes["add"].inputs == ["bn3", "relu_1"]  # the residual: bn3(conv3(h)) + h
    assert layers["bn2"].epsilon == net.bn2.eps
    np.testing.assert_allclose(case.weights["bn2/moving_mean"], net.bn2.avg_mean, rtol=1e-6)
    x = case.dataset.inputs["x"]
    with chainer.using_config("train", False):
        expected = net(x).array
    np.testing.assert_allclose(run_reference(case, train=False).outputs["fc6"], expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


REFUSED = {
    # cover_all keeps a last window that starts in the padding, torch's ceil_mode drops it: on 7
    # cells, window 2, stride 2, pad 1, chainer computes 5 outputs and the case's rule 4.
    "cover_all": ("""
        class Net(chainer.Chain):
            def __init__(self):
                super().__init__()
                with self.init_scope():
                    self.conv = L.Convolution2D(2, 2, 3, pad=1)

            def forward(self, x):
                return F.max_pooling_2d(self.conv(x), 2, stride=2, pad=1)
        """, "MaxPoolingND x 1: the case's layer gives shape (2, 4, 4), chainer's (2, 5, 5)"),
    "unknown function": ("""
        class Net(chainer.Chain):
            def __init__(self):
                super().__init__()
                with self.init_scope():
                    self.conv = L.Convolution2D(2, 2, 3, pad=1)

            def forward(self, x):
                return F.local_response_normalization(self.conv(x))
        """, "LocalResponseNormalization x 1: the importer has no translation for this function"),
}


@pytest.mark.parametrize("kind", REFUSED)
def test_import_chainer_trace_refuses_with_the_reason(kind, tmp_path, capsys):
    backend_or_skip("chainer")
    from harness.backends.chainer._import import chainer

    source, reason = REFUSED[kind]
    text = "import chainer\nimport chainer.functions as F\nimport chainer.links as L\n" + textwrap.dedent(source)
    (tmp_path / "net.py").write_text(text)
    namespace: dict = {}
    exec(compile(text, str(tmp_path / "net.py"), "exec"), namespace)
    net = namespace["Net"]()
    status, out = import_chain(tmp_path, chainer, net, f"{tmp_path / 'net.py'}:Net", "2,7,7")
    assert status != 0 and not out.exists()
    assert reason in " ".join(capsys.readouterr().out.split())
