"""Bidirectional's refusals are case errors that say what to write instead (issue 23).

Its numbers are checked elsewhere: the reference against finite differences
(tests/test_reference_gradients.py) and against keras.layers.Bidirectional, torch's
bidirectional modules and chainer's composite (tests/test_adapters.py, via harness/case/examples.py),
and an imported keras.io-style classifier (tests/test_import_sequence.py).
"""

from __future__ import annotations


import pytest

from harness.weights import load_cases_from_file
from harness.common.errors import CaseError

CASE = """\
name: bi
dtype: float64
samples: 4
inputs:
  x: {{shape: [3, 2], data: {{normal: {{mean: 0.0, std: 1.0}}}}}}
weights: {{seed: 1}}
model:
  sequential:
    - {{type: Bidirectional, name: bi, {settings}}}
"""


def load(tmp_path, settings: str):
    path = tmp_path / "bi.yaml"
    path.write_text(CASE.format(settings=settings))
    return load_cases_from_file(path)


def test_merge_mode_none_is_refused_with_the_graph_form_as_the_way_out(tmp_path):
    with pytest.raises(CaseError) as caught:
        load(tmp_path, "merge_mode: null, layer: {type: LSTM, units: 2}")
    message = str(caught.value)
    assert "merge_mode" in message and "go_backwards: true" in message


def test_a_wrapped_activation_that_cannot_act_per_step_is_a_case_error(tmp_path):
    with pytest.raises(CaseError) as caught:
        load(tmp_path, "layer: {type: SimpleRNN, units: 2, activation: {name: softmax, axis: 2}}")
    assert "softmax axis 2 is out of range" in str(caught.value)


def test_parameters_are_named_per_direction_in_the_wrapped_layout(tmp_path):
    (case,) = load(tmp_path, "merge_mode: sum, layer: {type: GRU, units: 2, reset_after: true}")
    assert dict(case.graph.parameter_shapes) == {
        "bi/forward/kernel": (2, 6), "bi/forward/recurrent_kernel": (2, 6), "bi/forward/bias": (2, 6),
        "bi/backward/kernel": (2, 6), "bi/backward/recurrent_kernel": (2, 6), "bi/backward/bias": (2, 6)}


def test_a_port_that_forgets_the_backward_flip_is_told_so():
    """docs/porting-a-sequence-model.md's mistake: the port concatenates the backward direction's
    sequence as computed. Half of layer `bidirectional` is off, and the search names the cause
    (the transform Bidirectional.backward_not_flipped), from the port's side too."""
    from harness.checks.runner import FAIL
    from tests.test_ports import case_file, verdicts, with_port

    case, name = with_port(case_file("porting_bilstm_imdb.yaml"),
                           "bilstm_unflipped=wrong_ports.py:bilstm_unflipped,weights_as=keras")
    checks = verdicts(case, name)
    for check in ("forward", "intermediates"):
        verdict = checks[check]
        assert verdict.verdict == FAIL, verdict.message
        assert verdict.hint is not None, verdict.message
        assert [step["transform"] for step in verdict.hint["transforms"]] == ["Bidirectional.backward_not_flipped"]
        assert "the backward direction's output is not reversed in time" in verdict.message
        assert "your code leaves the backward direction's output not reversed in time" in verdict.hint["port_side"]
    assert "divergence starts at layer 'bidirectional'" in checks["intermediates"].message
    assert "288 of 576 elements out of tolerance (50.0%)" in checks["intermediates"].message
