"""Example configurations of every layer, activation, loss and optimizer.

They drive the unit tests (finite differences for the reference, conversion round trips and
single-layer equivalence for every adapter) and `python -m harness support`, which runs them
through every adapter to build the support table (docs/support.md). Each registered layer type,
activation, loss and optimizer must appear here: tests/test_coverage.py fails otherwise.

A layer example is a config (without `type`), the input shapes (without batch), and optionally
how to draw the inputs (integer indices for Embedding, positive values, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from harness.case import cases_from_data
from harness.reference.layers import LAYERS

if TYPE_CHECKING:
    from harness.case import Case


@dataclass
class LayerExample:
    type: str
    config: dict[str, Any]
    input_shapes: list[tuple[int, ...]]
    training: bool = False
    make_inputs: Callable[[np.random.Generator, list[tuple[int, ...]], int], list[np.ndarray]] | None = None
    batch: int = 3
    make_parameters: Callable[[np.random.Generator, str, tuple[int, ...]], np.ndarray] | None = None
    """Draws a parameter (name without layer prefix); default 0.5 * N(0, 1). Positive
    variances and the like need their own."""
    id: str = ""

    def __post_init__(self):
        if not self.id:
            settings = ",".join(f"{k}={v}" for k, v in self.config.items() if k != "name")
            self.id = f"{self.type}({settings})" + "x".join(str(list(s)) for s in self.input_shapes)
            if self.training:
                self.id += ":training"

    def parameter(self, rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if self.make_parameters is not None:
            return self.make_parameters(rng, name, shape)
        return 0.5 * rng.normal(size=shape)

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        if self.make_inputs is not None:
            return self.make_inputs(rng, self.input_shapes, self.batch)
        return [rng.normal(size=(self.batch, *shape)) for shape in self.input_shapes]


def _wide_inputs(rng: np.random.Generator, shapes: list[tuple[int, ...]], batch: int) -> list[np.ndarray]:
    """N(0, 4^2): values beyond ReLU6's clip as well as below zero."""
    return [4.0 * rng.normal(size=(batch, *shape)) for shape in shapes]


ACTIVATION_EXAMPLES: list[dict[str, Any]] = [
    {"name": "linear"},
    {"name": "relu"},
    {"name": "leaky_relu", "negative_slope": 0.2},
    {"name": "leaky_relu", "negative_slope": 0.01},
    {"name": "tanh"},
    {"name": "sigmoid"},
    {"name": "hard_sigmoid", "slope": 1 / 6},
    {"name": "hard_sigmoid", "slope": 0.2},
    {"name": "softmax"},
    {"name": "softmax", "axis": 1},
    {"name": "elu", "alpha": 1.0},
    {"name": "elu", "alpha": 0.5},
    {"name": "selu"},
    {"name": "softplus"},
    {"name": "softplus", "beta": 2.0},
    {"name": "softsign"},
    {"name": "gelu", "approximate": "none"},
    {"name": "gelu", "approximate": "tanh"},
    {"name": "swish"},
    {"name": "silu"},
    {"name": "swish", "beta": 1.5},
    {"name": "log_softmax"},
    {"name": "log_softmax", "axis": 1},
    {"name": "hard_swish"},
]


def _activation_examples() -> list[LayerExample]:
    examples = []
    for activation in ACTIVATION_EXAMPLES:
        # Three inputs wide so softmax over axis 1 and -1 differ; scaled so hard_sigmoid and
        # the relu family see both sides of their kinks.
        examples.append(LayerExample("Activation", {"activation": activation}, [(2, 4)],
                                     make_inputs=lambda rng, shapes, batch: [
                                         3 * rng.normal(size=(batch, *shapes[0]))]))
    return examples


def _moving_statistics(rng, name, shape):
    """BatchNorm parameters with a positive moving variance; gamma away from zero."""
    if name == "moving_variance":
        return rng.uniform(0.5, 2.0, size=shape)
    if name == "gamma":
        return rng.uniform(0.5, 1.5, size=shape)
    return 0.5 * rng.normal(size=shape)


def _batch_normalization_examples() -> list[LayerExample]:
    """Both modes; each variance convention; feature axis last and not last; center/scale."""
    keras_like = {"epsilon": 1e-3, "momentum": 0.99, "moving_variance": "biased"}
    torch_like = {"epsilon": 1e-5, "momentum": 0.9, "moving_variance": "unbiased"}
    settings = [
        (keras_like, [(4,)]),
        (torch_like, [(4,)]),
        ({**torch_like, "axis": 1}, [(3, 2, 2)]),  # channels_first images
        ({**keras_like, "axis": -1}, [(2, 3)]),  # (steps, features)
        ({**keras_like, "moving_variance": "unbiased", "center": False}, [(3,)]),
        ({**torch_like, "moving_variance": "biased", "scale": False}, [(2, 3)]),
        ({**torch_like, "center": False, "scale": False}, [(3,)]),
    ]
    return [LayerExample("BatchNormalization", config, shapes, training=training, batch=4,
                         make_parameters=_moving_statistics)
            for config, shapes in settings for training in (False, True)]


def _indices(input_dim: int):
    """Integer inputs in [0, input_dim), for Embedding; small ranges make rows repeat."""
    def make(rng, shapes, batch):
        return [rng.integers(0, input_dim, size=(batch, *shape)) for shape in shapes]
    return make


def _padded(rng, shapes, batch):
    """Sequences and their lengths for VariableLength: lengths 1 .. time, each at least once
    where the batch allows (the shortest, one step, and the longest, no padding)."""
    (steps, features), _ = shapes
    lengths = np.resize(np.arange(1, steps + 1), batch)
    return [0.5 * rng.normal(size=(batch, steps, features)), lengths.reshape(batch, 1)]


def _channels(shape_last: tuple[int, ...], data_format: str) -> tuple[int, ...]:
    """A channels_last example shape, laid out for `data_format`."""
    return shape_last if data_format == "channels_last" else (shape_last[-1], *shape_last[:-1])


def _both_layouts(type_: str, config: dict[str, Any], shape_last: tuple[int, ...]) -> list[LayerExample]:
    return [LayerExample(type_, {**config, "data_format": layout}, [_channels(shape_last, layout)])
            for layout in ("channels_last", "channels_first")]


