"""The LSTM's and GRU's `chainer_link`: which link the chainer adapter builds, and NStepLSTM's
real gate order, read from the installed chainer rather than from its docstring.

chainer/functions/rnn/n_step_lstm.py documents o_t = sigma(W_2 x + ...) and
a_t = tanh(W_3 x + ...), but its `_lstm` stacks [w[2], w[0], w[1], w[3]] into F.lstm's
(a, i, f, o): w2 is the candidate and w3 the output gate. The first test runs the link itself
with weights placed both ways and compares it with the NumPy reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.case.case import cases_from_data, load_cases_from_file
from harness.common.errors import CaseError
from harness.reference.layers import LAYERS
from tests.conftest import backend_or_skip

CASES = Path(__file__).resolve().parent.parent / "cases"


def _nstep_lstm_output(order: tuple[str, ...], kernel, recurrent, bias, x):
    """L.NStepLSTM's last output with Keras' gate blocks placed in w0..w3 by `order`."""
    import chainer  # an optional framework: imported only where this test runs
    import chainer.links as L

    units = recurrent.shape[0]
    blocks = {gate: slice(k * units, (k + 1) * units) for k, gate in enumerate("ifco")}
    with chainer.using_config("dtype", np.float64):
        link = L.NStepLSTM(1, x.shape[-1], units, 0.0)
    for k, gate in enumerate(order):
        link.ws[0][k].array[...] = kernel[:, blocks[gate]].T
        link.ws[0][4 + k].array[...] = recurrent[:, blocks[gate]].T
        link.bs[0][k].array[...] = bias[blocks[gate]]
        link.bs[0][4 + k].array[...] = 0.0
    _, _, ys = link(None, None, list(x))
    return np.stack([y.array[-1] for y in ys])


def test_nstep_lstm_gate_order_is_its_code_not_its_docstring():
    backend_or_skip("chainer")
    rng = np.random.default_rng(0)
    spec = LAYERS["LSTM"].model_validate({"type": "LSTM", "units": 3})
    params = {name: rng.normal(size=shape) for name, shape in spec.parameter_shapes([(4, 2)]).items()}
    x = rng.normal(size=(2, 4, 2))
    expected = spec.reference(spec, params).forward(x)
    code = _nstep_lstm_output(("i", "f", "c", "o"), params["kernel"], params["recurrent_kernel"], params["bias"], x)
    docstring = _nstep_lstm_output(("i", "f", "o", "c"), params["kernel"], params["recurrent_kernel"],
                                   params["bias"], x)
    np.testing.assert_allclose(code, expected, rtol=1e-10, atol=1e-12)  # float64 throughout
    assert np.abs(docstring - expected).max() > 1e-2


@pytest.mark.parametrize("variant, native", [
    ("nstep_lstm", "chainer.links.NStepLSTM"),
    ("stateful_lstm", "chainer.links.LSTM"),
    ("nstep_bilstm", "chainer.links.NStepBiLSTM"),
])
def test_the_named_link_is_built(variant, native):
    backend = backend_or_skip("chainer")
    (case,) = [c for c in load_cases_from_file(CASES / "recurrent_chainer_links.yaml") if c.id.endswith(f".{variant}")]
    with backend.session(case):
        _, implementations = backend.build(case)
    first = next(iter(implementations.values()))
    assert first.implementation == "native" and first.detail.startswith(native), first.detail


def test_a_gru_link_of_the_other_form_is_a_case_error():
    data = {"name": "g", "dtype": "float64", "samples": 2,
            "inputs": {"x": {"shape": [3, 2], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "model": {"sequential": [{"type": "GRU", "units": 2, "reset_after": True, "chainer_link": "StatelessGRU"}]}}
    with pytest.raises(CaseError, match="reset_after: true needs NStepGRU"):
        cases_from_data(data, file="<gru>")
