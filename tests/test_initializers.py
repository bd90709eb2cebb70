"""The weight initializers against their textbook (Keras) definitions, not against the code.

* Variance scaling (Glorot, He, LeCun and the general form): the fans of dense and convolution
  kernels worked out by hand, then the bounds, mean and spread of a large sample against
  Keras' definition. Keras' `*_normal` initializers give the *truncated* distribution the
  stated standard deviation: the underlying normal has stddev / 0.8796 (the standard deviation
  of a unit normal cut at +-2, computed here from erf) and is cut at two of its own stddevs.
* random_normal, random_uniform: mean, spread and bounds from the stated parameters.
* zeros, ones, constant: exact. Orthogonal: Q^T Q = gain^2 I. Explicit values: as written.
* Seeds: the same seed and name give the same weights, another seed or name others, and adding
  a layer leaves the other layers' weights alone (the module's promise).

Statistical tolerances are set at 6 to 8 standard errors of the statistic for the sample size
used, so they hold for practically any seed (a 6-sigma miss has probability about 2e-9), not
only for the fixed ones here, while still rejecting the mistakes that matter (a wrong fan, a
wrong mode, stddev before instead of after truncation: each moves the figure by 10% or more).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from harness.weights import cases_from_data
from harness.case.schema import WeightsSpec
from harness.reference.initializers import INITIALIZERS, ExplicitValues, fans, parameter_rng

# Dense kernel (in, out): fan_in 200, fan_out 300; 60 000 values.
DENSE = (200, 300)
# Conv2D kernel (kh, kw, in, out): receptive field 5 * 5 = 25, so fan_in = 25 * 40 = 1000 and
# fan_out = 25 * 60 = 1500; 60 000 values.
CONV = (5, 5, 40, 60)
FANS = {DENSE: (200, 300), CONV: (1000, 1500)}

# A unit normal cut at +-2: variance = 1 - 2 * 2 * phi(2) / (Phi(2) - Phi(-2)) (the textbook
# formula for a symmetric truncation at a); ~0.8796.
_PHI_2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
_MASS_2 = math.erf(2 / math.sqrt(2))
TRUNCATED_UNIT_STD = math.sqrt(1 - 4 * _PHI_2 / _MASS_2)
# Share of a +-2 truncated normal that lies within one (pre-truncation) stddev: ~0.7153.
TRUNCATED_SHARE_WITHIN_ONE = math.erf(1 / math.sqrt(2)) / _MASS_2


def initializer(config):
    """An initializer as a case file writes it, validated through the `weights:` schema."""
    return WeightsSpec.model_validate({"defaults": {"kernel": config}}).defaults["kernel"]


def generate(config, shape, *, seed=0, name="layer/kernel") -> np.ndarray:
    return initializer(config).generate(shape, parameter_rng(seed, name))


def assert_uniform(values: np.ndarray, low: float, high: float) -> None:
    """values look like n draws of U(low, high)."""
    n, width = values.size, high - low
    assert values.min() >= low and values.max() <= high
    # The sample reaches both ends: P(no draw in the last 1% at one end) = 0.99^n, e^-600 here.
    assert values.min() < low + 0.01 * width and values.max() > high - 0.01 * width
    # Mean: standard error width / sqrt(12 n) (1.2e-3 width at n = 60 000); allow 6 of them.
    assert abs(values.mean() - (low + high) / 2) < 6 * width / math.sqrt(12 * n)
    # Variance width^2 / 12: its relative standard error is sqrt((9/5 - 1) / n) (uniform's
    # kurtosis is 9/5), 0.37% at n = 60 000; 3% is 8 of them.
    assert values.var() == pytest.approx(width**2 / 12, rel=0.03)


def assert_truncated_normal(values: np.ndarray, stddev: float) -> None:
    """values look like Keras' truncated normal whose standard deviation (after truncation) is
    `stddev`: N(0, sigma^2) cut at +-2 sigma, sigma = stddev / TRUNCATED_UNIT_STD."""
    n, sigma = values.size, stddev / TRUNCATED_UNIT_STD
    assert np.abs(values).max() <= 2 * sigma
    # Truncated at 2 sigma, not earlier: about 0.57% of draws lie in [1.95, 2] sigma, so the
    # chance that none of 60 000 does is e^-340.
    assert np.abs(values).max() > 1.95 * sigma
    # Mean: standard error stddev / sqrt(n) (0.4% of stddev); allow 6 of them.
    assert abs(values.mean()) < 6 * stddev / math.sqrt(n)
    # The sample std's relative standard error is about sqrt((kurtosis - 1) / 4n); the
    # truncated normal's kurtosis is below the normal's 3, so at most 0.29% at n = 60 000;
    # 2% is 7 of them. Stddev before truncation would be off by 12%.
    assert values.std() == pytest.approx(stddev, rel=0.02)
    # Its shape: the share within one sigma (binomial standard error 0.18% at n = 60 000).
    assert np.mean(np.abs(values) < sigma) == pytest.approx(TRUNCATED_SHARE_WITHIN_ONE, abs=0.01)


def test_truncated_unit_std_is_keras_constant():
    # Keras hard-codes 0.87962566103423978 (scipy.stats.truncnorm.std(-2, 2)); our value is from erf.
    assert TRUNCATED_UNIT_STD == pytest.approx(0.87962566103423978, rel=1e-12)


@pytest.mark.parametrize("shape, expected", [
    ((), (1, 1)),                      # a scalar: Keras uses 1 and 1
    ((7,), (7, 7)),                    # a bias: its length both ways
    ((3, 4), (3, 4)),                  # dense (in, out)
    ((5, 3, 4), (15, 20)),             # Conv1D (k, in, out): receptive field 5
    ((3, 3, 16, 32), (144, 288)),      # Conv2D: receptive field 9, 9 * 16 and 9 * 32
    ((2, 3, 4, 5, 6), (120, 144)),     # Conv3D: receptive field 24, 24 * 5 and 24 * 6
])
def test_fans_are_receptive_field_times_channels(shape, expected):
    assert fans(shape) == expected


# (name, shape, distribution, parameter): the limit of a uniform or the stddev after truncation
# of a truncated normal, from the textbook formula with the fans worked out above.
def _variance_scaling_expectations():
    rows = []
    for shape, (fan_in, fan_out) in FANS.items():
        rows += [
            ("glorot_uniform", shape, "uniform", math.sqrt(6 / (fan_in + fan_out))),
            ("glorot_normal", shape, "truncated_normal", math.sqrt(2 / (fan_in + fan_out))),
            ("he_uniform", shape, "uniform", math.sqrt(6 / fan_in)),
            ("he_normal", shape, "truncated_normal", math.sqrt(2 / fan_in)),
            ("lecun_uniform", shape, "uniform", math.sqrt(3 / fan_in)),
            ("lecun_normal", shape, "truncated_normal", math.sqrt(1 / fan_in)),
        ]
    return rows


VARIANCE_SCALING = _variance_scaling_expectations()


@pytest.mark.parametrize("name, shape, distribution, parameter", VARIANCE_SCALING,
                         ids=[f"{row[0]}-{'conv' if len(row[1]) == 4 else 'dense'}" for row in VARIANCE_SCALING])
def test_variance_scaling_recipes(name, shape, distribution, parameter):
    values = generate(name, shape)
    assert values.shape == shape
    if distribution == "uniform":
        assert_uniform(values, -parameter, parameter)
    else:
        assert_truncated_normal(values, parameter)


@pytest.mark.parametrize("config, distribution, parameter", [
    # Keras' VarianceScaling defaults: scale 1, fan_in, truncated normal: stddev sqrt(1 / 200).
    ({"initializer": "variance_scaling"}, "truncated_normal", math.sqrt(1 / 200)),
    # Uniform with scale 3 over fan_out: variance 3 / 300, limit sqrt(3 * 3 / 300).
    ({"initializer": "variance_scaling", "scale": 3.0, "mode": "fan_out", "distribution": "uniform"},
     "uniform", math.sqrt(9 / 300)),
    # Truncated normal with scale 0.5 over the mean fan 250: stddev sqrt(0.5 / 250).
    ({"initializer": "variance_scaling", "scale": 0.5, "mode": "fan_avg"},
     "truncated_normal", math.sqrt(0.5 / 250)),
])
def test_variance_scaling_parameters(config, distribution, parameter):
    values = generate(config, DENSE)
    if distribution == "uniform":
        assert_uniform(values, -parameter, parameter)
    else:
        assert_truncated_normal(values, parameter)


def test_variance_scaling_of_a_bias_uses_its_length_as_both_fans():
    # glorot_uniform on a vector of n: limit sqrt(6 / (n + n)).
    n = 60_000
    assert_uniform(generate("glorot_uniform", (n,)), -math.sqrt(3 / n), math.sqrt(3 / n))


def test_random_normal_mean_and_stddev():
    values = generate({"initializer": "random_normal", "mean": 1.5, "stddev": 0.1}, DENSE)
    n = values.size
    # Mean: standard error 0.1 / sqrt(n) = 4e-4; allow 6 of them.
    assert abs(values.mean() - 1.5) < 6 * 0.1 / math.sqrt(n)
    # Sample std: relative standard error sqrt(1 / 2n) = 0.29%; 2% is 7 of them.
    assert values.std() == pytest.approx(0.1, rel=0.02)
    # Not truncated: a normal exceeds 3 stddevs with probability 0.27%, ~160 of 60 000 draws
    # (a binomial standard error of 13); a cut at 2 stddevs would leave none.
    assert 100 < np.sum(np.abs(values - 1.5) > 0.3) < 220


def test_random_normal_keras_defaults():
    # keras.initializers.RandomNormal(mean=0.0, stddev=0.05); tolerances as above.
    values = generate("random_normal", DENSE)
    assert abs(values.mean()) < 6 * 0.05 / math.sqrt(values.size)
    assert values.std() == pytest.approx(0.05, rel=0.02)


def test_random_uniform_bounds_mean_and_spread():
    assert_uniform(generate({"initializer": "random_uniform", "minval": 0.5, "maxval": 1.5}, DENSE), 0.5, 1.5)


def test_random_uniform_keras_defaults():
    # keras.initializers.RandomUniform(minval=-0.05, maxval=0.05).
    assert_uniform(generate("random_uniform", DENSE), -0.05, 0.05)


@pytest.mark.parametrize("config, value", [
    ("zeros", 0.0),
    ("ones", 1.0),
    ({"initializer": "constant", "value": -0.25}, -0.25),
    ({"initializer": "constant", "value": 3}, 3.0),  # an integer in YAML is a float value
])
def test_constant_initializers_are_exact(config, value):
    values = generate(config, (3, 4, 5))
    assert values.shape == (3, 4, 5)
    assert values.dtype == np.float64
    assert np.all(values == value)


@pytest.mark.parametrize("shape", [(8, 8), (40, 10), (3, 3, 4, 8)], ids=["square", "tall", "conv"])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_columns_are_orthonormal_times_gain(shape, gain):
    values = generate({"initializer": "orthogonal", "gain": gain}, shape)
    assert values.shape == shape
    # Keras flattens to (prod(shape[:-1]), shape[-1]); at least as many rows as columns here.
    matrix = values.reshape(-1, shape[-1])
    np.testing.assert_allclose(matrix.T @ matrix, gain**2 * np.eye(shape[-1]), atol=1e-12)


def test_orthogonal_wide_matrix_has_orthonormal_rows():
    values = generate("orthogonal", (4, 10))
    assert values.shape == (4, 10)
    np.testing.assert_allclose(values @ values.T, np.eye(4), atol=1e-12)


def test_orthogonal_is_not_a_fixed_matrix():
    # The QR of a random matrix, not the identity or a permutation: entries spread out.
    values = generate("orthogonal", (16, 16))
    assert np.count_nonzero(np.abs(values) > 1e-3) > 200


def test_explicit_values_are_used_as_written():
    spec = initializer({"values": [[1.0, -2.0, 3.5], [0.0, 4.0, -0.5]]})
    assert isinstance(spec, ExplicitValues)
    values = spec.generate((2, 3), parameter_rng(0, "layer/kernel"))
    np.testing.assert_array_equal(values, [[1.0, -2.0, 3.5], [0.0, 4.0, -0.5]])


def test_explicit_values_of_the_wrong_shape_are_rejected():
    spec = initializer({"values": [[1.0, 2.0, 3.0]]})
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(3, 1\)"):
        spec.generate((3, 1), parameter_rng(0, "layer/kernel"))


def test_unknown_initializer_name_is_a_validation_error_naming_the_known_ones():
    with pytest.raises(ValidationError) as raised:
        initializer("glorot_uniforms")
    assert "glorot_uniform" in str(raised.value) and "he_normal" in str(raised.value)


def test_describe_names_the_initializer_and_its_parameters():
    assert initializer("he_normal").describe() == "he_normal"
    text = initializer({"initializer": "random_normal", "mean": 1.5, "stddev": 0.25}).describe()
    assert text.startswith("random_normal") and "1.5" in text and "0.25" in text


RANDOM_CONFIGS = [
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "variance_scaling", "random_normal", "random_uniform", "orthogonal",
]


@pytest.mark.parametrize("name", RANDOM_CONFIGS)
def test_same_seed_same_weights_other_seed_or_name_other_weights(name):
    shape = (6, 5)
    first = generate(name, shape, seed=7, name="dense/kernel")
    np.testing.assert_array_equal(generate(name, shape, seed=7, name="dense/kernel"), first)
    assert not np.any(generate(name, shape, seed=8, name="dense/kernel") == first)
    assert not np.any(generate(name, shape, seed=7, name="other/kernel") == first)


def test_every_registered_initializer_is_tested():
    # A new initializer must get a statistical (or exact) test here too.
    tested = {row[0] for row in VARIANCE_SCALING} | set(RANDOM_CONFIGS) | {"zeros", "ones", "constant"}
    assert set(INITIALIZERS) <= tested


def _case(layers, *, seed=3, defaults=None):
    data = {
        "name": "initializers", "dtype": "float64", "samples": 4,
        "inputs": {"x": {"shape": [4], "data": {"normal": {}}}},
        "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
        "model": {"sequential": layers},
        "weights": {"seed": seed, "defaults": defaults or {"kernel": "glorot_uniform",
                                                           "bias": {"initializer": "random_normal"}}},
        "loss": {"type": "mean_squared_error", "reduction": "mean"},
    }
    (case,) = cases_from_data(data)
    return case


HIDDEN = {"type": "Dense", "name": "hidden", "units": 6}
EXTRA = {"type": "Dense", "name": "extra", "units": 6}
OUTPUT = {"type": "Dense", "name": "output", "units": 2}


def test_adding_a_layer_leaves_the_other_weights_alone():
    before = _case([HIDDEN, OUTPUT]).weights
    after = _case([HIDDEN, EXTRA, OUTPUT]).weights
    assert set(after) - set(before) == {"extra/kernel", "extra/bias"}
    for name, values in before.items():
        np.testing.assert_array_equal(after[name], values, err_msg=name)


def test_case_seed_changes_every_parameter():
    first, second = _case([HIDDEN, OUTPUT], seed=3).weights, _case([HIDDEN, OUTPUT], seed=4).weights
    for name in first:
        assert not np.any(first[name] == second[name]), name


def test_case_defaults_reach_the_parameters():
    case = _case([HIDDEN, OUTPUT], defaults={"kernel": "he_uniform", "bias": "ones"})
    # hidden/kernel is (4, 6): he_uniform's limit sqrt(6 / 4).
    kernel = case.weights["hidden/kernel"]
    assert kernel.shape == (4, 6) and np.abs(kernel).max() <= math.sqrt(6 / 4)
    assert np.all(case.weights["hidden/bias"] == 1.0) and np.all(case.weights["output/bias"] == 1.0)
    assert case.initializer_descriptions["hidden/kernel"] == "he_uniform"
