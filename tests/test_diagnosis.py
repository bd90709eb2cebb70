"""Diagnosis hints against deliberately wrong backends: one fault per transform family, made here
by hand (weights edited with NumPy, or the case the framework receives written with another
value), run in torch, then judged by the runner. The hint must name the injected transform and
the layer; a backend that passes gets no hint."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from harness.backends import get_backend
from harness.weights import cases_from_data
from harness.checks.runner import FAIL, PASS, CaseRunner, FrameworkOutcome

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(get_backend("torch").unavailable_reason() is not None,
                                reason="torch is not installed")


def base(model, *, shape, targets, loss=None, **extra):
    data = {"name": "fault", "dtype": "float32", "samples": 8, "data_seed": 3,
            "inputs": {"x": {"shape": shape, "data": {"normal": {"mean": 0.0, "std": 1.5}}}},
            "targets": {"t": {"shape": targets, "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "model": {"sequential": model},
            "weights": {"seed": 7, "defaults": {"bias": {"initializer": "random_normal", "stddev": 0.5}}},
            "loss": loss or {"type": "mean_squared_error", "reduction": "mean"}}
    data.update(extra)
    return data


def edit_weights(change):
    """A fault in the weights torch receives: `change(weights)` edits a copy in place."""
    def faulty(case, data):
        weights = {k: v.copy() for k, v in case.weights.items()}
        change(weights)
        case.weights = weights
        return case
    return faulty


def edit_data(change):
    """A fault in what the case says to torch: `change(data)` edits a copy of the case data."""
    def faulty(case, data):
        data = copy.deepcopy(data)
        change(data)
        (wrong,) = cases_from_data(data)
        return wrong
    return faulty


def swap_lstm_blocks(weights):
    for name in ("lstm/kernel", "lstm/recurrent_kernel", "lstm/bias"):
        value = weights[name]
        u = value.shape[-1] // 4
        i, f = value[..., :u].copy(), value[..., u:2 * u].copy()
        value[..., :u], value[..., u:2 * u] = f, i


def negate_gru_z(weights):
    for name in ("gru/kernel", "gru/recurrent_kernel", "gru/bias"):
        u = weights[name].shape[-1] // 3
        weights[name][..., :u] *= -1


def setting(path, value):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


LSTM = [{"type": "LSTM", "name": "lstm", "units": 3}, {"type": "Dense", "name": "out", "units": 2}]
GRU = [{"type": "GRU", "name": "gru", "units": 3, "reset_after": True}, {"type": "Dense", "name": "out", "units": 2}]
DENSE = [{"type": "Dense", "name": "square", "units": 4, "activation": "tanh"}, {"type": "Dense", "name": "out", "units": 2}]
CONV = [{"type": "Conv2D", "name": "conv", "filters": 2, "kernel_size": 3, "padding": "valid",
         "data_format": "channels_last", "activation": "tanh"},
        {"type": "Flatten", "name": "flat"}, {"type": "Dense", "name": "out", "units": 2}]
SAME = [{"type": "Conv2D", "name": "conv", "filters": 2, "kernel_size": 2, "padding": "same",
         "data_format": "channels_last", "activation": "tanh"},
        {"type": "Flatten", "name": "flat"}, {"type": "Dense", "name": "out", "units": 2}]
LEAKY = [{"type": "Dense", "name": "hidden", "units": 5, "activation": {"name": "leaky_relu", "negative_slope": 0.2}},
         {"type": "Dense", "name": "out", "units": 2}]
BN = [{"type": "Dense", "name": "hidden", "units": 4},
      {"type": "BatchNormalization", "name": "bn", "epsilon": 0.5, "momentum": 0.9, "moving_variance": "biased"},
      {"type": "Dense", "name": "out", "units": 2}]
SOFTMAX = [{"type": "Dense", "name": "scores", "units": 3, "activation": {"name": "softmax", "axis": -1}}]
ADAM = {"type": "adam", "learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.5, "epsilon": 0.1,
        "epsilon_placement": "before_bias_correction"}

def flatten_channels_first(data):
    """torch flattens the conv output in (C, H, W) order: a Permute before its Flatten."""
    data["model"]["sequential"].insert(1, {"type": "Permute", "name": "injected_permute", "dims": [3, 1, 2]})


def pad_at_start(data):
    """'same' as explicit padding with the odd cell first, then a 'valid' convolution."""
    conv = data["model"]["sequential"][0]
    conv["padding"] = "valid"
    data["model"]["sequential"].insert(0, {"type": "ZeroPadding2D", "name": "injected_pad",
                                           "padding": [[1, 0], [1, 0]], "data_format": "channels_last"})


def swap_bidirectional_blocks(weights):
    """A port that reads both directions of a Bidirectional LSTM with i and f swapped."""
    for direction in ("forward", "backward"):
        for name in ("kernel", "recurrent_kernel", "bias"):
            value = weights[f"bi/{direction}/{name}"]
            u = value.shape[-1] // 4
            i, f = value[..., :u].copy(), value[..., u:2 * u].copy()
            value[..., :u], value[..., u:2 * u] = f, i


BIDIRECTIONAL = [{"type": "Bidirectional", "name": "bi", "layer": {"type": "LSTM", "units": 3}},
                 {"type": "Dense", "name": "out", "units": 2}]

# (id, case data, fault, expected transform, expected layer)
FAULTS = [
    ("Bidirectional gate order", base(BIDIRECTIONAL, shape=[4, 3], targets=[2]),
     edit_weights(swap_bidirectional_blocks), "recurrent.gate_order", "bi"),
    ("gate order", base(LSTM, shape=[4, 3], targets=[2]), edit_weights(swap_lstm_blocks),
     "recurrent.gate_order", "lstm"),
    ("GRU z vs 1 - z", base(GRU, shape=[4, 3], targets=[2]), edit_weights(negate_gru_z), "GRU.update_gate", "gru"),
    ("transposed kernel", base(DENSE, shape=[4], targets=[2]),
     edit_weights(lambda w: w.__setitem__("square/kernel", w["square/kernel"].T.copy())), "kernel.transposed", "square"),
    ("flipped kernel", base(CONV, shape=[5, 5, 2], targets=[2]),
     edit_weights(lambda w: w.__setitem__("conv/kernel", w["conv/kernel"][::-1, ::-1].copy())),
     "conv.flipped_kernel", "conv"),
    ("bias added twice", base(DENSE, shape=[4], targets=[2]),
     edit_weights(lambda w: w.__setitem__("out/bias", 2 * w["out/bias"])), "bias.dropped_or_doubled", "out"),
    ("Flatten channel order", base(CONV, shape=[6, 6, 2], targets=[2]), edit_data(flatten_channels_first),
     "Flatten.channel_order", "flat"),
    ("same padding odd cell", base(SAME, shape=[5, 5, 2], targets=[2]), edit_data(pad_at_start),
     "padding.same_odd_cell", "conv"),
    ("gelu formula", base([{"type": "Dense", "name": "hidden", "units": 4,
                            "activation": {"name": "gelu", "approximate": "none"}}], shape=[3], targets=[4]),
     edit_data(setting(("model", "sequential", 0, "activation", "approximate"), "tanh")), "gelu.approximate", "hidden"),
    ("hard_sigmoid formula", base([{"type": "Dense", "name": "hidden", "units": 4,
                                    "activation": {"name": "hard_sigmoid", "slope": 1 / 6}}], shape=[3], targets=[4]),
     edit_data(setting(("model", "sequential", 0, "activation", "slope"), 0.2)), "hard_sigmoid.slope", "hidden"),
    ("leaky slope default", base(LEAKY, shape=[3], targets=[2]),
     edit_data(setting(("model", "sequential", 0, "activation", "negative_slope"), 0.01)),
     "leaky_relu.negative_slope", "hidden"),
    ("BatchNorm epsilon default", base(BN, shape=[3], targets=[2]),
     edit_data(setting(("model", "sequential", 1, "epsilon"), 1e-5)), "BatchNormalization.epsilon", "bn"),
    ("BatchNorm momentum convention", base(BN, shape=[3], targets=[2], mode="training"),
     edit_data(setting(("model", "sequential", 1, "momentum"), 0.1)), "BatchNormalization.momentum_convention", "bn"),
    ("softmax axis", base(SOFTMAX, shape=[2, 4], targets=[2, 3]),
     edit_data(setting(("model", "sequential", 0, "activation", "axis"), 1)), "softmax.axis", "scores"),
    ("from_logits", base([{"type": "Dense", "name": "out", "units": 3, "activation": "softmax"}], shape=[4], targets=[3],
                         loss={"type": "categorical_crossentropy", "from_logits": False, "reduction": "mean"}),
     edit_data(setting(("loss", "from_logits"), True)), "crossentropy.from_logits", None),
    ("Adam epsilon placement", base([{"type": "Dense", "name": "out", "units": 2}], shape=[3], targets=[2],
                                    optimizer=ADAM, training={"steps": 3, "batch_size": 8},
                                    checks=["forward", "training"]),
     edit_data(setting(("optimizer", "epsilon_placement"), "after_bias_correction")), "adam.epsilon_placement", None),
]


def run_with_fault(data, faulty, *, diagnose=True):
    (case,) = cases_from_data(data)
    wrong = faulty(copy.copy(case), data)
    result = get_backend("torch").run(wrong)
    runner = CaseRunner(case, diagnose=diagnose)
    runner._outcomes["torch"] = FrameworkOutcome("torch", result=result)
    return runner, [runner.check("torch", check) for check in runner.checks()]


@pytest.mark.parametrize("data, faulty, transform, layer", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_hint_names_the_injected_transform_and_layer(data, faulty, transform, layer):
    _, checks = run_with_fault(data, faulty)
    failed = [c for c in checks if c.verdict == FAIL]
    assert failed, "the injected fault must make a check fail"
    for check in failed:
        assert check.hint is not None, f"no hint for {check.check}: {check.message}"
        (named,) = check.hint["transforms"]
        assert named["transform"] == transform and named["layer"] == layer, check.hint["text"]
        assert "hint: torch matches the reference if" in check.message
        print(check.check, "->", check.hint["text"], f"({check.hint['tried']} tried, {check.hint['seconds']:.3f} s)")


def test_no_hint_on_a_backend_that_passes():
    data = base(LSTM, shape=[4, 3], targets=[2])
    (case,) = cases_from_data(data)
    runner = CaseRunner(case)
    checks = [runner.check("torch", check) for check in runner.checks()]
    assert all(c.verdict == PASS and c.hint is None for c in checks)


def test_an_unknown_fault_gets_no_hint():
    """Noise no transform explains: no hint, never a guess."""
    def noise(weights):
        weights["out/kernel"] = weights["out/kernel"] + np.random.default_rng(0).normal(0, 0.3, weights["out/kernel"].shape)
    _, checks = run_with_fault(base(DENSE, shape=[4], targets=[2]), edit_weights(noise))
    assert any(c.verdict == FAIL for c in checks)
    assert all(c.hint is None for c in checks)


def test_documented_difference_gets_a_hint_in_results_console_and_page(tmp_path):
    """A shipped case whose torch difference is real (torch's leaky_relu default slope): the
    hint names torch's own default, read from torch by the defaults audit."""
    import json

    from harness.entry.session import run_session

    lines = []
    session = run_session(["cases/defaults_leaky_relu.yaml"], frameworks=["numpy", "torch"], select="function",
                          out_dir=tmp_path / "report", command="test", require_frameworks=False, echo=lines.append)
    results = json.loads(session.results_path.read_text())
    hints = {r["hint"]["text"] for r in results["records"] if r.get("hint")}
    assert hints, "no hint in results.json"
    (text,) = hints
    assert text.startswith("torch matches the reference if leaky_relu's negative slope is 0.01") and "layer output" in text
    assert any("hint: " + text in line for line in lines)
    page = (tmp_path / "report" / "cases" / "defaults_leaky_relu.function.html").read_text()
    assert "Hint:" in page and "negative slope is 0.01" in page
    assert "Strength" in page and results["strength"]["total"] >= 1


def test_two_faults_are_named_as_a_pair():
    data = base(LEAKY, shape=[3], targets=[2])
    slope = edit_data(setting(("model", "sequential", 0, "activation", "negative_slope"), 0.01))
    doubled = edit_weights(lambda w: w.__setitem__("out/bias", 2 * w["out/bias"]))
    _, checks = run_with_fault(data, lambda case, d: doubled(slope(case, d), d))
    failed = [c for c in checks if c.verdict == FAIL]
    assert failed
    for check in failed:
        assert check.hint is not None, check.message
        named = {(t["transform"], t["layer"]) for t in check.hint["transforms"]}
        assert named == {("leaky_relu.negative_slope", "hidden"), ("bias.dropped_or_doubled", "out")}


def test_keras_channels_first_bias_is_named_by_its_transform():
    """The shipped finding, in Keras itself (not injected): its grouped variant runs natively on
    every CPU, and the hint names the bias added along the width (bias.other_axis)."""
    from pathlib import Path

    from harness.weights import load_cases_from_file
    from tests.conftest import backend_or_skip

    backend_or_skip("keras")
    path = Path(__file__).resolve().parents[1] / "cases" / "discovered_keras_channels_first_bias.yaml"
    (case,) = [c for c in load_cases_from_file(path) if c.id.endswith(".conv2d_grouped")]
    check = CaseRunner(case).check("keras", "forward")
    assert check.verdict == "expected-difference", check.message
    (named,) = check.hint["transforms"]
    assert (named["transform"], named["layer"]) == ("bias.other_axis", "conv"), check.hint["text"]