def _convolution_examples() -> list[LayerExample]:
    """Every option of Conv1D/Conv2D, most of them in both channel orders. Comments give the
    'same' padding (before, after) by TF's rule, which decides the adapters' path."""
    tanh = {"activation": "tanh"}
    return [
        *_both_layouts("Conv2D", {"filters": 3, "kernel_size": 3, **tanh}, (5, 6, 2)),  # valid
        # k=4, s=2 on 5 and 7: pads (1, 2); torch padding='same' refuses strides, symmetric 2 is wrong.
        *_both_layouts("Conv2D", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"}, (5, 7, 2)),
        # k=3, s=2 on 6: pads (0, 1), the ResNet case where padding=1 has the right shape, wrong values.
        *_both_layouts("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (6, 6, 1)),
        # even kernel, stride 1: pads (0, 1) and (1, 2).
        *_both_layouts("Conv2D", {"filters": 2, "kernel_size": [2, 4], "padding": "same", **tanh}, (4, 5, 2)),
        # symmetric 'same' (k=3, s=1: pads (1, 1)): the frameworks' own padding.
        LayerExample("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same", "data_format": "channels_first"},
                     [(2, 4, 4)]),
        *_both_layouts("Conv2D", {"filters": 2, "kernel_size": [3, 2], "dilation_rate": 2, "padding": "same"},
                       (6, 5, 2)),
        LayerExample("Conv2D", {"filters": 2, "kernel_size": 2, "dilation_rate": [1, 2],
                                "data_format": "channels_last"}, [(4, 5, 1)]),
        # strides > 1 with dilation > 1: Keras refuses it; the adapters compose it.
        *_both_layouts("Conv2D", {"filters": 2, "kernel_size": 2, "strides": 2, "dilation_rate": 2,
                                  "padding": "same"}, (7, 6, 2)),
        *_both_layouts("Conv2D", {"filters": 4, "kernel_size": 2, "groups": 2, "use_bias": False}, (4, 4, 4)),
        LayerExample("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 3, "strides": [2, 1], "padding": "same",
                                "data_format": "channels_first", **tanh}, [(3, 5, 4)]),
        # softmax over the last axis of the output as laid out: channels, or width.
        *_both_layouts("Conv2D", {"filters": 3, "kernel_size": 2, "activation": "softmax"}, (3, 4, 2)),
        *_both_layouts("Conv1D", {"filters": 3, "kernel_size": 3, **tanh}, (7, 2)),
        *_both_layouts("Conv1D", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"}, (9, 3)),
        *_both_layouts("Conv1D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same",
                                  "use_bias": False}, (8, 2)),
        *_both_layouts("Conv1D", {"filters": 4, "kernel_size": 2, "groups": 2, "strides": 3, "padding": "same"},
                       (8, 4)),
        # explicit padding: torch's symmetric int (the 7x7 stem at stride 2, padding 3), per axis,
        # asymmetric [[before, after], ...] (native in torch and chainer only where symmetric).
        *_both_layouts("Conv2D", {"filters": 2, "kernel_size": 7, "strides": 2, "padding": 3}, (9, 8, 2)),
        *_both_layouts("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": [[0, 1], [1, 2]]},
                       (6, 5, 2)),
        LayerExample("Conv2D", {"filters": 2, "kernel_size": [3, 2], "padding": [1, 0], "dilation_rate": [1, 2],
                                "data_format": "channels_first"}, [(2, 4, 5)]),
        *_both_layouts("Conv1D", {"filters": 2, "kernel_size": 3, "padding": [[2, 0]]}, (5, 2)),
        # DepthwiseConv2D: MobileNet's 3x3 'same' stride 1 and 2 (pads (0, 1): asymmetric), a
        # multiplier (output channel c * multiplier + m), dilation (chainer's link has none),
        # explicit padding as torchvision's MobileNetV2 writes it (padding=1).
        *_both_layouts("DepthwiseConv2D", {"kernel_size": 3, "padding": "same", **tanh}, (4, 5, 3)),
        *_both_layouts("DepthwiseConv2D", {"kernel_size": 3, "strides": 2, "padding": "same"}, (6, 5, 2)),
        *_both_layouts("DepthwiseConv2D", {"kernel_size": [2, 3], "depth_multiplier": 2, "use_bias": False},
                       (4, 5, 3)),
        *_both_layouts("DepthwiseConv2D", {"kernel_size": 2, "dilation_rate": 2, "depth_multiplier": 3,
                                           "padding": "same"}, (5, 4, 2)),
        *_both_layouts("DepthwiseConv2D", {"kernel_size": 3, "strides": 2, "padding": 1}, (7, 6, 2)),
        LayerExample("DepthwiseConv2D", {"kernel_size": 3, "strides": 2, "dilation_rate": 2, "padding": [[0, 1], [2, 1]],
                                         "data_format": "channels_first"}, [(2, 7, 6)]),
        *_both_layouts("SeparableConv2D", {"filters": 3, "kernel_size": 3, "padding": "same", **tanh}, (4, 5, 2)),
        *_both_layouts("SeparableConv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "depth_multiplier": 2,
                                           "padding": 1, "use_bias": False}, (6, 5, 2)),
        LayerExample("SeparableConv2D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "padding": "same",
                                         "data_format": "channels_last"}, [(5, 4, 3)]),
        # Conv3D: valid and 'same' with an odd cell on two axes, strides per axis, dilation and
        # groups, explicit padding (a video model's stem).
        *_both_layouts("Conv3D", {"filters": 3, "kernel_size": 2, **tanh}, (3, 4, 3, 2)),
        # (Not width == filters channels_first: Keras' bias bug, cases/discovered_keras_channels_first_bias.yaml.)
        *_both_layouts("Conv3D", {"filters": 3, "kernel_size": [3, 2, 3], "strides": [1, 2, 2], "padding": "same"},
                       (3, 5, 4, 2)),
        *_both_layouts("Conv3D", {"filters": 4, "kernel_size": 2, "dilation_rate": [1, 2, 1], "groups": 2},
                       (3, 4, 3, 4)),
        LayerExample("Conv3D", {"filters": 3, "kernel_size": [3, 3, 3], "strides": [1, 2, 2], "padding": [1, 1, 1],
                                "data_format": "channels_first"}, [(2, 3, 5, 4)]),
        # Conv2DTranspose / Conv1DTranspose: Keras 'valid' with k > s and k < s (the tail holds the
        # bias only), 'same' with an even and an odd crop (the odd cell cropped at the end), Keras'
        # output_padding, torch's explicit padding with output_padding (below and above the
        # padding: cells past the full output), groups, dilation.
        *_both_layouts("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, **tanh}, (3, 4, 2)),
        *_both_layouts("Conv2DTranspose", {"filters": 2, "kernel_size": [1, 2], "strides": [3, 2]}, (3, 2, 2)),
        *_both_layouts("Conv2DTranspose", {"filters": 2, "kernel_size": [4, 3], "strides": [1, 2], "padding": "same"},
                       (3, 4, 3)),
        *_both_layouts("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same",
                                           "output_padding": [1, 0]}, (3, 3, 2)),
        *_both_layouts("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": 1,
                                           "output_padding": 1}, (3, 4, 2)),
        LayerExample("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 3, "padding": [0, 1],
                                         "output_padding": [2, 1], "data_format": "channels_first"}, [(2, 3, 3)]),
        *_both_layouts("Conv2DTranspose", {"filters": 4, "kernel_size": 2, "strides": 2, "groups": 2,
                                           "use_bias": False}, (3, 3, 4)),
        LayerExample("Conv2DTranspose", {"filters": 2, "kernel_size": [2, 3], "dilation_rate": 2, "padding": 1,
                                         "data_format": "channels_first"}, [(2, 3, 4)]),
        # output_padding up to the dilation (torch's bound): chainer's outsize stops at the stride.
        LayerExample("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "padding": 1,
                                         "output_padding": 1, "data_format": "channels_first"}, [(2, 3, 3)]),
        *_both_layouts("Conv1DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same", **tanh},
                       (5, 2)),
        *_both_layouts("Conv1DTranspose", {"filters": 2, "kernel_size": 3, "strides": 3, "padding": 1,
                                           "output_padding": 2}, (4, 3)),
        LayerExample("Conv1DTranspose", {"filters": 4, "kernel_size": 3, "groups": 2, "dilation_rate": 2,
                                         "data_format": "channels_last"}, [(5, 2)]),
    ]


