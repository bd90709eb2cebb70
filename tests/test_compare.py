"""compare() and the default tolerances, on small tensors whose figures are worked out by hand.

The rule under test is numpy.isclose's: an element agrees when
|actual - expected| <= atol + rtol * |expected|; NaN against NaN and equal infinities agree,
any other non-finite value is an infinite difference.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.common.compare import DEFAULT_TOLERANCES, Tolerance, compare

TOLERANCE = Tolerance(rtol=0.01, atol=0.001)


def test_equal_tensors_pass_with_zero_errors():
    values = np.array([[1.0, -2.0], [0.0, 3.5]])
    result = compare("y", "output", values.copy(), values, TOLERANCE)
    assert result.passed
    assert (result.mismatched, result.total) == (0, 4)
    assert result.max_abs_error == 0.0 and result.max_rel_error == 0.0
    assert result.note == ""


@pytest.mark.parametrize("actual_shape, expected_shape", [
    ((2, 3), (3, 2)),   # same size, other layout
    ((3,), (1, 3)),     # would broadcast: must not
    ((), (1,)),
    ((0, 3), (3, 0)),   # both empty
])
def test_shape_disagreement_fails_naming_both_shapes(actual_shape, expected_shape):
    result = compare("y", "output", np.zeros(actual_shape), np.zeros(expected_shape), TOLERANCE)
    assert not result.passed
    assert str(list(actual_shape)) in result.note and str(list(expected_shape)) in result.note
    assert (result.shape, result.expected_shape) == (list(actual_shape), list(expected_shape))
    assert result.describe().startswith("y: ") and result.note in result.describe()


def test_dtype_disagreement_fails_when_a_dtype_is_expected():
    values = np.array([1.0, 2.0])
    result = compare("y", "output", values.astype(np.float32), values, TOLERANCE, expected_dtype="float64")
    assert not result.passed
    assert "float32" in result.note and "float64" in result.note


def test_dtype_is_not_checked_unless_expected():
    # float32 against a float64 reference is the usual case: compared by value.
    values = np.array([1.0, 2.0])
    assert compare("y", "output", values.astype(np.float32), values, TOLERANCE).passed
    assert compare("y", "output", values.astype(np.float32), values, TOLERANCE, expected_dtype="float32").passed


@pytest.mark.parametrize("actual", [np.nan, np.inf, -np.inf])
def test_non_finite_actual_against_finite_expected_fails_with_infinite_difference(actual):
    result = compare("y", "output", np.array([1.0, actual, 3.0]), np.array([1.0, 2.0, 3.0]), TOLERANCE)
    assert not result.passed
    assert result.mismatched == 1
    assert result.max_abs_error == np.inf
    assert result.worst_index == [1]


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_nan_against_nan_and_equal_infinities_agree(special):
    actual = np.array([1.0, special, 2.0])
    expected = np.array([1.0, special, 2.0])
    result = compare("y", "output", actual, expected, TOLERANCE)
    assert result.passed
    assert result.mismatched == 0 and result.max_abs_error == 0.0


@pytest.mark.parametrize("actual, expected", [
    (2.0, np.nan), (2.0, np.inf), (2.0, -np.inf), (-np.inf, np.inf), (np.inf, -np.inf), (np.nan, np.inf),
])
def test_non_finite_expected_against_anything_else_fails(actual, expected):
    # The module's rule: any non-finite value not matched by the same one is an infinite
    # difference, a mismatch, whichever side it is on.
    result = compare("y", "output", np.array([1.0, actual]), np.array([1.0, expected]), TOLERANCE)
    assert not result.passed and result.mismatched == 1


@pytest.mark.parametrize("actual, passes", [
    # rtol 0.5 and atol 0.25 are powers of two, so allowed = 0.25 + 0.5 * 2 = 1.25 and the
    # differences 3.25 - 2 and 2 - 0.75 are exact in binary floating point.
    (3.25, True),
    (np.nextafter(3.25, np.inf), False),   # one ulp of 3.25 beyond: a difference of 1.25 + 4.4e-16
    (0.75, True),
    # One ulp below 0.75 would round back to a difference of 1.25; this is 1.25 + one ulp of 1.25.
    (2.0 - np.nextafter(1.25, np.inf), False),
])
def test_element_exactly_at_the_allowed_error_passes_one_ulp_beyond_fails(actual, passes):
    tolerance = Tolerance(rtol=0.5, atol=0.25)
    result = compare("y", "output", np.array([actual]), np.array([2.0]), tolerance)
    assert result.passed is passes
    assert result.mismatched == (0 if passes else 1)


def test_atol_alone_at_expected_zero():
    # allowed = atol + rtol * 0 = atol exactly; actual = atol is a difference of exactly atol.
    assert compare("y", "output", np.array([0.001]), np.array([0.0]), TOLERANCE).passed
    assert not compare("y", "output", np.array([np.nextafter(0.001, 1.0)]), np.array([0.0]), TOLERANCE).passed


# rtol 0.01, atol 0.001. Per element: difference, allowed = 0.001 + 0.01 |expected|, ratio.
#   (0,0)  1.0    vs 1.0     0       0.011   0          agrees
#   (0,1) -2.1    vs -2.0    0.1     0.021   4.76       out
#   (0,2)  0.0015 vs 0.001   0.0005  0.00101 0.495      agrees, yet relative error 0.5 (the largest)
#   (1,0)  101.5  vs 100.0   1.5     1.001   1.4985     out, the largest absolute difference
#   (1,1)  0.2    vs 0.25    0.05    0.0035  14.29      out, the worst against its allowance
#   (1,2)  4.0    vs 4.0     0       0.041   0          agrees
HAND_ACTUAL = np.array([[1.0, -2.1, 0.0015], [101.5, 0.2, 4.0]])
HAND_EXPECTED = np.array([[1.0, -2.0, 0.001], [100.0, 0.25, 4.0]])


def test_figures_of_a_hand_made_mismatch():
    result = compare("y", "output", HAND_ACTUAL, HAND_EXPECTED, TOLERANCE)
    assert not result.passed
    assert (result.mismatched, result.total) == (3, 6)
    assert result.max_abs_error == pytest.approx(1.5)
    assert result.max_rel_error == pytest.approx(0.5)
    assert result.worst_index == [1, 1]
    assert (result.worst_actual, result.worst_expected) == (0.2, 0.25)
    assert result.tolerance_ratio == pytest.approx(0.05 / 0.0035)
    assert (result.rtol, result.atol) == (0.01, 0.001)


def test_describe_gives_count_and_worst_index():
    text = compare("dense/kernel", "parameter_gradient", HAND_ACTUAL, HAND_EXPECTED, TOLERANCE).describe()
    assert text.startswith("dense/kernel: ")
    assert "3 of 6" in text
    assert "(1, 1)" in text
    assert "0.2" in text and "0.25" in text


def test_tolerance_ratio_is_at_most_one_when_passing():
    result = compare("y", "output", np.array([1.005, -2.0]), np.array([1.0, -2.0]), TOLERANCE)
    # 0.005 of an allowed 0.011.
    assert result.passed and result.tolerance_ratio == pytest.approx(0.005 / 0.011)


def test_max_rel_error_where_expected_has_zeros():
    # A difference on an expected zero is an infinite relative error, though atol admits it;
    # an exact zero against zero is no error at all.
    result = compare("y", "output", np.array([0.0005, 0.0, 2.02]), np.array([0.0, 0.0, 2.0]), TOLERANCE)
    assert result.passed
    assert result.max_rel_error == np.inf
    assert result.max_abs_error == pytest.approx(0.02)
    exact = compare("y", "output", np.array([0.0, 4.0]), np.array([0.0, 4.0]), TOLERANCE)
    assert exact.max_rel_error == 0.0


def test_empty_tensor_passes():
    result = compare("y", "output", np.zeros((0, 3)), np.zeros((0, 3)), TOLERANCE)
    assert result.passed
    assert (result.mismatched, result.total) == (0, 0)
    assert result.worst_index is None
    assert "0 of 0" in result.describe()


def test_step_and_kind_are_recorded():
    result = compare("out/kernel", "training_parameter", [1.0], [1.0], TOLERANCE, step=3)
    assert (result.kind, result.step, result.tensor) == ("training_parameter", 3, "out/kernel")


@pytest.mark.parametrize("actual, expected", [
    (np.array([np.nan, 1.0]), np.array([1.0, 1.0])),          # inf error, inf ratio
    (np.array([0.5, 0.0]), np.array([0.0, 0.0])),             # inf relative error
    (np.zeros((2, 2)), np.zeros((2,))),                       # shape note: every figure NaN
])
def test_to_dict_is_strict_json(actual, expected):
    record = compare("y", "output", actual, expected, TOLERANCE).to_dict()
    text = json.dumps(record, allow_nan=False)
    assert json.loads(text)["tensor"] == "y"


def test_to_dict_keeps_non_finite_figures_readable():
    record = compare("y", "output", np.array([np.nan]), np.array([1.0]), TOLERANCE).to_dict()
    assert record["max_abs_error"] == "inf"
    assert record["extra"]["tolerance_ratio"] == "inf"
    assert record["worst_index"] == [0] and record["mismatched"] == 1


def test_default_tolerances_cover_the_same_checks_for_both_dtypes():
    assert set(DEFAULT_TOLERANCES) == {"float32", "float64"}
    assert set(DEFAULT_TOLERANCES["float32"]) == set(DEFAULT_TOLERANCES["float64"])
    assert {"forward", "gradients"} <= set(DEFAULT_TOLERANCES["float64"])


@pytest.mark.parametrize("check", sorted(DEFAULT_TOLERANCES["float64"]))
def test_float64_defaults_are_tighter_than_float32(check):
    single, double = DEFAULT_TOLERANCES["float32"][check], DEFAULT_TOLERANCES["float64"][check]
    assert double.rtol < single.rtol
    assert double.atol < single.atol
    assert 0 < double.rtol and 0 < double.atol


@pytest.mark.parametrize("check", sorted(DEFAULT_TOLERANCES["float32"]))
def test_float32_defaults_admit_float32_rounding(check):
    # Storing a float64 result in float32 changes it by up to 2^-24 relative: never a mismatch.
    expected = np.random.default_rng(0).normal(size=1000)
    result = compare("y", check, expected.astype(np.float32), expected, DEFAULT_TOLERANCES["float32"][check])
    assert result.passed


@pytest.mark.parametrize("check", sorted(DEFAULT_TOLERANCES["float64"]))
def test_float64_defaults_admit_a_hyper_parameter_held_in_float32(check):
    # The commented reason for float64's rtol: Keras holds a slope of 0.2 as float32(0.2), a
    # relative change of |float32(0.2) - 0.2| / 0.2, about 1.5e-8 (computed here, not copied).
    relative = abs(float(np.float32(0.2)) - 0.2) / 0.2
    expected = np.array([0.5, -3.0, 40.0])
    result = compare("y", check, expected * (1 + relative), expected, DEFAULT_TOLERANCES["float64"][check])
    assert result.passed


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_defaults_reject_real_differences(dtype):
    # BatchNorm epsilon 1e-3 against 1e-5 on unit-variance data: x / sqrt(1 + eps) differs by
    # about 5e-4 relative, a difference the comments promise every default reports.
    x = np.random.default_rng(1).normal(size=100)
    result = compare("y", "forward", x / np.sqrt(1 + 1e-3), x / np.sqrt(1 + 1e-5), DEFAULT_TOLERANCES[dtype]["forward"])
    assert not result.passed
    assert result.mismatched > 90  # all but the elements near zero, which atol covers


# --- the block-by-block computation against the straightforward one ---------------------------

def straightforward_figures(actual, expected, tolerance):
    """compare()'s figures written out on whole float64 arrays, the obvious way (as compare()
    computed them before it worked block by block)."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        difference, allowed = np.abs(a - e), tolerance.atol + tolerance.rtol * np.abs(e)
    nonfinite = ~np.isfinite(a) | ~np.isfinite(e)
    same = nonfinite & ((a == e) | (np.isnan(a) & np.isnan(e)))
    difference = np.where(same, 0.0, np.where(nonfinite, np.inf, difference))
    allowed = np.where(nonfinite, 0.0, allowed)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(difference == 0, 0.0, difference / np.abs(e))
        ratio = np.where(difference == 0, 0.0, difference / allowed)
    worst = int(np.argmax(ratio))
    return {"max_abs_error": float(difference.max()), "max_rel_error": float(relative.max()),
            "mismatched": int((difference > allowed).sum()),
            "worst_index": [int(i) for i in np.unravel_index(worst, e.shape)],
            "worst_actual": float(a.flat[worst]), "worst_expected": float(e.flat[worst]),
            "tolerance_ratio": float(ratio.max())}


