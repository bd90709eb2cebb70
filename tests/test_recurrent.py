"""Recurrent layers beyond the generic example tests (finite differences, round trips and
single-layer agreement run in test_reference_gradients.py and test_adapters.py):

* every transform's description tells the truth: the native rows (elements) it names for each
  gate hold the canonical columns it names, checked by pushing labelled arrays through it;
* no framework trains more than Keras does: the trainable native elements add up to the
  canonical parameter count (torch's second bias is frozen, chainer's removed), and a torch
  optimizer step leaves the frozen bias at zero;
* unit_forget_bias gives the bias Keras itself gives; reset_after must be written out.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from harness.backends.base import Unsupported
from harness.weights import load_cases
from harness.common.errors import CaseError
from harness.case.examples import RECURRENT_EXAMPLES, single_layer_case
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip

BLOCK = re.compile(r"(\d+):(\d+) [a-z ]+? (\w+)(?: \(([^)]*)\))?(?=,|$)")
INTERLEAVED = re.compile(r"(\d+)j\+(\d+) (\w+) \(([^)]*)\)")
SOURCE_RANGE = re.compile(r"(?:columns|elements) (\d+):(\d+)")
SOURCE_OFFSET = re.compile(r"(?:column|element) (?:(\d+)\+)?j\b")


def built_layer(framework, example):
    backend = backend_or_skip(framework)
    case = single_layer_case(example)
    with backend.session(case):
        try:
            built, _ = backend.build(case)
        except Unsupported as exc:
            pytest.skip(str(exc))
    return backend, case, built["layer"]


def check_description(description: str, canonical: np.ndarray, native: np.ndarray) -> None:
    """Every native gate position the text names holds the canonical entries it names."""
    row = re.search(r"row (\d+) of the canonical", description)
    source = canonical[int(row.group(1))] if row else canonical
    if "transposed" in description:
        native = native.T
    if "negated" in description:
        native = -native
    gate_text = description.split(";")[-1]
    covered = np.zeros(native.shape[-1], dtype=bool)
    interleaved = INTERLEAVED.findall(gate_text)
    if interleaved:
        gates = len(interleaved)
        for n, k, _, note in interleaved:
            assert int(n) == gates, description
            offset = SOURCE_OFFSET.search(note)
            start = int(offset.group(1) or 0)
            units = native.shape[-1] // gates
            positions = np.arange(units) * gates + int(k)
            np.testing.assert_array_equal(native[..., positions], source[..., start:start + units],
                                          err_msg=description)
            covered[positions] = True
    else:
        blocks = BLOCK.findall(gate_text)
        assert blocks, description
        for first, last, _, note in blocks:
            first, last = int(first), int(last)
            found = SOURCE_RANGE.search(note or "")
            start = int(found.group(1)) if found else first
            np.testing.assert_array_equal(native[..., first:last], source[..., start:start + last - first],
                                          err_msg=description)
            covered[first:last] = True
    assert covered.all(), f"the description leaves native positions unaccounted for: {description}"


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
@pytest.mark.parametrize("example", RECURRENT_EXAMPLES, ids=lambda e: e.id)
def test_gate_descriptions_match_the_transforms(framework, example):
    _, case, layer = built_layer(framework, example)
    for binding in layer.bindings:
        shape = case.graph.parameter_shapes[f"layer/{binding.parameter}"]
        labels = np.arange(1, math.prod(shape) + 1, dtype=np.float64).reshape(shape)  # 0 = "not taken"
        native = binding.transform.to_native(labels)
        if binding.parameter.startswith("peephole_"):  # PeepholeLSTM's (units, units) matrices: no gate blocks
            description = binding.transform.description
            np.testing.assert_array_equal(native, labels.T if description.startswith("transposed") else labels,
                                          err_msg=description)
            continue
        check_description(binding.transform.description, labels, native)


def test_the_description_check_catches_a_false_claim():
    from harness.backends.gates import GateLayout, gate_transform

    keras_order = GateLayout(("z", "r", "h"), ("z", "r", "h"), transposed=True)
    torch_order = GateLayout(("z", "r", "h"), ("r", "z", "h"), transposed=True)
    labels = np.arange(1, 3 * 6 + 1, dtype=np.float64).reshape(3, 6)
    claimed = gate_transform(torch_order, 2, (3, 6)).description
    check_description(claimed, labels, gate_transform(torch_order, 2, (3, 6)).to_native(labels))
    with pytest.raises(AssertionError):
        check_description(claimed, labels, gate_transform(keras_order, 2, (3, 6)).to_native(labels))


def trainable_native_elements(framework: str, module) -> int:
    if framework == "torch":
        return sum(p.numel() for p in module.parameters() if p.requires_grad)
    if framework == "chainer":
        return sum(p.size for p in module.params())
    return sum(math.prod(w.shape) for w in module.trainable_weights)


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
@pytest.mark.parametrize("example", RECURRENT_EXAMPLES, ids=lambda e: e.id)
def test_no_framework_trains_more_parameters_than_keras_defines(framework, example):
    _, case, layer = built_layer(framework, example)
    canonical = sum(math.prod(shape) for shape in case.graph.parameter_shapes.values())
    assert trainable_native_elements(framework, layer.module) == canonical


def test_torch_second_bias_stays_zero_through_an_optimizer_step():
    backend = backend_or_skip("torch")
    import torch

    example = next(e for e in RECURRENT_EXAMPLES if e.type == "LSTM")
    case = single_layer_case(example, dtype="float32")
    built, _ = backend.build(case)
    backend.load_weights(case, built)
    module = built["layer"].module
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    built["layer"].call(torch.from_numpy(case.dataset.inputs["in0"])).square().sum().backward()
    torch.optim.SGD(module.parameters(), lr=0.1).step()
    assert torch.equal(module.bias_hh_l0, torch.zeros_like(module.bias_hh_l0))
    assert not torch.equal(module.bias_ih_l0, before["bias_ih_l0"])


def test_chainer_nstep_lstm_follows_its_code_not_its_docstring():
    """chainer/functions/rnn/n_step_lstm.py: the docstring gives W2 to the output gate and W3 to
    the candidate, `_lstm` feeds W2 to the candidate and W3 to the output gate. Keras' blocks
    [i, f, c, o] loaded as W0..W3 agree with the reference; the docstring's [i, f, o, c] do not.
    (The adapter uses L.StatelessLSTM, which has Keras' single bias; this pins the comment.)"""
    backend = backend_or_skip("chainer")
    import chainer.links as L

    from harness.backends.numpy_reference import run_reference

    example = next(e for e in RECURRENT_EXAMPLES if e.type == "LSTM" and not e.config.get("return_sequences"))
    case = single_layer_case(example)
    reference = run_reference(case).outputs["layer"]
    K, R, b = (case.weights[f"layer/{name}"] for name in ("kernel", "recurrent_kernel", "bias"))
    u = example.config["units"]

    def run(order):
        with backend.session(case):
            link = L.NStepLSTM(1, K.shape[0], u, 0.0)
            for k, gate in enumerate(order):
                block = slice(gate * u, (gate + 1) * u)
                link.ws[0][k].array[...] = K[:, block].T
                link.ws[0][4 + k].array[...] = R[:, block].T
                link.bs[0][k].array[...] = b[block]
                link.bs[0][4 + k].array[...] = 0.0
            _, _, ys = link(None, None, list(case.dataset.inputs["in0"]))
        return np.stack([y.array[-1] for y in ys])

    np.testing.assert_allclose(run([0, 1, 2, 3]), reference, rtol=1e-12, atol=1e-14)
    assert np.abs(run([0, 1, 3, 2]) - reference).max() > 1e-2


LSTM_CASE = """\
name: lstm_init
samples: 2
inputs:
  x: {shape: [3, 2], data: {normal: {mean: 0.0, std: 1.0}}}
targets:
  t: {shape: [4], data: {normal: {mean: 0.0, std: 1.0}}}
model:
  sequential:
    - {type: LSTM, name: lstm, units: 4%s}
%s
loss: {type: mean_squared_error, reduction: mean}
"""


def lstm_bias(tmp_path: Path, settings: str = "", weights: str = "") -> np.ndarray:
    path = tmp_path / "case.yaml"
    path.write_text(LSTM_CASE % (settings, weights))
    (case,) = load_cases([path])
    return case, case.weights["lstm/bias"]


def test_unit_forget_bias_matches_the_bias_keras_initialises(tmp_path):
    case, bias = lstm_bias(tmp_path)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    backend = backend_or_skip("keras")
    with backend.session(case):
        built, _ = backend.build(case)
    keras_bias = next(b for b in built["lstm"].bindings if b.parameter == "bias")
    np.testing.assert_array_equal(backend.read(keras_bias.native), bias)  # Keras' own initial value


def test_unit_forget_bias_wraps_any_initializer_but_not_explicit_values(tmp_path):
    _, bias = lstm_bias(tmp_path, weights="weights: {defaults: {bias: {initializer: random_normal, stddev: 1.0}}}")
    np.testing.assert_array_equal(bias[4:8], 1.0)
    assert np.all(bias[:4] != 1.0) and np.all(bias[8:] != 1.0)
    _, bias = lstm_bias(tmp_path, ", unit_forget_bias: false")
    np.testing.assert_array_equal(bias, 0.0)
    values = np.arange(16) / 8
    _, bias = lstm_bias(tmp_path, weights=f"weights: {{parameters: {{lstm/bias: {{values: {values.tolist()}}}}}}}")
    np.testing.assert_array_equal(bias, values.astype(np.float32))


def test_gru_reset_after_has_no_default(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(LSTM_CASE.replace("type: LSTM", "type: GRU") % ("", ""))
    with pytest.raises(CaseError) as info:
        load_cases([path])
    assert "model.sequential[0].reset_after: required field is missing" in info.value.render()


def test_recurrent_layers_need_a_time_axis(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text((LSTM_CASE % ("", "")).replace("shape: [3, 2]", "shape: [6]"))
    with pytest.raises(CaseError) as info:
        load_cases([path])
    assert "LSTM needs input (time, features)" in info.value.render()
