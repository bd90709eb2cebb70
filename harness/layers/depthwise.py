"""DepthwiseConv2D: one small convolution per input channel (MobileNet's building block).

Every input channel c is convolved with its own `depth_multiplier` kernels; output channel
c * depth_multiplier + m is channel c's m-th (the order of TF, torch's groups=in_channels and
chainer's depthwise_convolution_2d alike). That is a grouped convolution with groups = input
channels and filters = channels * depth_multiplier, whose kernel (kh, kw, 1, filters) is the
depthwise kernel (kh, kw, in, multiplier) reshaped: C order puts (c, m) at c * multiplier + m.
The reference is therefore conv.py's, run on that grouped spec.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.activations import ActivationField, Linear
from harness.layers import windows as win
from harness.layers.base import LAYERS, ReferenceLayer
from harness.layers.conv import PADDING_DESCRIPTION, Conv2D, ConvReference, Sizes, WindowedSpec, as_tuple


class DepthwiseReference(ReferenceLayer):
    def forward(self, x):
        channels = x.shape[1] if self.spec.data_format == "channels_first" else x.shape[-1]
        self.kernel_shape = self.params["kernel"].shape
        params = {"kernel": self.params["kernel"].reshape(*self.kernel_shape[:2], 1, -1)}
        if self.spec.use_bias:
            params["bias"] = self.params["bias"]
        self.grouped = ConvReference(self.spec.grouped(channels), params, training=self.training)
        return self.grouped.forward(x)

    def backward(self, dy):
        dx = self.grouped.backward(dy)
        self.grads = {"kernel": self.grouped.grads["kernel"].reshape(self.kernel_shape)}
        if self.spec.use_bias:
            self.grads["bias"] = self.grouped.grads["bias"]
        return dx


@LAYERS.register
class DepthwiseConv2D(WindowedSpec):
    """y = activation(depthwise_conv(pad(x), kernel) + bias).

    Canonical layout (Keras'): `kernel` (kh, kw, in_channels, depth_multiplier) (Keras 3 names
    it kernel: keras/src/layers/convolutional/base_depthwise_conv.py, `depthwise_shape =
    kernel_size + (input_channel, depth_multiplier)`), `bias` (in_channels * depth_multiplier,).
    Padding, strides, dilation and data_format as Conv2D.
    """

    type: Literal["DepthwiseConv2D"]
    rank = 2
    kernel_size: Sizes
    depth_multiplier: int = Field(default=1, gt=0, description="output channels per input channel")
    strides: Sizes = 1
    padding: win.Padding | win.ExplicitPadding = Field(default="valid", description=PADDING_DESCRIPTION)
    dilation_rate: Sizes = 1
    activation: ActivationField = Field(default_factory=lambda: Linear(name="linear"))
    use_bias: bool = True

    reference = DepthwiseReference

    @model_validator(mode="after")
    def _consistent(self):
        self._check_sizes(kernel_size=self.kernel_size, strides=self.strides, dilation_rate=self.dilation_rate)
        if not isinstance(self.padding, str):
            win.explicit_amounts(self.padding, self.rank)
        return self

    @property
    def kernel(self) -> tuple[int, ...]:
        return as_tuple(self.kernel_size, self.rank)

    @property
    def stride(self) -> tuple[int, ...]:
        return as_tuple(self.strides, self.rank)

    @property
    def dilation(self) -> tuple[int, ...]:
        return as_tuple(self.dilation_rate, self.rank)

    def grouped(self, channels: int) -> Conv2D:
        """The same layer as a Conv2D with groups = channels (module docstring)."""
        return Conv2D(type="Conv2D", name=self.name, filters=channels * self.depth_multiplier,
                      kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                      dilation_rate=self.dilation_rate, groups=channels, activation=self.activation,
                      use_bias=self.use_bias, data_format=self.data_format)

    def paddings(self, spatial: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        return win.padding_amounts(spatial, self.kernel, self.stride, self.dilation, self.padding)

    def output_shape(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        return self.grouped(channels).output_shape(input_shapes)

    def parameter_shapes(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        shapes = {"kernel": (*self.kernel, channels, self.depth_multiplier)}
        if self.use_bias:
            shapes["bias"] = (channels * self.depth_multiplier,)
        return shapes

    def default_initializers(self):
        return {"kernel": "glorot_uniform", "bias": "zeros"}
