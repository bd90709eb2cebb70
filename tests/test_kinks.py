"""Kink crossings (harness/diagnosis/kinks.py): a ReLU input that a backend's rounding puts on
the other side of 0 from the reference is named on a failed gradients check, and only where the
reference's value is within the backend's own error on that tensor."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from harness.diagnosis.kinks import kink_crossings, kink_text


def node(name, inputs, **spec):
    return SimpleNamespace(name=name, inputs=inputs, spec=SimpleNamespace(**spec))


RELU = SimpleNamespace(name="relu")
GRAPH = SimpleNamespace(nodes=[
    node("conv", ["x"], type="Conv2D", activation=SimpleNamespace(name="linear")),
    node("bn", ["conv"], type="BatchNormalization"),
    node("act", ["bn"], type="Activation", activation=RELU),
    node("dense", ["act"], type="Dense", activation=RELU),  # a fused relu: its output's sign
])


def run(bn, dense):
    return SimpleNamespace(intermediates={"bn": np.asarray(bn), "dense": np.asarray(dense)})


def test_a_relu_input_rounded_across_zero_is_named():
    """resnet18's bn1 at 224x224: +5.0e-8 in float64, -1.8e-8 in float32 with errors up to 8.5e-7
    on that tensor (docs/vision-models.md)."""
    reference = run([[5.0e-8, 1.0, -2.0]], [[0.5, 0.0]])
    actual = run([[-1.8e-8, 1.0 + 8.5e-7, -2.0]], [[0.5, 0.0]])
    case = SimpleNamespace(graph=GRAPH)
    (crossing,) = kink_crossings(case, actual, reference)
    assert (crossing.node, crossing.tensor, crossing.index) == ("act", "bn", (0, 0))
    assert crossing.reference == 5.0e-8 and crossing.actual == -1.8e-8
    text = kink_text([crossing], "act")
    assert "'bn' at [0, 0] is +5e-08 in the reference and -1.8e-08 here" in text
    assert "the backward divergence above is at that ReLU ('act') or the layer feeding it" in text


def test_a_fused_relu_output_zero_on_one_side_only_is_named():
    reference = run([[1.0]], [[3e-8, 2.0]])
    actual = run([[1.0]], [[0.0, 2.0 + 1e-7]])
    (crossing,) = kink_crossings(SimpleNamespace(graph=GRAPH), actual, reference)
    assert (crossing.node, crossing.tensor, crossing.index) == ("dense", "dense", (0, 0))


def test_a_sign_off_by_more_than_the_rounding_is_no_kink():
    """A value of 0.3 computed as -0.3 is a wrong forward pass, not rounding at the kink."""
    reference = run([[0.3, 1.0]], [[0.5, 0.0]])
    actual = run([[-0.3, 1.0]], [[0.5, 0.0]])
    assert kink_crossings(SimpleNamespace(graph=GRAPH), actual, reference) == []


def test_no_kink_in_a_tensor_whose_forward_is_off():
    """With the intermediates tolerance: a tensor off elsewhere (a translation error) is no
    rounding at the kink, even where a sign that differs is small."""
    from harness.common.compare import DEFAULT_TOLERANCES

    tolerance = DEFAULT_TOLERANCES["float32"]["intermediates"]
    reference = run([[5.0e-8, 1.0]], [[0.5, 0.0]])
    rounded = run([[-1.8e-8, 1.0 + 8.5e-7]], [[0.5, 0.0]])
    wrong = run([[-1.8e-8, 1.5]], [[0.5, 0.0]])
    case = SimpleNamespace(graph=GRAPH)
    assert len(kink_crossings(case, rounded, reference, tolerance)) == 1
    assert kink_crossings(case, wrong, reference, tolerance) == []
