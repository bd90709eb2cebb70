"""Backward localisation (issue 24): a port whose leaky_relu backward is wrong on one side fails
its gradients, and the check names the layer whose backward goes wrong while its forward agrees,
from its parameter gradients alone or from the per-layer output gradients it returns."""

from __future__ import annotations

from harness.checks.runner import FAIL, PASS, CaseRunner
from tests.test_ports import case_file, with_port


def judged(function):
    case, name = with_port(case_file("port_mlp_training.yaml"), f"{function}=backward_ports.py:{function}")
    runner = CaseRunner(case, diagnose=False)
    return {check: runner.check(name, check) for check in runner.checks()}


def test_a_wrong_leaky_relu_backward_is_named_at_its_layer():
    results = judged("leaky_backward_wrong")
    assert results["forward"].verdict == PASS and results["intermediates"].verdict == PASS
    gradients = results["gradients"]
    assert gradients.verdict == FAIL
    assert gradients.backward_divergence["layer"] == "hidden", gradients.message
    assert "backward: the backward pass diverges first at layer 'hidden'" in gradients.message
    assert "grad:output/kernel" not in gradients.backward_divergence["text"]  # the layer after it agrees


def test_returned_output_gradients_are_compared_and_localise_too():
    """d loss / d output agrees (the output layer's backward is right), d loss / d hidden's output
    agrees too (it is computed before the wrong derivative), and the hidden layer's parameter
    and input gradients do not: the hidden layer."""
    gradients = judged("leaky_backward_wrong_with_output_gradients")["gradients"]
    compared = {t.tensor: t.passed for t in gradients.tensors}
    assert compared["grad:output:output"] and compared["grad:output:hidden"]
    assert not compared["grad:hidden/kernel"]
    assert gradients.backward_divergence["layer"] == "hidden"


def test_a_right_port_gets_no_backward_divergence():
    case = case_file("port_mlp_training.yaml")
    runner = CaseRunner(case, diagnose=False)
    for name in case.port_names():
        result = runner.check(name, "gradients")
        assert result.verdict == PASS and result.backward_divergence is None


def test_a_port_gate_order_hint_is_said_from_the_port_side_too():
    """The shipped wrong port with the LSTM gate blocks f and c read the other way round: the hint
    names the permutation, and says which of the port's blocks is used as which gate."""
    from harness.backends import get_backend
    import pytest

    if get_backend("keras").unavailable_reason():
        pytest.skip("keras is not installed (the port's weights are Keras' get_weights())")
    case, name = with_port(case_file("port_lstm_numpy.yaml"), "gates=wrong_ports.py:lstm_gate_order")
    forward = CaseRunner(case).check(name, "forward")
    assert forward.verdict == FAIL and forward.hint is not None, forward.message
    assert "in your port: in layer lstm, your block 2 (the c weights) is used as the f (forget) gate" \
        in forward.message
    assert "your block 1 (the f weights) is used as the c (cell) gate" in forward.hint["port_side"]