def _pooling_examples() -> list[LayerExample]:
    """Every pooling option. 'same' on 5 with window 2, stride 2 pads (0, 1); window 3, stride 1
    on 4 pads (1, 1), where the corner windows hold 4 real cells of 9."""
    examples = []
    for kind in ("MaxPooling", "AveragePooling"):
        examples += [
            *_both_layouts(f"{kind}2D", {"pool_size": 2, "padding": "valid"}, (4, 5, 2)),
            # 3-D: 'same' with (0, 1) on the odd axes, an explicit pad on the depth axis.
            *_both_layouts(f"{kind}3D", {"pool_size": 2, "padding": "same"}, (3, 4, 5, 2)),
            *_both_layouts(f"{kind}3D", {"pool_size": [2, 3, 2], "strides": [1, 2, 2], "padding": [1, 0, 0]},
                           (3, 5, 4, 2)),
            *_both_layouts(f"{kind}2D", {"pool_size": 2, "padding": "same"}, (5, 5, 2)),
            *_both_layouts(f"{kind}2D", {"pool_size": 3, "strides": 1, "padding": "same"}, (4, 4, 2)),
            LayerExample(f"{kind}2D", {"pool_size": [2, 3], "strides": [1, 2], "padding": "valid",
                                       "data_format": "channels_first"}, [(2, 4, 7)]),
            LayerExample(f"{kind}2D", {"pool_size": [3, 2], "strides": [2, 1], "padding": "same",
                                       "data_format": "channels_last"}, [(6, 5, 2)]),
            *_both_layouts(f"{kind}1D", {"pool_size": 2, "padding": "valid"}, (7, 2)),
            *_both_layouts(f"{kind}1D", {"pool_size": 4, "strides": 3, "padding": "same"}, (8, 2)),
            # torch's MaxPool2d(3, 2, padding=1) (ResNet's stem) and ceil_mode (SqueezeNet's):
            # ceil adds one cell after 8 (4 windows, not 3) and none after 7; asymmetric and
            # beyond-half-window padding; last, window 3, stride 3, padding 1 on 5: ceil would
            # give 3 windows, but the third would start in the padding (torch's correction): 2.
            *_both_layouts(f"{kind}2D", {"pool_size": 3, "strides": 2, "padding": 1}, (7, 8, 2)),
            *_both_layouts(f"{kind}2D", {"pool_size": 3, "strides": 2, "padding": "valid", "ceil_mode": True},
                           (7, 8, 2)),
            LayerExample(f"{kind}2D", {"pool_size": 3, "strides": 2, "padding": 1, "ceil_mode": True,
                                       "data_format": "channels_first"}, [(2, 6, 5)]),
            LayerExample(f"{kind}2D", {"pool_size": [3, 2], "strides": 2, "padding": [[2, 0], [0, 1]],
                                       "data_format": "channels_last"}, [(5, 5, 2)]),
            *_both_layouts(f"{kind}1D", {"pool_size": 3, "strides": 2, "padding": [[0, 1]], "ceil_mode": True},
                           (6, 2)),
            LayerExample(f"{kind}1D", {"pool_size": 3, "strides": 3, "padding": 1, "ceil_mode": True,
                                       "data_format": "channels_first"}, [(2, 5)]),
            # 2 of 3 cells padding: more than torch's pooling takes (half the window).
            LayerExample(f"{kind}2D", {"pool_size": 3, "strides": 2, "padding": 2, "data_format": "channels_first"},
                         [(2, 4, 5)]),
        ]
    # Dilated max pooling (torch's MaxPool dilation): window 2 dilation 2 spans 3 cells; with
    # 'same', explicit padding, ceil_mode (torch counts the dilated extent: 9 cells, extent 5,
    # stride 2 -> 3 windows, ceil 3 -> 4 with one cell more) and a per-axis rate.
    examples += [
        *_both_layouts("MaxPooling2D", {"pool_size": 2, "strides": 1, "padding": "valid", "dilation_rate": 2},
                       (5, 6, 2)),
        *_both_layouts("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": 1, "dilation_rate": [2, 1]},
                       (7, 6, 2)),
        LayerExample("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same", "dilation_rate": 2,
                                      "data_format": "channels_last"}, [(6, 7, 2)]),
        LayerExample("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "valid", "dilation_rate": 2,
                                      "ceil_mode": True, "data_format": "channels_first"}, [(2, 10, 9)]),
        *_both_layouts("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": 2, "dilation_rate": 3}, (11, 2)),
        LayerExample("MaxPooling3D", {"pool_size": 2, "strides": 1, "padding": "valid", "dilation_rate": [1, 2, 2],
                                      "data_format": "channels_last"}, [(3, 5, 5, 2)]),
    ]
    # Adaptive: 7 -> 3 gives overlapping windows [0, 3), [2, 5), [4, 7); 5 -> 2 gives [0, 3),
    # [2, 5); 4 -> 4 single cells; 6 -> 4 unequal [0, 2), [1, 3), [3, 5), [4, 6); output 1 is global.
    for kind in ("AdaptiveAveragePooling", "AdaptiveMaxPooling"):
        examples += [
            *_both_layouts(f"{kind}2D", {"output_size": [3, 2]}, (7, 5, 2)),
            LayerExample(f"{kind}2D", {"output_size": 1, "data_format": "channels_first"}, [(2, 3, 4)]),
            LayerExample(f"{kind}2D", {"output_size": 4, "data_format": "channels_last"}, [(4, 6, 2)]),
            *_both_layouts(f"{kind}1D", {"output_size": 4}, (6, 2)),
        ]
    # count_include_pad: torch's default divisor (the window clipped to the padded input).
    examples += [
        *_both_layouts("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": 1, "count_include_pad": True},
                       (7, 6, 2)),
        LayerExample("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": 1, "ceil_mode": True,
                                          "count_include_pad": True, "data_format": "channels_first"}, [(2, 6, 5)]),
        LayerExample("AveragePooling2D", {"pool_size": 2, "padding": "same", "count_include_pad": True,
                                          "data_format": "channels_last"}, [(5, 5, 2)]),
        LayerExample("AveragePooling1D", {"pool_size": 3, "strides": 2, "padding": [[2, 1]], "count_include_pad": True,
                                          "data_format": "channels_first"}, [(2, 6)]),
    ]
    for kind in ("GlobalAveragePooling", "GlobalMaxPooling"):
        examples += [
            *_both_layouts(f"{kind}1D", {}, (5, 3)),
            *_both_layouts(f"{kind}2D", {}, (3, 4, 2)),
            *_both_layouts(f"{kind}2D", {"keepdims": True}, (3, 4, 2)),
        ]
    # Two equal maxima per (sample, channel): the gradient is split between them.
    examples.append(LayerExample("GlobalMaxPooling2D", {"data_format": "channels_last"}, [(3, 4, 2)],
                                 make_inputs=_tied_maxima, id="GlobalMaxPooling2D(two equal maxima)"))
    return [*examples, *_both_layouts("Flatten", {}, (2, 3, 4))]


