"""The catalogue of semantic transforms: each variant computes the meaning it claims, checked
against an independent computation (another graph of the reference's plain layers, a hand
computation, NumPy's own convolution), and the variant hooks' gradients against finite
differences."""

from __future__ import annotations

import numpy as np
import pytest

from harness.weights import cases_from_data
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from harness.diagnosis import TRANSFORMS, Context, applicable_variants, transformed_case
from tests.helpers import numeric_gradient

# A defaults table shaped like harness/defaults' JSON, for tests that need no framework.
TABLE = {"rows": [
    {"key": "leaky_relu.negative_slope",
     "cells": {"torch": {"readings": [{"api": "torch.nn.functional.leaky_relu", "effective": 0.01}]}}},
    {"key": "adam.epsilon",
     "cells": {"keras": {"readings": [{"api": "keras.optimizers.Adam", "effective": 1e-7}]}}},
]}


def one_case(model, *, shape, loss=None, extra=None):
    data = {"name": "t", "dtype": "float64", "samples": 3, "data_seed": 1,
            "inputs": {"x": {"shape": shape, "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "model": {"sequential": model},
            "weights": {"seed": 2, "defaults": {"bias": {"initializer": "random_normal", "stddev": 0.5}}},
            "loss": loss or {"type": "mean_squared_error", "reduction": "mean"},
            "targets": {"t": {"data": {"normal": {"mean": 0.0, "std": 1.0}},
                              "shape": None}}}
    data.update(extra or {})
    return data


def build(model, *, shape, out_shape, **kw):
    data = one_case(model, shape=shape, **kw)
    data["targets"]["t"]["shape"] = out_shape
    (case,) = cases_from_data(data)
    return case


def variant(case, name, choice_part=""):
    found = [v for v in applicable_variants(case, Context(TABLE))
             if v.transform.name == name and choice_part in v.choice]
    assert found, f"no {name} variant {choice_part!r}"
    return found[0]


def test_every_transform_has_a_description_and_a_phrase():
    assert len(TRANSFORMS) >= 20
    for transform in TRANSFORMS.values():
        assert transform.description and "{choice}" in transform.phrase and transform.tags


def test_cli_lists_every_transform(capsys):
    assert main(["transforms"]) == 0
    out = capsys.readouterr().out
    for name in TRANSFORMS:
        assert name in out


def test_same_padding_odd_cell_at_start_equals_explicit_padding_then_valid():
    conv = {"type": "Conv2D", "name": "conv", "filters": 2, "kernel_size": 2, "padding": "same",
            "data_format": "channels_last"}
    case = build([conv], shape=[5, 4, 3], out_shape=[5, 4, 2])
    moved = run_reference(transformed_case(case, [variant(case, "padding.same_odd_cell")]))
    explicit = build([{"type": "ZeroPadding2D", "padding": [[1, 0], [1, 0]], "data_format": "channels_last"},
                      {**conv, "padding": "valid"}], shape=[5, 4, 3], out_shape=[5, 4, 2])
    explicit.weights = {key.replace("conv/", "conv/"): value for key, value in case.weights.items()}
    expected = run_reference(explicit)
    np.testing.assert_allclose(moved.outputs["conv"], expected.outputs["conv"], rtol=1e-12)
    np.testing.assert_allclose(moved.parameter_gradients["conv/kernel"],
                               expected.parameter_gradients["conv/kernel"], rtol=1e-10)
    np.testing.assert_allclose(moved.input_gradients["x"], expected.input_gradients["x"], rtol=1e-10)
    plain = run_reference(case)
    assert not np.allclose(plain.outputs["conv"], moved.outputs["conv"])


def test_explicit_padding_side_equals_the_swapped_case():
    conv = {"type": "Conv2D", "name": "conv", "filters": 2, "kernel_size": 3, "strides": 2,
            "padding": [[0, 1], [2, 1]], "data_format": "channels_last"}
    case = build([conv], shape=[6, 5, 2], out_shape=[3, 3, 2])
    moved = run_reference(transformed_case(case, [variant(case, "padding.explicit_side")]))
    swapped = build([{**conv, "padding": [[1, 0], [1, 2]]}], shape=[6, 5, 2], out_shape=[3, 3, 2])
    swapped.weights = case.weights
    expected = run_reference(swapped)
    np.testing.assert_allclose(moved.outputs["conv"], expected.outputs["conv"], rtol=1e-12)
    np.testing.assert_allclose(moved.input_gradients["x"], expected.input_gradients["x"], rtol=1e-12)
    assert not np.allclose(run_reference(case).outputs["conv"], moved.outputs["conv"])


def test_count_include_pad_variant_divides_border_windows_by_the_whole_window():
    pool = {"type": "AveragePooling1D", "name": "pool", "pool_size": 3, "strides": 3, "padding": 1,
            "data_format": "channels_last"}
    case = build([pool], shape=[7, 1], out_shape=[3, 1])
    moved = run_reference(transformed_case(case, [variant(case, "AveragePooling.count_include_pad")]))
    plain = run_reference(case)
    # Windows [pad, x0, x1], [x2, x3, x4], [x5, x6, pad]: the border ones are divided by 3, not 2.
    np.testing.assert_allclose(moved.outputs["pool"], plain.outputs["pool"] * np.array([2 / 3, 1, 2 / 3])[:, None],
                               rtol=1e-12)


def test_ceil_mode_variant_rounds_the_pooling_output_the_other_way():
    """On 7 cells, window 2, stride 2: ceil_mode's 4 windows (the last holds x6 alone) against
    floor's 3. A global pooling after it keeps the outputs' shape, so the variant applies, and it
    computes what the case with ceil_mode off computes."""
    pool = {"type": "MaxPooling1D", "name": "pool", "pool_size": 2, "strides": 2, "padding": "valid",
            "ceil_mode": True, "data_format": "channels_last"}
    layers = [pool, {"type": "GlobalAveragePooling1D", "name": "gap", "data_format": "channels_last"}, {"type": "Dense", "name": "d", "units": 2}]
    case = build(layers, shape=[7, 2], out_shape=[2])
    found = variant(case, "Pooling.ceil_mode", "down")
    moved = run_reference(transformed_case(case, [found]))
    floor = build([{**pool, "ceil_mode": False}, *layers[1:]], shape=[7, 2], out_shape=[2])
    floor.weights = case.weights
    expected = run_reference(floor)
    assert moved.intermediates["pool"].shape[1] == 3 and run_reference(case).intermediates["pool"].shape[1] == 4
    np.testing.assert_allclose(moved.outputs["d"], expected.outputs["d"], rtol=1e-12)
    np.testing.assert_allclose(moved.input_gradients["x"], expected.input_gradients["x"], rtol=1e-12)
    assert not np.allclose(run_reference(case).outputs["d"], moved.outputs["d"])


def test_ceil_mode_variant_only_where_the_other_size_changes_no_parameter_or_output():
    pool = {"type": "MaxPooling1D", "name": "pool", "pool_size": 2, "strides": 2, "padding": "valid",
            "ceil_mode": True, "data_format": "channels_last"}
    flattened = build([pool, {"type": "Flatten", "name": "flat"}, {"type": "Dense", "name": "d", "units": 2}],
                      shape=[7, 2], out_shape=[2])  # Dense's kernel reads 4 * 2 features, floor gives 3 * 2
    even = build([pool, {"type": "GlobalAveragePooling1D", "name": "gap", "data_format": "channels_last"}], shape=[8, 2], out_shape=[2])
    for case in (flattened, even):  # even: 8 cells, both roundings give the same 4 windows
        assert not [v for v in applicable_variants(case, Context(TABLE)) if v.transform.name == "Pooling.ceil_mode"]


def test_flatten_other_channel_order_equals_permute_then_flatten():
    layers = [{"type": "Flatten", "name": "flat"}, {"type": "Dense", "name": "d", "units": 2}]
    case = build(layers, shape=[2, 3, 4], out_shape=[2])
    moved = run_reference(transformed_case(case, [variant(case, "Flatten.channel_order")]))
    explicit = build([{"type": "Permute", "dims": [3, 1, 2]}, *layers], shape=[2, 3, 4], out_shape=[2])
    explicit.weights = case.weights
    expected = run_reference(explicit)
    np.testing.assert_allclose(moved.outputs["d"], expected.outputs["d"], rtol=1e-12)
    np.testing.assert_allclose(moved.input_gradients["x"], expected.input_gradients["x"], rtol=1e-12)


def test_flipped_kernel_is_numpy_convolution():
    case = build([{"type": "Conv1D", "name": "c", "filters": 1, "kernel_size": 3, "data_format": "channels_last",
                   "use_bias": False}], shape=[7, 1], out_shape=[5, 1])
    flipped = run_reference(transformed_case(case, [variant(case, "conv.flipped_kernel")]))
    kernel = case.weights["c/kernel"][:, 0, 0]
    x = case.dataset.inputs["x"][:, :, 0]
    expected = np.stack([np.convolve(row, kernel, mode="valid") for row in x])
    np.testing.assert_allclose(flipped.outputs["c"][:, :, 0], expected, rtol=1e-12)


def test_gru_update_gate_variant_is_one_minus_z_by_hand():
    case = build([{"type": "GRU", "name": "g", "units": 2, "reset_after": False}], shape=[1, 3], out_shape=[2])
    result = run_reference(transformed_case(case, [variant(case, "GRU.update_gate")]))
    W, b = case.weights["g/kernel"], case.weights["g/bias"]
    x = case.dataset.inputs["x"][:, 0]
    a = x @ W + b  # one step from h = 0: the recurrent products vanish
    z = 1 / (1 + np.exp(-a[:, :2]))
    candidate = np.tanh(a[:, 4:])
    np.testing.assert_allclose(result.outputs["g"], z * candidate, rtol=1e-12)  # (1 - z) 0 + z candidate


def test_gate_order_variant_swaps_blocks_by_hand():
    case = build([{"type": "LSTM", "name": "l", "units": 2}], shape=[1, 3], out_shape=[2])
    chosen = variant(case, "recurrent.gate_order", "[f, i, c, o]")
    result = run_reference(transformed_case(case, [chosen]))
    W, b = case.weights["l/kernel"], case.weights["l/bias"]
    a = case.dataset.inputs["x"][:, 0] @ W + b
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    # The first step from c = 0: c = i g; the block read as i is the canonical f block.
    i, g, o = sig(a[:, 2:4]), np.tanh(a[:, 4:6]), sig(a[:, 6:])
    np.testing.assert_allclose(result.outputs["l"], o * np.tanh(i * g), rtol=1e-12)
    assert "layer l" in chosen.describe() and "[f, i, c, o]" in chosen.describe()


def test_adam_without_bias_correction_by_hand():
    case = build([{"type": "Dense", "name": "d", "units": 1}], shape=[2], out_shape=[1], extra={
        "optimizer": {"type": "adam", "learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                      "epsilon_placement": "before_bias_correction"},
        "training": {"steps": 1, "batch_size": 3}, "checks": ["training"]})
    trace = run_reference(transformed_case(case, [variant(case, "adam.bias_correction")])).training
    g = run_reference(case, train=False).parameter_gradients["d/kernel"]
    m, v = 0.1 * g, 0.001 * g * g
    np.testing.assert_allclose(trace.parameters[0]["d/kernel"],
                               case.weights["d/kernel"] - 0.1 * m / (np.sqrt(v) + 1e-7), rtol=1e-12)


def test_default_value_variants_come_from_the_defaults_table():
    case = build([{"type": "Dense", "name": "d", "units": 2,
                   "activation": {"name": "leaky_relu", "negative_slope": 0.2}}], shape=[3], out_shape=[2])
    chosen = variant(case, "leaky_relu.negative_slope")
    assert chosen.choice.startswith("0.01") and "torch" in chosen.choice
    z = case.dataset.inputs["x"] @ case.weights["d/kernel"] + case.weights["d/bias"]
    result = run_reference(transformed_case(case, [chosen]))
    np.testing.assert_allclose(result.outputs["d"], np.where(z > 0, z, 0.01 * z), rtol=1e-12)
    # No table, no default-value variants (nothing is hard-coded here).
    assert not [v for v in applicable_variants(case, Context()) if v.transform.family == "default value"]


@pytest.mark.parametrize("name", ["padding.same_odd_cell", "Flatten.channel_order"])
def test_variant_hooks_backward_matches_finite_differences(name):
    if name == "padding.same_odd_cell":
        case = build([{"type": "Conv2D", "name": "c", "filters": 2, "kernel_size": 2, "padding": "same",
                       "data_format": "channels_last"}], shape=[3, 3, 2], out_shape=[3, 3, 2])
    else:
        case = build([{"type": "Flatten"}, {"type": "Dense", "name": "c", "units": 2}], shape=[2, 2, 3],
                     out_shape=[2])
    moved = transformed_case(case, [variant(case, name)])
    analytic = run_reference(moved)
    x = moved.dataset.inputs["x"]
    positions, numeric = numeric_gradient(lambda: float(run_reference(moved, train=False).loss), x)
    np.testing.assert_allclose(analytic.input_gradients["x"].reshape(-1)[positions], numeric, rtol=1e-6, atol=1e-9)


def test_strength_counts_detected_variants_and_explains_the_rest():
    from harness.audit.strength import case_strength, strength_table

    # A zero bias (the default initializer) cannot show a dropped bias; a symmetric input range
    # reaches both sides of leaky_relu, so its slope is seen.
    data = one_case([{"type": "Dense", "name": "d", "units": 2,
                      "activation": {"name": "leaky_relu", "negative_slope": 0.2}}], shape=[2])
    data["targets"]["t"]["shape"] = [2]
    data["weights"] = {"seed": 2}
    (case,) = cases_from_data(data)
    strength = case_strength(case, Context(TABLE))
    by_name = {(o.variant.transform.name, o.variant.choice): o for o in strength.outcomes}
    assert by_name[("leaky_relu.negative_slope", "0.01 (torch: torch.nn.functional.leaky_relu)")].detected
    dropped = by_name[("bias.dropped_or_doubled", "dropped")]
    assert not dropped.detected and "all zeros" in dropped.reason
    assert 0 < strength.score < 1
    assert "d" in strength_table([strength])


def test_forward_only_reference_computes_the_same_forward_values_and_no_gradients():
    case = build([{"type": "Dense", "name": "d", "units": 3, "activation": "tanh"}], shape=[4], out_shape=[3])
    full, forward = run_reference(case), run_reference(case, backward=False)
    for name in ("outputs", "intermediates", "state"):
        mine, theirs = getattr(forward, name), getattr(full, name)
        assert mine.keys() == theirs.keys()
        for key in mine:
            np.testing.assert_array_equal(mine[key], theirs[key])
    assert forward.loss == full.loss
    assert forward.parameter_gradients == {} and forward.input_gradients == {}
    assert full.parameter_gradients and full.input_gradients


def test_strength_tries_forward_checks_first_with_the_same_outcomes_as_every_check_at_once(monkeypatch):
    """strength._outcome runs the forward pass alone first; what it finds must be what comparing
    every check on the full transformed reference finds (detected or not, and the reason)."""
    import harness.audit.strength as strength_module
    from harness.checks.runner import CaseRunner
    from harness.diagnosis.evaluation import check_comparisons, run_transformed

    data = one_case([{"type": "Dense", "name": "d", "units": 3,
                      "activation": {"name": "leaky_relu", "negative_slope": 0.2}},
                     {"type": "Dense", "name": "e", "units": 2}], shape=[4],
                    extra={"checks": ["gradients", "forward", "intermediates"]})
    data["targets"]["t"]["shape"] = [2]
    data["weights"] = {"seed": 2}  # zero biases: some variants go undetected, with a reason
    (case,) = cases_from_data(data)
    runner = CaseRunner(case)
    checks, reference = list(case.spec.checks), runner.reference
    backward_flags = []
    original = strength_module.run_transformed

    def recording(*args, **kwargs):
        backward_flags.append(kwargs.get("backward", True))
        return original(*args, **kwargs)

    monkeypatch.setattr(strength_module, "run_transformed", recording)
    outcomes = [strength_module._outcome(case, runner, checks, reference, v)
                for v in applicable_variants(case, Context(TABLE))]
    assert any(o.detected for o in outcomes) and any(not o.detected for o in outcomes)
    assert False in backward_flags  # the forward pass alone was tried
    for outcome in outcomes:
        transformed = run_transformed(case, (outcome.variant,), train=False)
        seen = [check for check in checks
                if any(not c.passed or c.note for c in check_comparisons(case, check, transformed, reference,
                                                                        runner.tolerance(check)))]
        assert outcome.detected == bool(seen), outcome.variant.describe()
        if outcome.detected:
            assert outcome.check in seen


def test_strength_beyond_the_budget_is_not_measured_and_says_how_to_measure_it():
    from harness.audit.strength import case_strength, strength_totals

    case = build([{"type": "Dense", "name": "d", "units": 3, "activation": "tanh"}], shape=[4], out_shape=[3])
    reference = run_reference(case)
    measured = case_strength(case, Context(TABLE), reference=reference, budget_s=None)
    assert measured.total > 0 and not measured.error
    skipped = case_strength(case, Context(TABLE), reference=reference, budget_s=0.0)
    assert skipped.total == 0 and skipped.error.startswith("not measured in this run:")
    assert f"{measured.total} transformed reference runs" in skipped.error
    assert "python -m harness strength" in skipped.error
    # A case left unmeasured does not count in the run's totals.
    totals = strength_totals([measured.to_dict(), skipped.to_dict()])
    assert (totals["detected"], totals["total"]) == (measured.detected, measured.total)


def test_covering_data_spans_its_scales_with_both_signs():
    data = one_case([{"type": "Dense", "name": "d", "units": 1}], shape=[50])
    data["inputs"]["x"]["data"] = {"covering": {"low": 0.1, "high": 10.0}}
    data["samples"] = 40
    data["targets"]["t"]["shape"] = [1]
    (case,) = cases_from_data(data)
    x = case.dataset.inputs["x"]
    spread = x.std(axis=1)  # about the sample's scale: 50 N(0, 1) draws times it
    assert spread.max() / spread.min() > 30
    assert (x < 0).any() and (x > 0).any()
    assert len(np.unique(x)) == x.size  # no ties


def test_branch_coverage_counts_pre_activations_by_hand():
    from harness.diagnosis.coverage import branch_coverage

    data = one_case([{"type": "Dense", "name": "d", "units": 1, "activation": "relu"}], shape=[1])
    data["samples"] = 3
    data["inputs"]["x"]["data"] = {"values": [[-1.0], [2.0], [3.0]]}
    data["targets"]["t"] = {"shape": [1], "data": {"values": [[0.0], [0.0], [0.0]]}}
    data["weights"] = {"parameters": {"d/kernel": {"values": [[1.0]]}, "d/bias": {"values": [0.5]}}}
    (case,) = cases_from_data(data)
    (entry,) = branch_coverage(case, run_reference(case))
    # pre-activations -0.5, 2.5, 3.5: one of three negative
    assert entry.shares == {"x < 0": pytest.approx(1 / 3), "x > 0": pytest.approx(2 / 3)}
    assert entry.missed == []


def test_covering_inputs_reach_what_narrow_inputs_miss():
    from harness.diagnosis.coverage import branch_coverage

    def coverage(source):
        data = one_case([{"type": "Dense", "name": "d", "units": 4, "activation": "sigmoid"}], shape=[3])
        data["samples"] = 32
        data["inputs"]["x"]["data"] = source
        data["targets"]["t"]["shape"] = [4]
        (case,) = cases_from_data(data)
        (entry,) = branch_coverage(case, run_reference(case))
        return entry

    assert "saturating (|x| > 2)" in coverage({"normal": {"mean": 0.0, "std": 0.2}}).missed
    assert coverage({"covering": {"low": 0.1, "high": 8.0}}).missed == []


def test_max_pooling_ties_are_counted_by_hand():
    from harness.diagnosis.coverage import branch_coverage

    data = one_case([{"type": "MaxPooling1D", "name": "pool", "pool_size": 2, "padding": "valid",
                      "data_format": "channels_last"}], shape=[4, 1])
    data["samples"] = 1
    data["inputs"]["x"]["data"] = {"values": [[[1.0], [1.0], [0.0], [2.0]]]}  # windows (1, 1) tied, (0, 2) not
    data["targets"]["t"] = {"shape": [2, 1], "data": {"values": [[[0.0], [0.0]]]}}
    (case,) = cases_from_data(data)
    (entry,) = branch_coverage(case, run_reference(case))
    assert entry.shares == {"one maximum": 0.5, "tied maximum": 0.5}
    assert entry.missed and "50% have a tied maximum" in entry.missed[0]


def test_bias_along_another_axis_is_keras_channels_first_bias_by_hand():
    """Conv2D channels_first, 3 filters, output (3, 2, 3): the variant adds bias[k] at width k,
    as Keras 3.15.1's ops.add does (cases/discovered_keras_channels_first_bias.yaml); a layer
    whose axes all differ from its filters has no such variant."""
    layer = {"type": "Conv2D", "name": "c", "filters": 3, "kernel_size": 1, "data_format": "channels_first"}
    case = build([layer], shape=[2, 2, 3], out_shape=[3, 2, 3])
    chosen = variant(case, "bias.other_axis")
    assert chosen.choice == "along axis 3 (3 cells) instead of the channels"
    kernel, bias, x = case.weights["c/kernel"][0, 0], case.weights["c/bias"], case.dataset.inputs["x"]
    expected = np.einsum("nchw,co->nohw", x, kernel) + bias.reshape(1, 1, 1, 3)
    result = run_reference(transformed_case(case, [chosen]))
    np.testing.assert_allclose(result.outputs["c"], expected, rtol=1e-12)
    other = build([{**layer, "filters": 4}], shape=[2, 2, 3], out_shape=[4, 2, 3])
    assert not [v for v in applicable_variants(other, Context()) if v.transform.name == "bias.other_axis"]


def test_bias_along_another_axis_backward_matches_finite_differences():
    case = build([{"type": "Conv1D", "name": "c", "filters": 3, "kernel_size": 2, "padding": "same",
                   "data_format": "channels_first", "activation": "tanh"}], shape=[2, 3], out_shape=[3, 3])
    moved = transformed_case(case, [variant(case, "bias.other_axis")])
    analytic = run_reference(moved)
    x = moved.dataset.inputs["x"]
    positions, numeric = numeric_gradient(lambda: float(run_reference(moved, train=False).loss), x)
    np.testing.assert_allclose(analytic.input_gradients["x"].reshape(-1)[positions], numeric, rtol=1e-6, atol=1e-9)
    bias = moved.weights["c/bias"]
    positions, numeric = numeric_gradient(lambda: float(run_reference(moved, train=False).loss), bias)
    np.testing.assert_allclose(analytic.parameter_gradients["c/bias"].reshape(-1)[positions], numeric,
                               rtol=1e-6, atol=1e-9)


def test_mask_polarity_variant_attends_to_exactly_the_blocked_positions():
    """Against an independent case: the same layer written with the negated mask."""
    mask = [[True, False, True], [False, True, True], [True, True, False]]
    case = build([{"type": "MultiHeadAttention", "name": "mha", "num_heads": 1, "key_dim": 2, "mask": mask}],
                 shape=[3, 2], out_shape=[3, 2])
    inverted = build([{"type": "MultiHeadAttention", "name": "mha", "num_heads": 1, "key_dim": 2,
                       "mask": [[not v for v in row] for row in mask]}], shape=[3, 2], out_shape=[3, 2])
    moved = run_reference(transformed_case(case, [variant(case, "Attention.mask_polarity")]))
    np.testing.assert_allclose(moved.outputs["mha"], run_reference(inverted).outputs["mha"], rtol=1e-12)
    assert not np.allclose(moved.outputs["mha"], run_reference(case).outputs["mha"])


def test_mask_polarity_variant_not_offered_where_the_negation_leaves_a_row_empty():
    case = build([{"type": "MultiHeadAttention", "name": "mha", "num_heads": 1, "key_dim": 2,
                   "mask": [[True, True, True], [False, True, True], [True, False, True]]}],
                 shape=[3, 2], out_shape=[3, 2])
    assert not [v for v in applicable_variants(case, Context(TABLE)) if v.transform.name == "Attention.mask_polarity"]


def test_max_pooling_dilation_variant_pools_adjacent_cells():
    """On 9 cells, window 3 dilation 2 'same' (extent 5, pads 2 and 2): the variant is the case
    with dilation 1 (pads 1 and 1), the same shape; a valid-padded one feeding a Flatten and a
    Dense gets none (7 windows undilated against 5 changes the Dense's kernel)."""
    pool = {"type": "MaxPooling1D", "name": "pool", "pool_size": 3, "strides": 1, "padding": "same",
            "dilation_rate": 2, "data_format": "channels_last"}
    layers = [pool, {"type": "Flatten", "name": "flat"}, {"type": "Dense", "name": "d", "units": 2}]
    case = build(layers, shape=[9, 2], out_shape=[2])
    moved = run_reference(transformed_case(case, [variant(case, "MaxPooling.dilation")]))
    plain = build([{**pool, "dilation_rate": 1}, *layers[1:]], shape=[9, 2], out_shape=[2])
    plain.weights = case.weights
    expected = run_reference(plain)
    np.testing.assert_allclose(moved.outputs["d"], expected.outputs["d"], rtol=1e-12)
    np.testing.assert_allclose(moved.input_gradients["x"], expected.input_gradients["x"], rtol=1e-12)
    assert not np.allclose(run_reference(case).outputs["d"], moved.outputs["d"])
    valid = build([{**pool, "padding": "valid"}, *layers[1:]], shape=[9, 2], out_shape=[2])
    assert not [v for v in applicable_variants(valid, Context(TABLE)) if v.transform.name == "MaxPooling.dilation"]
