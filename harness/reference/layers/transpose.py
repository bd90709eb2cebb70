"""Transposed convolutions: Conv1DTranspose and Conv2DTranspose (the gradient of a convolution
with respect to its input, run forward).

Every input cell i scatters x[i] @ kernel[k] to the cell i * s + k * d of a "full" output of
length F = (n - 1) s + k_eff per axis (k_eff = (k - 1) d + 1). The layer's output is a window of
that full output: N cells from `crop_before` on; cells past the full output's end (torch's
output_padding beyond its padding, Keras' 'valid' with k < s) hold the bias only. The frameworks
differ only in how they choose (crop_before, N), `extent` below.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional, Union

import numpy as np
from pydantic import Field, model_validator

from harness.reference.activations import ActivationField, Linear
from harness.reference.layers import windows as win
from harness.reference.layers.base import LAYERS, ReferenceLayer
from harness.reference.layers.conv import KernelGeometry, Sizes, WindowedSpec, as_tuple

NonNegative = Annotated[int, Field(ge=0)]

TRANSPOSE_PADDING_DESCRIPTION = (
    "valid or same as Keras defines them for Conv*Transpose (the output window TF's "
    "conv_transpose picks), or torch's explicit symmetric padding: one integer, or one per spatial axis "
    "(p cells cropped from both ends of the full output)")


def extent(n: int, k: int, s: int, d: int, padding, output_padding: int | None) -> tuple[int, int]:
    """(crop_before, N) of one axis: the output is full[crop_before : crop_before + N].

    * 'valid' (Keras, keras/src/backend/common/backend_utils.py `_get_output_shape_given_tf_padding`):
      N = F + (max(k_eff, s) - k_eff if output_padding is None else output_padding), crop 0.
    * 'same' (Keras): N = n s without output_padding, else (n - 1) s + k_eff % 2 + output_padding;
      crop_before = max(F - N, 0) // 2, TF's 'same' rule for a convolution from N cells back to n
      (tf.nn.conv_transpose is that convolution's input gradient): the odd cell is cropped at the end.
    * explicit p (torch, torch/nn/modules/conv.py ConvTranspose2d's shape formula):
      N = F - 2p + output_padding (default 0), crop_before = p.
    """
    effective = (k - 1) * d + 1
    full = (n - 1) * s + effective
    if padding == "valid":
        return 0, full + (max(effective, s) - effective if output_padding is None else output_padding)
    if padding == "same":
        size = n * s if output_padding is None else (n - 1) * s + effective % 2 + output_padding
        return max(full - size, 0) // 2, size
    return padding, full - 2 * padding + (output_padding or 0)


class ConvTransposeSpec(KernelGeometry, WindowedSpec):
    """y = activation(crop(conv_transpose(x, kernel)) + bias), per group of channels.

    Canonical layout (Keras'): `kernel` (*kernel_size, filters / groups, in_channels)
    (keras/src/layers/convolutional/base_conv_transpose.py: `kernel_shape = kernel_size +
    (self.filters, input_channel)`; Keras has no groups, so a grouped kernel follows torch's
    grouping: input channel c is in group c // (in/groups) and feeds outputs g * (filters/groups)
    + j, j = kernel[..., j, c]), `bias` (filters,).

    Output size per spatial axis, with F = (n - 1) s + (k - 1) d + 1:
    'valid': F + max(s - k_eff, 0) (or F + output_padding); 'same': n * s (or (n - 1) s + k_eff % 2
    + output_padding), the odd cropped cell at the end (TF); explicit p (torch): F - 2p +
    output_padding. output_padding must be below the stride (Keras) or below max(stride,
    dilation) (torch's rule, with explicit padding).
    """

    filters: int = Field(gt=0)
    kernel_size: Sizes
    strides: Sizes = 1
    padding: Literal["valid", "same"] | NonNegative | list[NonNegative] = Field(
        default="valid", description=TRANSPOSE_PADDING_DESCRIPTION)
    output_padding: Optional[Union[NonNegative, list[NonNegative]]] = Field(
        default=None, description="extra cells at the end of each spatial axis (Keras' and torch's output_padding)")
    dilation_rate: Sizes = 1
    groups: int = Field(default=1, gt=0, description="input channels and filters are split into this many groups")
    activation: ActivationField = Field(default_factory=lambda: Linear(name="linear"))
    use_bias: bool = True

    reference: ClassVar[type[ReferenceLayer]]

    @model_validator(mode="after")
    def _consistent(self):
        self._check_sizes(kernel_size=self.kernel_size, strides=self.strides, dilation_rate=self.dilation_rate)
        if isinstance(self.padding, list) and len(self.padding) != self.rank:
            raise ValueError(f"padding has {len(self.padding)} entries; {self.type} needs one per spatial axis")
        if self.output_padding is not None:
            self._check_sizes(output_padding=self.output_padding)
            explicit = not isinstance(self.padding, str)
            for op, s, d in zip(self.extra, self.stride, self.dilation):
                bound = max(s, d) if explicit else s
                if op >= bound:
                    raise ValueError(f"output_padding {op} must be below the stride ({s})"
                                     + (f" or the dilation ({d})" if explicit else "") + " on every axis")
        if self.filters % self.groups:
            raise ValueError(f"filters ({self.filters}) must be divisible by groups ({self.groups})")
        return self

    @property
    def extra(self) -> tuple[Optional[int], ...]:
        """output_padding per axis (None where not given)."""
        if self.output_padding is None:
            return (None,) * self.rank
        return as_tuple(self.output_padding, self.rank)

    @property
    def explicit_pads(self) -> tuple:
        return self.padding if isinstance(self.padding, str) else as_tuple(self.padding, self.rank)

    def extents(self, spatial: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """(crop_before, N) per spatial axis (`extent`)."""
        pads = (self.padding,) * self.rank if isinstance(self.padding, str) else self.explicit_pads
        return tuple(extent(n, k, s, d, p, op) for n, k, s, d, p, op
                     in zip(spatial, self.kernel, self.stride, self.dilation, pads, self.extra))

    def full_sizes(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        return tuple((n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(spatial, self.kernel, self.stride, self.dilation))

    def output_shape(self, input_shapes):
        spatial, channels = self.split_input(input_shapes)
        if channels % self.groups:
            raise ValueError(f"{channels} input channels are not divisible by groups={self.groups}")
        extents = self.extents(spatial)
        if self.padding == "same" and self.output_padding is not None:
            for n, s, (_, size) in zip(spatial, self.stride, extents):
                if -(-size // s) != n:  # TF's conv_transpose checks ceil(N / s) == n
                    raise ValueError(f"with padding 'same' and output_padding {self.output_padding}, the output "
                                     f"size {size} does not go back to {n} cells at stride {s}: TF refuses it")
        sizes = tuple(size for _, size in extents)
        if min(sizes) < 1:
            raise ValueError(f"padding {self.padding!r} crops more than the output of {self.type} has "
                             f"(input {list(spatial)})")
        return win.join_channels(sizes, self.filters, self.data_format)

    def parameter_shapes(self, input_shapes):
        _, channels = self.split_input(input_shapes)
        shapes = {"kernel": (*self.kernel, self.filters // self.groups, channels)}
        if self.use_bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def default_initializers(self):
        return {"kernel": "glorot_uniform", "bias": "zeros"}


class ConvTransposeReference(ReferenceLayer):
    """Forward: per kernel offset k, x @ kernel[k] (group by group) is added into the full
    output at the cells i * s + k * d (`offset_cells`, the col2im of the convolution's backward);
    then the output window is cut from it (zeros past its end) and the bias added. Backward: the
    window's gradient is placed back in the full output's shape; per offset, dx += dfull[cells]
    @ kernel[k].T and dkernel[k] = x.T @ dfull[cells] (a convolution of dfull)."""

    def forward(self, x):
        spec = self.spec
        x = win.to_channels_last(x, spec.data_format)
        spatial, channels = x.shape[1:-1], x.shape[-1]
        self.x_groups = x.reshape(*x.shape[:-1], spec.groups, channels // spec.groups)
        self.full_shape = (x.shape[0], *spec.full_sizes(spatial), spec.filters)
        self.extents = spec.extents(spatial)
        kernels = self.group_kernels()

        def at_offset(k: int) -> np.ndarray:
            met = np.einsum("...gc,jgc->...gj", self.x_groups, kernels[k])
            return met.reshape(*met.shape[:-2], -1)
        full = win.add_at_offsets(self.full_shape, x.dtype, spec.kernel, spec.stride, spec.dilation, spatial,
                                  at_offset)
        z = np.zeros((x.shape[0], *(size for _, size in self.extents), spec.filters), dtype=x.dtype)
        z[self.window_in_output()] = full[self.window_in_full()]
        if spec.use_bias:
            z += self.params["bias"]
        self.z = win.from_channels_last(z, spec.data_format)
        self.y = spec.activation.forward(self.z)
        return self.y

    def group_kernels(self) -> np.ndarray:
        """(kernel cells, filters/groups, groups, in/groups): kernel[k][j, g, c] joins input
        channel g * (in/groups) + c to output g * (filters/groups) + j."""
        kernel = self.params["kernel"]
        return kernel.reshape(win.window_count(self.spec.kernel), kernel.shape[-2], self.spec.groups, -1)

    def window_in_full(self) -> tuple[slice, ...]:
        kept = [min(size, full - before) for (before, size), full in zip(self.extents, self.full_shape[1:-1])]
        return (slice(None), *(slice(before, before + n) for (before, _), n in zip(self.extents, kept)), slice(None))

    def window_in_output(self) -> tuple[slice, ...]:
        kept = [min(size, full - before) for (before, size), full in zip(self.extents, self.full_shape[1:-1])]
        return (slice(None), *(slice(0, n) for n in kept), slice(None))

    def backward(self, dy):
        spec = self.spec
        dz = win.to_channels_last(spec.activation.backward(self.z, self.y, dy), spec.data_format)
        if spec.use_bias:
            self.grads["bias"] = dz.reshape(-1, spec.filters).sum(axis=0)
        d_full = np.zeros(self.full_shape, dtype=dz.dtype)
        d_full[self.window_in_full()] = dz[self.window_in_output()]
        kernels = self.group_kernels()
        d_kernel = np.zeros_like(kernels)
        dx = np.zeros_like(self.x_groups)
        per_group = spec.filters // spec.groups
        for k, cells in enumerate(win.offset_cells(spec.kernel, spec.stride, spec.dilation, self.x_groups.shape[1:-2])):
            met = d_full[cells].reshape(*d_full[cells].shape[:-1], spec.groups, per_group)
            dx += np.einsum("...gj,jgc->...gc", met, kernels[k])
            d_kernel[k] = np.einsum("pgc,pgj->jgc", self.x_groups.reshape(-1, *self.x_groups.shape[-2:]),
                                    met.reshape(-1, *met.shape[-2:]))
        self.grads["kernel"] = d_kernel.reshape(self.params["kernel"].shape)
        dx = dx.reshape(*dx.shape[:-2], -1)
        return (win.from_channels_last(dx, spec.data_format),)


@LAYERS.register
class Conv1DTranspose(ConvTransposeSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = ConvTransposeSpec.__doc__.replace("(*kernel_size,", "(kernel_size,")
    type: Literal["Conv1DTranspose"]
    rank = 1
    reference = ConvTransposeReference


@LAYERS.register
class Conv2DTranspose(ConvTransposeSpec):

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }
    __doc__ = ConvTransposeSpec.__doc__.replace("(*kernel_size,", "(kh, kw,")
    type: Literal["Conv2DTranspose"]
    rank = 2
    reference = ConvTransposeReference