def _tied_maxima(rng, shapes, batch):
    """(batch, *spatial, channels) normal values whose maximum appears exactly twice per
    sample and channel (central differences then give half the gradient to each, the split)."""
    x = rng.normal(size=(batch, *shapes[0]))
    cells = x.reshape(batch, -1, x.shape[-1])
    top = cells.argmax(axis=1)
    other = (top + 1) % cells.shape[1]
    for b in range(batch):
        for c in range(cells.shape[-1]):
            cells[b, other[b, c], c] = cells[b, top[b, c], c]
    return [cells.reshape(x.shape)]


_HARD_SIGMOID_KERAS = {"name": "hard_sigmoid", "slope": 1 / 6}
_HARD_SIGMOID_CHAINER = {"name": "hard_sigmoid", "slope": 0.2}

RECURRENT_EXAMPLES: list[LayerExample] = [
    # Sequences of 4 steps (3 where the output is every step) over 3 features, 4-5 units: long
    # enough that every gradient flows through the recurrence, small enough for finite differences.
    LayerExample("LSTM", {"units": 4}, [(4, 3)]),
    LayerExample("LSTM", {"units": 3, "return_sequences": True}, [(3, 2)]),
    LayerExample("LSTM", {"units": 4, "activation": "sigmoid", "recurrent_activation": "sigmoid"}, [(3, 5)]),
    LayerExample("LSTM", {"units": 3, "activation": "softsign", "recurrent_activation": _HARD_SIGMOID_CHAINER,
                          "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 4, "reset_after": True}, [(4, 3)]),
    LayerExample("GRU", {"units": 4, "reset_after": False}, [(4, 3)]),
    LayerExample("GRU", {"units": 3, "reset_after": True, "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": False, "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": True, "activation": "softsign",
                         "recurrent_activation": _HARD_SIGMOID_KERAS}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": False, "activation": "relu",
                         "recurrent_activation": _HARD_SIGMOID_CHAINER}, [(3, 2)]),
    LayerExample("SimpleRNN", {"units": 4}, [(4, 3)]),
    LayerExample("SimpleRNN", {"units": 3, "activation": "relu", "return_sequences": True}, [(3, 2)]),
    LayerExample("SimpleRNN", {"units": 3, "activation": "sigmoid"}, [(3, 2)]),
    # go_backwards: on the last state, and on every state (returned in the reversed order).
    LayerExample("LSTM", {"units": 4, "go_backwards": True}, [(4, 3)]),
    LayerExample("LSTM", {"units": 3, "go_backwards": True, "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": True, "go_backwards": True, "return_sequences": True}, [(3, 2)]),
    LayerExample("GRU", {"units": 3, "reset_after": False, "go_backwards": True}, [(4, 2)]),
    LayerExample("SimpleRNN", {"units": 3, "go_backwards": True, "return_sequences": True}, [(3, 2)]),
    # PeepholeLSTM (chainer's L.StatefulPeepholeLSTM; composite in Keras and torch): native in
    # chainer, a composite cell there too, every step, and reversed.
    LayerExample("PeepholeLSTM", {"units": 4}, [(4, 3)]),
    LayerExample("PeepholeLSTM", {"units": 3, "return_sequences": True}, [(3, 2)]),
    LayerExample("PeepholeLSTM", {"units": 3, "activation": "softsign", "recurrent_activation": _HARD_SIGMOID_CHAINER,
                                  "go_backwards": True, "return_sequences": True}, [(3, 2)]),
    # VariableLength: right-padded sequences, every length from 1 to time; both conventions for
    # the output at padded steps, the last state, and cells native and composite.
    LayerExample("VariableLength", {"layer": {"type": "LSTM", "units": 3, "return_sequences": True},
                                    "padded_output": "zero"}, [(4, 2), (1,)], make_inputs=_padded, batch=5),
    LayerExample("VariableLength", {"layer": {"type": "LSTM", "units": 3, "return_sequences": True},
                                    "padded_output": "previous"}, [(4, 2), (1,)], make_inputs=_padded, batch=5),
    LayerExample("VariableLength", {"layer": {"type": "GRU", "units": 3, "reset_after": True},
                                    "padded_output": "zero"}, [(4, 2), (1,)], make_inputs=_padded, batch=4),
    LayerExample("VariableLength", {"layer": {"type": "SimpleRNN", "units": 2, "activation": "relu",
                                              "return_sequences": True}, "padded_output": "previous"},
                 [(3, 2), (1,)], make_inputs=_padded, batch=4),
    # initial_state: the states are inputs after x ([x, h] and LSTM's [x, h, c]), so finite
    # differences check their gradients too; with go_backwards they enter before the last step.
    LayerExample("LSTM", {"units": 3, "initial_state": True}, [(4, 2), (3,), (3,)]),
    LayerExample("LSTM", {"units": 3, "initial_state": True, "return_sequences": True,
                          "activation": "softsign", "recurrent_activation": _HARD_SIGMOID_CHAINER}, [(3, 2), (3,), (3,)]),
    LayerExample("LSTM", {"units": 3, "initial_state": True, "go_backwards": True}, [(3, 2), (3,), (3,)]),
    LayerExample("GRU", {"units": 3, "reset_after": True, "initial_state": True}, [(4, 2), (3,)]),
    LayerExample("GRU", {"units": 3, "reset_after": False, "initial_state": True, "return_sequences": True},
                 [(3, 2), (3,)]),
    LayerExample("SimpleRNN", {"units": 3, "initial_state": True}, [(4, 2), (3,)]),
    # chainer's other LSTM links (chainer_link; Keras and torch ignore it): the stateful L.LSTM,
    # L.NStepLSTM (one tensor per gate, b4..b7 held at zero) and L.NStepBiLSTM.
    LayerExample("LSTM", {"units": 3, "chainer_link": "LSTM", "return_sequences": True}, [(3, 2)]),
    LayerExample("LSTM", {"units": 3, "chainer_link": "NStepLSTM"}, [(4, 2)]),
    LayerExample("LSTM", {"units": 3, "chainer_link": "NStepLSTM", "initial_state": True, "return_sequences": True},
                 [(3, 2), (3,), (3,)]),
    LayerExample("Bidirectional", {"layer": {"type": "LSTM", "units": 3, "chainer_link": "NStepLSTM"}}, [(3, 2)]),
    LayerExample("Bidirectional", {"layer": {"type": "LSTM", "units": 2, "chainer_link": "NStepLSTM",
                                             "return_sequences": True}}, [(3, 2)]),
    # Bidirectional: every merge mode, on the last state and on every state (the backward half
    # flipped back to forward time), standard and composite cells.
    LayerExample("Bidirectional", {"layer": {"type": "LSTM", "units": 3}}, [(3, 2)]),
    LayerExample("Bidirectional", {"layer": {"type": "LSTM", "units": 3, "return_sequences": True},
                                   "merge_mode": "sum"}, [(3, 2)]),
    LayerExample("Bidirectional", {"layer": {"type": "GRU", "units": 3, "reset_after": True,
                                             "return_sequences": True}}, [(3, 2)]),
    LayerExample("Bidirectional", {"layer": {"type": "GRU", "units": 2, "reset_after": False},
                                   "merge_mode": "mul"}, [(3, 2)]),
    LayerExample("Bidirectional", {"layer": {"type": "SimpleRNN", "units": 3, "activation": "relu",
                                             "return_sequences": True}, "merge_mode": "ave"}, [(3, 2)]),
]
"""Recurrent layers in every formulation and with activations that the native torch and chainer
cells cannot take (their adapters build those from primitives)."""

LAYER_EXAMPLES: list[LayerExample] = [
    LayerExample("Dense", {"units": 3, "activation": "tanh"}, [(4,)]),
    LayerExample("Dense", {"units": 2, "use_bias": False}, [(5,)]),
    LayerExample("Dense", {"units": 3, "activation": {"name": "leaky_relu", "negative_slope": 0.2}}, [(2, 4)]),
    *_activation_examples(),
    # 0.25, not Keras' 0.3: TF keeps the slope as a float32 attribute even in float64
    # (tensorflow/python/ops/gen_nn_ops.py, LeakyRelu), which would put Keras 1e-8 off; a float32-exact slope keeps the comparison exact.
    LayerExample("LeakyReLU", {"negative_slope": 0.25}, [(2, 4)]),
    LayerExample("LeakyReLU", {"negative_slope": 0.01}, [(5,)]),
    # ReLU's settings, each reaching a different torch module / chainer function or a composite;
    # slopes and bounds exact in float32 so that TF's float32 attributes cannot blur float64 runs.
    LayerExample("ReLU", {}, [(5,)]),
    LayerExample("ReLU", {"max_value": 6.0}, [(2, 4)], make_inputs=_wide_inputs),
    LayerExample("ReLU", {"max_value": 0.5}, [(5,)]),
    LayerExample("ReLU", {"negative_slope": 0.25}, [(5,)]),
    LayerExample("ReLU", {"threshold": 0.5}, [(5,)]),
    LayerExample("ReLU", {"max_value": 1.5, "negative_slope": 0.125, "threshold": 0.25}, [(2, 4)],
                 make_inputs=_wide_inputs),
    # PReLU: per feature (torch's nn.PReLU and chainer's L.PReLU hold it natively), one shared
    # alpha, and alpha per channel shared over the steps (composite in torch and chainer).
    LayerExample("PReLU", {}, [(5,)]),
    LayerExample("PReLU", {"shared_axes": [1]}, [(5,)]),
    LayerExample("PReLU", {"shared_axes": [1]}, [(3, 4)]),
    LayerExample("PReLU", {}, [(3, 4)]),
    LayerExample("Flatten", {}, [(2, 3)]),
    LayerExample("Flatten", {}, [(2, 3, 2)]),
    LayerExample("Add", {}, [(4,), (4,)]),
    LayerExample("Add", {}, [(2, 3), (2, 3), (2, 3)]),
    LayerExample("Multiply", {}, [(4,), (4,)]),
    LayerExample("Multiply", {}, [(3,), (3,), (3,)]),
    LayerExample("Concatenate", {}, [(2,), (3,)]),
    LayerExample("Concatenate", {"axis": 1}, [(2, 3), (1, 3)]),
    *_batch_normalization_examples(),
    LayerExample("LayerNormalization", {"epsilon": 1e-3}, [(4,)]),
    LayerExample("LayerNormalization", {"epsilon": 1e-5, "axis": -1}, [(2, 3)]),
    LayerExample("LayerNormalization", {"epsilon": 1e-5, "axis": [-2, -1]}, [(2, 3)]),
    LayerExample("LayerNormalization", {"epsilon": 1e-5, "axis": 1}, [(3, 2)]),
    LayerExample("LayerNormalization", {"epsilon": 1e-5, "axis": [1, 3]}, [(2, 3, 2)]),
    LayerExample("LayerNormalization", {"epsilon": 1e-3, "center": False}, [(4,)]),
    LayerExample("LayerNormalization", {"epsilon": 1e-3, "scale": False}, [(2, 4)]),
    LayerExample("LayerNormalization", {"epsilon": 1e-3, "center": False, "scale": False}, [(4,)]),
    # Self-attention over (length, d_model): torch's native function where heads * key_dim == d_model,
    # its composite elsewhere; causal masks the upper triangle of every head.
    LayerExample("MultiHeadAttention", {"num_heads": 2, "key_dim": 2}, [(3, 4)], batch=2),
    LayerExample("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "causal": True}, [(4, 6)], batch=2),
    LayerExample("MultiHeadAttention", {"num_heads": 3, "key_dim": 2}, [(3, 4)], batch=2),
    LayerExample("MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "value_dim": 3}, [(3, 4)], batch=2),
    LayerExample("MultiHeadAttention", {"num_heads": 1, "key_dim": 3, "causal": True, "use_bias": False},
                 [(4, 3)], batch=2),
    # Masks: True = may attend (the case's convention); row 2 keeps one position, and with causal
    # the fixed mask and the triangle together. key_dim 4 (1/2 exact in float32, so no Keras
    # float64 scale note; 2 heads of 4 = d_model 8: torch's native function).
    LayerExample("MultiHeadAttention", {"num_heads": 2, "key_dim": 4,
                                        "mask": [[True, False, True], [True, True, False], [False, False, True]]},
                 [(3, 8)], batch=2),
    LayerExample("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "causal": True,
                                        "mask": [[True, True, True], [True, True, True], [True, False, True]]},
                 [(3, 8)], batch=2),
    # ScaledDotProductAttention: (length, heads, head_dim) query, key, value; head_dim 4 and
    # scale 0.25 are exact in float32 (Keras on TensorFlow rounds the scale there, see its adapter).
    LayerExample("ScaledDotProductAttention", {}, [(3, 2, 4), (3, 2, 4), (3, 2, 4)], batch=2),
    LayerExample("ScaledDotProductAttention", {"scale": 0.25}, [(3, 1, 4), (5, 1, 4), (5, 1, 4)], batch=2),
    LayerExample("ScaledDotProductAttention", {"causal": True}, [(4, 2, 4), (4, 2, 4), (4, 2, 4)], batch=2),
    LayerExample("ScaledDotProductAttention", {"causal": True}, [(3, 1, 4), (5, 1, 4), (5, 1, 4)], batch=2),
    LayerExample("ScaledDotProductAttention",
                 {"causal": True, "mask": [[True, False, True, True], [False, True, True, False],
                                           [True, True, False, True]]},
                 [(3, 2, 4), (4, 2, 4), (4, 2, 4)], batch=2),
    LayerExample("Embedding", {"input_dim": 5, "output_dim": 3}, [(4,)], make_inputs=_indices(5), batch=4),
    LayerExample("Embedding", {"input_dim": 3, "output_dim": 2}, [(2, 3)], make_inputs=_indices(3)),
    # PositionEmbedding: an input as long as the table, and a shorter one (rows past it get no gradient).
    LayerExample("PositionEmbedding", {"sequence_length": 4}, [(4, 3)], batch=3),
    LayerExample("PositionEmbedding", {"sequence_length": 5}, [(3, 2)], batch=2),
    LayerExample("Dropout", {"rate": 0.5}, [(4,)]),
    LayerExample("Dropout", {"rate": 0.0}, [(4,)], training=True),
    LayerExample("Dropout", {"rate": 0.5}, [(4,)], training=True),  # unsupported everywhere: random masks
    LayerExample("Reshape", {"target_shape": [3, 2]}, [(2, 3)]),
    LayerExample("Reshape", {"target_shape": [-1, 2]}, [(6,)]),
    LayerExample("Reshape", {"target_shape": [6, 2]}, [(2, 3, 2)]),
    LayerExample("Permute", {"dims": [2, 1]}, [(2, 3)]),
    LayerExample("Permute", {"dims": [3, 1, 2]}, [(2, 3, 4)]),
    LayerExample("ZeroPadding1D", {"padding": 1}, [(3, 2)]),
    LayerExample("ZeroPadding1D", {"padding": [2, 0], "data_format": "channels_first"}, [(2, 3)]),
    LayerExample("ZeroPadding2D", {"padding": 1}, [(3, 3, 2)]),
    LayerExample("ZeroPadding2D", {"padding": [1, 2]}, [(2, 3, 1)]),
    LayerExample("ZeroPadding2D", {"padding": [[0, 1], [2, 0]], "data_format": "channels_first"},
                 [(2, 3, 3)]),
    # Rescaling as keras.applications and image pipelines write it (1/256 float32-exact; 1/127.5 - 1).
    LayerExample("Rescaling", {"scale": 0.00390625}, [(3, 2)]),
    LayerExample("Rescaling", {"scale": 1 / 127.5, "offset": -1.0}, [(2, 3, 2)]),
    # Normalization as keras.applications' ConvNeXt writes it (per channel, axis -1), channels_first
    # (axis 1), a mean filling the last of two kept axes, a scalar, a zero variance (the 1e-7
    # floor) and invert; values float32-exact (the layer's docstring: Keras rounds its lists).
    LayerExample("Normalization", {"mean": [0.5, -1.25, 2.0], "variance": [0.25, 4.0, 1.5]}, [(2, 2, 3)]),
    LayerExample("Normalization", {"axis": 1, "mean": [1.5, -0.5], "variance": [2.25, 0.0625]}, [(2, 3, 2)]),
    LayerExample("Normalization", {"axis": [1, 2], "mean": [0.25, 0.75, -0.5], "variance": [1.0, 0.5, 3.0]},
                 [(2, 3)]),
    LayerExample("Normalization", {"mean": 0.5, "variance": 0.0}, [(3,)]),
    LayerExample("Normalization", {"mean": [0.5, 2.0], "variance": [0.25, 9.0], "invert": True}, [(3, 2)]),
    LayerExample("ZeroPadding2D", {"padding": [[1, 0], [0, 2]], "value": -1.5}, [(2, 3, 2)]),
    LayerExample("ZeroPadding1D", {"padding": [0, 1], "value": 0.5, "data_format": "channels_first"}, [(2, 3)]),
    LayerExample("Cropping1D", {"cropping": 1}, [(5, 2)]),
    LayerExample("Cropping1D", {"cropping": [2, 0]}, [(4, 3)]),
    LayerExample("Cropping2D", {"cropping": 1}, [(4, 4, 2)]),
    LayerExample("Cropping2D", {"cropping": [[0, 1], [2, 1]], "data_format": "channels_first"}, [(2, 4, 5)]),
    *_convolution_examples(),
    *_pooling_examples(),
    *RECURRENT_EXAMPLES,
]
"""Every layer type but Reuse (a graph construct, tested in test_graph.py)."""


@dataclass
class LossExample:
    config: dict[str, Any]
    output_shape: tuple[int, ...]
    make_outputs: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
    make_targets: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
    id: str = field(default="")

    def __post_init__(self):
        if not self.id:
            settings = ",".join(f"{k}={v}" for k, v in self.config.items())
            self.id = f"{settings}{list(self.output_shape)}"


def _normal(rng, shape):
    return rng.normal(size=shape)


def _probabilities(rng, shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _softmax_rows(rng, shape):
    e = np.exp(rng.normal(size=shape))
    return e / e.sum(axis=-1, keepdims=True)


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def _one_hot(rng, shape):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]


def _soft_targets(rng, shape):
    return _softmax_rows(rng, shape)


def _labels(rng, shape):
    return rng.integers(0, shape[-1], size=shape[:-1])


LOSS_EXAMPLES: list[LossExample] = [
    LossExample({"type": "mean_squared_error", "reduction": "mean"}, (4, 3), _normal, _normal),
    LossExample({"type": "mean_squared_error", "reduction": "sum"}, (4, 2, 3), _normal, _normal),
    LossExample({"type": "mean_absolute_error", "reduction": "mean"}, (4, 3), _normal, _normal),
    LossExample({"type": "mean_absolute_error", "reduction": "sum"}, (4, 3), _normal, _normal),
    LossExample({"type": "hinge", "reduction": "mean"}, (6, 2), _normal, _signs),
    LossExample({"type": "hinge", "reduction": "sum"}, (6, 1), _normal, _signs),
    LossExample({"type": "squared_hinge", "reduction": "mean"}, (6, 2), _normal, _signs),
    LossExample({"type": "binary_crossentropy", "from_logits": False, "reduction": "mean"}, (5, 3),
                _probabilities, _probabilities),
    LossExample({"type": "binary_crossentropy", "from_logits": True, "reduction": "sum"}, (5, 3),
                _normal, _probabilities),
    LossExample({"type": "binary_crossentropy", "from_logits": True, "reduction": "mean"}, (5, 2),
                _normal, lambda rng, shape: rng.integers(0, 2, size=shape).astype(float)),
    LossExample({"type": "categorical_crossentropy", "from_logits": False, "reduction": "mean"}, (5, 4),
                _softmax_rows, _one_hot),
    LossExample({"type": "categorical_crossentropy", "from_logits": True, "reduction": "mean"}, (5, 4),
                _normal, _soft_targets),
    LossExample({"type": "categorical_crossentropy", "from_logits": True, "reduction": "sum"}, (3, 2, 4),
                _normal, _one_hot),
    LossExample({"type": "sparse_categorical_crossentropy", "from_logits": False, "reduction": "mean"},
                (5, 4), _softmax_rows, _labels),
    LossExample({"type": "sparse_categorical_crossentropy", "from_logits": True, "reduction": "sum"},
                (5, 4), _normal, _labels),
    LossExample({"type": "sparse_categorical_crossentropy", "from_logits": True, "reduction": "mean"},
                (3, 2, 4), _normal, _labels),
]


def single_layer_case(example, *, dtype: str = "float64", seed: int = 0) -> "Case":
    """A case whose model is one layer applied to the example's inputs, with a sum-of-squares
    loss against a random target, so every output element has a gradient."""
    rng = np.random.default_rng(seed)
    inputs = example.inputs(rng)
    names = [f"in{i}" for i in range(len(inputs))]
    spec = LAYERS[example.type].model_validate({"type": example.type, **example.config})
    shapes = [tuple(array.shape[1:]) for array in inputs]
    output_shape = (len(inputs[0]), *spec.output_shape(shapes))
    data: dict[str, Any] = {
        "name": "single_layer",
        "dtype": dtype,
        "mode": "training" if example.training else "inference",
        "inputs": {name: {"data": {"values": array.tolist()},
                          **({"dtype": "int64"} if array.dtype.kind in "iu" else {})}
                   for name, array in zip(names, inputs)},
        "targets": {"t": {"data": {"values": rng.normal(size=output_shape).tolist()}}},
        "model": {"nodes": [{"type": example.type, "name": "layer", **example.config, "inputs": names}]},
        "weights": {"seed": seed, "parameters": {
            f"layer/{name}": {"values": np.asarray(example.parameter(rng, name, shape)).tolist()}
            for name, shape in spec.parameter_shapes(shapes).items()}},
        "loss": {"type": "mean_squared_error", "reduction": "sum"},
    }
    (case,) = cases_from_data(data, file=f"<{example.id}>")
    return case


def single_loss_case(example, seed: int = 0) -> "Case":
    rng = np.random.default_rng(seed)
    y = example.make_outputs(rng, example.output_shape)
    t = example.make_targets(rng, example.output_shape)
    # The "model" is an identity Activation, so the loss sees exactly y and d loss / d input is
    # d loss / d y.
    data = {
        "name": "single_loss", "dtype": "float64",
        "inputs": {"y": {"data": {"values": y.tolist()}}},
        "targets": {"t": {"data": {"values": t.tolist()},
                          **({"dtype": "int64"} if t.dtype.kind in "iu" else {})}},
        "model": {"sequential": [{"type": "Activation", "name": "identity", "activation": "linear"}]},
        "loss": example.config,
    }
    (case,) = cases_from_data(data, file=f"<{example.id}>")
    return case


_DECAY = {"rate": 0.0625, "coupling": "coupled"}
_DECOUPLED = {"rate": 0.0625, "coupling": "decoupled"}
_ADAM = {"type": "adam", "learning_rate": 0.03125, "beta_1": 0.875, "beta_2": 0.9990234375, "epsilon": 1e-7,
         "epsilon_placement": "before_bias_correction"}
_RMSPROP = {"type": "rmsprop", "learning_rate": 0.015625, "rho": 0.875, "epsilon": 1e-7}
_ADAGRAD = {"type": "adagrad", "learning_rate": 0.125, "epsilon": 1e-7}

OPTIMIZER_EXAMPLES: list[dict[str, Any]] = [
    # Hyper-parameters float32 holds exactly, so Keras agrees with the reference in float64 to
    # rounding (it passes some through float32, keras/src/backend/tensorflow/core.py `cast`: tf.cast of a Python float makes a float32 tensor first). Together they reach every
    # native, reparametrised and composite path of the three adapters.
    {"type": "sgd", "learning_rate": 0.25, "momentum": 0.0},
    {"type": "sgd", "learning_rate": 0.125, "momentum": 0.875},
    {"type": "sgd", "learning_rate": 0.125, "momentum": 0.875, "nesterov": True},
    {"type": "sgd", "learning_rate": 0.125, "momentum": 0.875, "weight_decay": _DECAY},
    {"type": "sgd", "learning_rate": 0.125, "momentum": 0.875, "weight_decay": _DECOUPLED},
    {"type": "sgd", "learning_rate": 0.25, "momentum": 0.0, "weight_decay": _DECOUPLED},
    _ADAM,
    {**_ADAM, "amsgrad": True},
    {**_ADAM, "epsilon": 0.0},
    {**_ADAM, "weight_decay": _DECAY},
    {**_ADAM, "amsgrad": True, "weight_decay": _DECOUPLED},
    {**_ADAM, "epsilon_placement": "after_bias_correction"},
    {**_ADAM, "epsilon_placement": "after_bias_correction", "epsilon": 0.0},
    # An epsilon near sqrt(v), so that where it sits moves the steps by percents, not 1e-6.
    {**_ADAM, "epsilon_placement": "after_bias_correction", "epsilon": 0.0625, "amsgrad": True,
     "weight_decay": _DECAY},
    {**_ADAM, "epsilon_placement": "after_bias_correction", "amsgrad": True, "weight_decay": _DECOUPLED},
    {**_RMSPROP, "epsilon_placement": "inside_sqrt", "momentum": 0.0},
    {**_RMSPROP, "epsilon_placement": "outside_sqrt", "momentum": 0.0},
    {**_RMSPROP, "epsilon_placement": "inside_sqrt", "momentum": 0.5, "centered": True},
    {**_RMSPROP, "epsilon_placement": "outside_sqrt", "momentum": 0.5, "centered": True},
    {**_RMSPROP, "epsilon_placement": "outside_sqrt", "momentum": 0.5},
    {**_RMSPROP, "epsilon_placement": "inside_sqrt", "momentum": 0.5, "weight_decay": _DECOUPLED},
    {**_RMSPROP, "epsilon_placement": "outside_sqrt", "momentum": 0.0, "weight_decay": _DECAY},
    {**_ADAGRAD, "initial_accumulator_value": 0.125, "epsilon_placement": "inside_sqrt"},
    {**_ADAGRAD, "initial_accumulator_value": 0.125, "epsilon_placement": "outside_sqrt"},
    {**_ADAGRAD, "initial_accumulator_value": 0.0, "epsilon_placement": "outside_sqrt", "weight_decay": _DECAY},
    {**_ADAGRAD, "initial_accumulator_value": 0.125, "epsilon_placement": "inside_sqrt", "weight_decay": _DECOUPLED},
]


def optimizer_example_id(config: dict[str, Any]) -> str:
    settings = ",".join(f"{k}={v['rate']}{v['coupling'][0]}" if k == "weight_decay" else f"{k}={v}"
                        for k, v in config.items() if k != "type")
    return f"{config['type']}({settings})"


def training_case(optimizer: dict[str, Any], *, dtype: str = "float64", steps: int = 3, seed: int = 0) -> "Case":
    """A small training case for one optimizer: Dense(3, tanh) then Dense(2) on 4 features,
    mean squared error, `steps` steps over batches of 4 of 8 normal samples, so the second
    epoch revisits the first batch with moved weights."""
    data = {
        "name": "optimizer_example", "dtype": dtype, "samples": 8, "data_seed": seed,
        "inputs": {"x": {"shape": [4], "data": {"normal": {}}}},
        "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
        "model": {"sequential": [{"type": "Dense", "name": "hidden", "units": 3, "activation": "tanh"},
                                 {"type": "Dense", "name": "out", "units": 2}]},
        "weights": {"seed": seed, "defaults": {"bias": {"initializer": "random_normal", "stddev": 0.5}}},
        "loss": {"type": "mean_squared_error", "reduction": "mean"},
        "optimizer": optimizer, "training": {"steps": steps, "batch_size": 4}, "checks": ["training"],
    }
    (case,) = cases_from_data(data, file=f"<{optimizer_example_id(optimizer)}>")
    return case