def figures_of(result):
    return {"max_abs_error": result.max_abs_error, "max_rel_error": result.max_rel_error,
            "mismatched": result.mismatched, "worst_index": result.worst_index,
            "worst_actual": result.worst_actual, "worst_expected": result.worst_expected,
            "tolerance_ratio": result.tolerance_ratio}


def random_pair(rng, size, kind):
    """An expected array and an actual one near it, with the hard elements of `kind`."""
    expected = rng.normal(size=size) * 10.0 ** rng.integers(-8, 3)
    actual = expected + rng.normal(size=size) * 10.0 ** rng.integers(-12, 0)
    if kind == "near zero":  # exact zeros on either side, and tiny values around them
        expected[rng.random(size) < 0.3] = 0.0
        actual[rng.random(size) < 0.3] = 0.0
        actual[rng.random(size) < 0.1] = 1e-310  # subnormal
    elif kind == "non-finite":
        for value in (np.inf, -np.inf, np.nan):
            actual[rng.random(size) < 0.03] = value
            expected[rng.random(size) < 0.03] = value
        both = rng.random(size) < 0.05
        actual[both] = expected[both] = np.where(rng.random(both.sum()) < 0.5, np.inf, np.nan)
    elif kind == "float32":  # the usual case: a framework's float32 against the float64 reference
        actual = actual.astype(np.float32)
    elif kind == "partly equal":  # identical stretches (a Flatten of the input) and differing ones
        actual, expected = actual.astype(np.float32), expected.astype(np.float32)
        expected[: size // 2] = actual[: size // 2]
    elif kind == "out of tolerance":
        actual[rng.random(size) < 0.1] += 1.0
    return actual, expected


KINDS = ["plain", "near zero", "non-finite", "float32", "partly equal", "out of tolerance"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("block", [1, 5, 64, 1 << 16])
def test_block_figures_equal_the_straightforward_float64_computation(kind, block, monkeypatch):
    import harness.common.compare as compare_module

    monkeypatch.setattr(compare_module, "BLOCK", block)
    rng = np.random.default_rng(KINDS.index(kind) * 1000 + block)
    for trial in range(40):
        shape = [(257,), (13, 11), (3, 4, 5), (1,)][trial % 4]
        actual, expected = random_pair(rng, int(np.prod(shape)), kind)
        actual, expected = actual.reshape(shape), expected.reshape(shape)
        tolerance = [TOLERANCE, Tolerance(0.0, 0.0), Tolerance(1e-4, 1e-5), Tolerance(0.0, 1e-6)][trial % 4]
        result = compare("y", "output", actual, expected, tolerance)
        want = straightforward_figures(actual, expected, tolerance)
        got = figures_of(result)
        for name, value in want.items():
            same = got[name] == value or (isinstance(value, float) and np.isnan(value) and np.isnan(got[name]))
            assert same, f"{kind}, trial {trial}: {name} {got[name]!r}, straightforward {value!r}"
        assert result.passed == (want["mismatched"] == 0)


def test_a_large_tensor_is_compared_block_by_block_with_the_same_figures():
    # More than one default block, with the worst element in a late block and a tie for it.
    rng = np.random.default_rng(5)
    expected = rng.normal(size=(300, 700))
    actual = (expected + rng.normal(scale=1e-6, size=expected.shape)).astype(np.float32)
    actual[250, 3] = actual[280, 9] = np.float32(expected[250, 3] + 1.0)
    expected[280, 9] = expected[250, 3]
    result = compare("y", "output", actual, expected, DEFAULT_TOLERANCES["float32"]["forward"])
    assert figures_of(result) == straightforward_figures(actual, expected, DEFAULT_TOLERANCES["float32"]["forward"])
    assert result.worst_index == [250, 3] and result.mismatched == 2
