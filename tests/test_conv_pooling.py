"""Convolution and pooling: the reference against the textbook definition, TF's padding rule,
and the Dense row permutation that ports a channels_last model to a channels_first one.

The reference is fast (im2col through strided views, col2im by kernel offsets); here it is
checked against direct loops over every output cell written from the definition, so a wrong
stride, dilation, group or padding index cannot hide behind a matching backward pass (finite
differences only check that backward fits forward).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.backends.layout import flatten_rows_channels_last_to_first
from harness.weights import cases_from_data
from harness.reference.layers import LAYERS
from harness.reference.layers.windows import same_padding
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip


# --- TF's 'same' rule ---------------------------------------------------------------------------

@pytest.mark.parametrize("size, kernel, stride, dilation, expected", [
    (5, 4, 2, 1, (1, 2)),   # even kernel, stride 2: the odd cell at the end
    (6, 3, 2, 1, (0, 1)),   # the ResNet stem case: symmetric padding 1 would shift every window
    (7, 4, 1, 1, (1, 2)),   # even kernel, stride 1
    (4, 2, 1, 1, (0, 1)),
    (6, 3, 1, 1, (1, 1)),   # odd kernel, stride 1: symmetric
    (6, 3, 1, 2, (2, 2)),   # dilation 2: effective kernel 5
    (7, 2, 2, 2, (1, 1)),   # stride and dilation: effective kernel 3, out 4, total 2
    (5, 2, 3, 1, (0, 0)),   # stride larger than the kernel: out 2 needs no padding
])
def test_same_padding_follows_tf(size, kernel, stride, dilation, expected):
    """Values from TF's documented rule (tensorflow.org/api_docs/python/tf/nn, 'Notes on
    padding'): out = ceil(n / s), total = max((out - 1) s + k_eff - n, 0), before = total // 2."""
    assert same_padding(size, kernel, stride, dilation) == expected


# --- the reference against direct loops -----------------------------------------------------------

def direct_convolution(x, kernel, bias, strides, dilation, padding, groups):
    """y[b, o..., f] = bias[f] + sum over kernel cells k and the group's channels c of
    x_padded[b, o*s + k*d, g(f)*cg + c] kernel[k, c, f]: channels_last, one output cell at a time."""
    rank = x.ndim - 2
    spatial, channels = x.shape[1:-1], x.shape[-1]
    kernel_size, filters = kernel.shape[:rank], kernel.shape[-1]
    pads = [same_padding(n, k, s, d) if padding == "same" else (0, 0)
            for n, k, s, d in zip(spatial, kernel_size, strides, dilation)]
    padded = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(padded.shape[1 + i] - (kernel_size[i] - 1) * dilation[i] - 1) // strides[i] + 1 for i in range(rank)]
    in_group, out_group = channels // groups, filters // groups
    y = np.zeros((x.shape[0], *out, filters))
    for position in itertools.product(*(range(n) for n in out)):
        for f in range(filters):
            g = f // out_group
            total = np.zeros(x.shape[0])
            for cell in itertools.product(*(range(k) for k in kernel_size)):
                index = tuple(o * s + k * d for o, s, k, d in zip(position, strides, cell, dilation))
                window = padded[(slice(None), *index, slice(g * in_group, (g + 1) * in_group))]
                total += window @ kernel[(*cell, slice(None), f)]
            y[(slice(None), *position, f)] = total + bias[f]
    return y


def direct_pooling(x, pool, strides, padding, kind):
    """Max or mean of each window's cells that lie inside the input (channels_last)."""
    spatial = x.shape[1:-1]
    pads = [same_padding(n, k, s) if padding == "same" else (0, 0) for n, k, s in zip(spatial, pool, strides)]
    out = [-(-n // s) if padding == "same" else (n - k) // s + 1 for n, k, s in zip(spatial, pool, strides)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for position in itertools.product(*(range(n) for n in out)):
        starts = [o * s - before for o, s, (before, _) in zip(position, strides, pads)]
        cells = tuple(slice(max(start, 0), min(start + k, n)) for start, k, n in zip(starts, pool, spatial))
        window = x[(slice(None), *cells, slice(None))].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *position, slice(None))] = window.max(axis=1) if kind == "max" else window.mean(axis=1)
    return y


