"""A chainer CNN with explicit pads imported: Convolution2D(ksize 3, stride 2, pad 1) and
(ksize 5, pad 1), DepthwiseConvolution2D(multiplier 2, pad 1) in a chainer.Sequential become the
case's Conv2D / DepthwiseConv2D with explicit padding. chainer's own chain checks the case's
reference, then every backend runs the case."""

from __future__ import annotations

import textwrap

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

CHAIN = textwrap.dedent("""
    import chainer
    import chainer.functions as F
    import chainer.links as L

    class CNN(chainer.Sequential):
        def __init__(self):
            super().__init__(L.Convolution2D(2, 4, ksize=3, stride=2, pad=1), F.relu,
                             L.DepthwiseConvolution2D(4, 2, ksize=3, pad=1), F.tanh,
                             L.Convolution2D(8, 3, ksize=5, pad=1), L.Linear(None, 3))
""")


def test_import_chainer_cnn_with_explicit_pads(tmp_path):
    backend_or_skip("chainer")
    from harness.backends.chainer._import import chainer

    (tmp_path / "cnn.py").write_text(CHAIN)
    namespace: dict = {}
    exec(compile(CHAIN, str(tmp_path / "cnn.py"), "exec"), namespace)
    np.random.seed(3)  # chainer's initializers draw from numpy's global generator
    cnn = namespace["CNN"]()
    cnn(np.zeros((1, 2, 9, 8), dtype=np.float32))  # Linear(None, 3) sizes itself on the first call
    chainer.serializers.save_npz(str(tmp_path / "cnn.npz"), cnn)
    out = tmp_path / "cnn.yaml"
    assert main(["import", f"{tmp_path / 'cnn.py'}:CNN", "--weights", str(tmp_path / "cnn.npz"),
                 "--input-shape", "2,9,8", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    paddings = [(type(spec).type_name(), spec.padding) for spec in case.graph.layers.values()
                if hasattr(spec, "padding")]
    assert paddings == [("Conv2D", 1), ("DepthwiseConv2D", "same"), ("Conv2D", 1)]
    x = case.dataset.inputs["x"]
    with chainer.using_config("train", False):
        expected = cnn(x).array
    np.testing.assert_allclose(run_reference(case, train=False).outputs[case.graph.outputs[0]], expected,
                               rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