CONVOLUTIONS = [
    {"type": "Conv2D", "filters": 2, "kernel_size": 3},
    {"type": "Conv2D", "filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"},
    {"type": "Conv2D", "filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
    {"type": "Conv2D", "filters": 3, "kernel_size": [2, 3], "dilation_rate": [2, 1], "padding": "same"},
    {"type": "Conv2D", "filters": 2, "kernel_size": 2, "strides": 2, "dilation_rate": 2, "padding": "same"},
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "groups": 2, "strides": [1, 2], "padding": "same"},
    {"type": "Conv1D", "filters": 3, "kernel_size": 4, "strides": 3, "padding": "same"},
    {"type": "Conv1D", "filters": 4, "kernel_size": 3, "dilation_rate": 2, "groups": 4},
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("config", CONVOLUTIONS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_convolution_reference_matches_the_definition(config, data_format):
    rng = np.random.default_rng(5)
    rank = 2 if config["type"] == "Conv2D" else 1
    x_last = rng.normal(size=(2, *(7, 6)[:rank], 4))
    spec = LAYERS[config["type"]].model_validate({**config, "data_format": data_format})
    x = x_last if data_format == "channels_last" else np.moveaxis(x_last, -1, 1)
    shapes = spec.parameter_shapes([x.shape[1:]])
    params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    y = spec.reference(spec, params).forward(x)
    expected = direct_convolution(x_last, params["kernel"], params["bias"], spec.stride, spec.dilation,
                                  spec.padding, spec.groups)
    if data_format == "channels_first":
        expected = np.moveaxis(expected, -1, 1)
    assert y.shape == (2, *spec.output_shape([x.shape[1:]]))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


POOLINGS = [
    {"pool_size": 2, "padding": "valid"},
    {"pool_size": 2, "padding": "same"},
    {"pool_size": 3, "strides": 1, "padding": "same"},
    {"pool_size": [3, 2], "strides": [2, 3], "padding": "same"},
]


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("config", POOLINGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_pooling_reference_matches_the_definition(config, kind):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 5, 7, 3))
    type_name = "MaxPooling2D" if kind == "max" else "AveragePooling2D"
    spec = LAYERS[type_name].model_validate({"type": type_name, **config, "data_format": "channels_last"})
    y = spec.reference(spec, {}).forward(x)
    np.testing.assert_allclose(y, direct_pooling(x, spec.window, spec.stride, spec.padding, kind), rtol=1e-13)


def test_same_average_pooling_divides_by_the_real_cells():
    """3x3 windows, stride 1, 'same' on 4x4 ones-and-a-nine: the corner window holds 4 real
    cells of 9, so TF's average is (1 + 1 + 1 + 9) / 4 = 3, not 12 / 9."""
    x = np.ones((1, 4, 4, 1))
    x[0, 1, 1, 0] = 9.0
    spec = LAYERS["AveragePooling2D"].model_validate(
        {"type": "AveragePooling2D", "pool_size": 3, "strides": 1, "padding": "same", "data_format": "channels_last"})
    assert spec.reference(spec, {}).forward(x)[0, 0, 0, 0] == pytest.approx(3.0)


# --- porting a channels_last model to channels_first: the Dense rows after Flatten ------------------

def flatten_dense_case(data_format: str, image: np.ndarray, kernel: np.ndarray, dense: np.ndarray):
    """Conv2D(3, 3x3) -> Flatten -> Dense(4) on `image` (laid out for data_format)."""
    data = {
        "name": f"port_{data_format}", "dtype": "float64",
        "inputs": {"image": {"data": {"values": image.tolist()}}},
        "targets": {"t": {"data": {"values": np.zeros((len(image), 4)).tolist()}}},
        "model": {"sequential": [
            {"type": "Conv2D", "name": "conv", "filters": 3, "kernel_size": 3, "data_format": data_format},
            {"type": "Flatten", "name": "flatten"},
            {"type": "Dense", "name": "dense", "units": 4},
        ]},
        "weights": {"parameters": {"conv/kernel": {"values": kernel.tolist()},
                                   "dense/kernel": {"values": dense.tolist()}}},
        "loss": {"type": "mean_squared_error", "reduction": "sum"},
    }
    (case,) = cases_from_data(data)
    return case


def ported_cases():
    """The same network as a channels_last case (a Keras model) and as the channels_first case
    a torch user would write: same conv kernel, Dense rows permuted for (C, H, W) order."""
    rng = np.random.default_rng(7)
    image = rng.normal(size=(3, 6, 5, 2))  # NHWC
    kernel = rng.normal(size=(3, 3, 2, 3))
    dense_last = rng.normal(size=(4 * 3 * 3, 4))  # rows in (H, W, C) order of the (4, 3, 3) map
    permutation = flatten_rows_channels_last_to_first((4, 3), 3)
    channels_last = flatten_dense_case("channels_last", image, kernel, dense_last)
    channels_first = flatten_dense_case("channels_first", np.moveaxis(image, -1, 1), kernel, dense_last[permutation])
    return channels_last, channels_first, permutation


def test_row_permutation_ports_the_model_in_the_reference():
    channels_last, channels_first, permutation = ported_cases()
    last, first = run_reference(channels_last), run_reference(channels_first)
    np.testing.assert_allclose(first.outputs["dense"], last.outputs["dense"], rtol=1e-12)
    # Without the permutation the channels_first model computes something else.
    unpermuted = flatten_dense_case("channels_first", channels_first.dataset.inputs["image"],
                                    channels_last.weights["conv/kernel"], channels_last.weights["dense/kernel"])
    assert not np.allclose(run_reference(unpermuted).outputs["dense"], last.outputs["dense"])
    # The inverse permutation brings the gradient of the Dense kernel back to Keras' row order.
    np.testing.assert_allclose(first.parameter_gradients["dense/kernel"][np.argsort(permutation)],
                               last.parameter_gradients["dense/kernel"], rtol=1e-10)


def test_row_permutation_reproduces_the_keras_output_in_torch():
    """Keras runs the NHWC model, torch the NCHW one with the permuted Dense kernel (transposed
    to (out, in) by the adapter, as for any Dense): the outputs agree."""
    keras, torch = backend_or_skip("keras"), backend_or_skip("torch")
    channels_last, channels_first, _ = ported_cases()
    keras_output = keras.run(channels_last).outputs["dense"]
    torch_output = torch.run(channels_first).outputs["dense"]
    np.testing.assert_allclose(torch_output, keras_output, rtol=1e-10, atol=1e-12)
