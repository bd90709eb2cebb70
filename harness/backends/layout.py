"""Weight layout transforms between the canonical layout and a framework's own.

Each transform carries its description, so the report's weight-mapping table says exactly what
was done to each tensor ("transposed (in, out) -> (out, in)"), and its inverse, so gradients
and trained values come back in the canonical layout. Round trips are tested per adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Transform:
    description: str
    to_native: Callable[[np.ndarray], np.ndarray]
    from_native: Callable[[np.ndarray], np.ndarray]

    def then(self, other: "Transform") -> "Transform":
        """Apply self, then other (towards the native layout)."""
        return Transform(
            f"{self.description}, then {other.description}",
            lambda a: other.to_native(self.to_native(a)),
            lambda a: self.from_native(other.from_native(a)),
        )


AS_IS = Transform("as is", lambda a: a, lambda a: a)


def transpose(*axes: int, description: str | None = None) -> Transform:
    """Permute axes; the default description names the permutation."""
    inverse = tuple(int(i) for i in np.argsort(axes))
    text = description or f"transposed, axes {axes}"
    return Transform(text, lambda a: np.ascontiguousarray(np.transpose(a, axes)),
                     lambda a: np.ascontiguousarray(np.transpose(a, inverse)))


DENSE_KERNEL_TO_OUT_IN = transpose(1, 0, description="transposed: (in, out) -> (out, in)")


def conv_kernel_to_out_in_spatial(rank: int) -> Transform:
    """Keras' (*kernel, in/groups, out) -> torch's and chainer's (out, in/groups, *kernel).

    torch/nn/modules/conv.py (`_ConvNd.__init__`: weight (out_channels, in_channels // groups,
    *kernel_size)); chainer/links/connection/convolution_2d.py and convolution_nd.py
    (`W_shape = (out_channels, in_channels // groups, *ksize)`); keras/src/layers/convolutional/
    base_conv.py (`kernel_shape = kernel_size + (input_channel // groups, filters)`). The group
    of output channel o is o // (out/groups) in all three, so no regrouping is needed.
    """
    axes = (rank + 1, rank, *range(rank))
    spatial = {2: ("kh", "kw"), 3: ("kd", "kh", "kw")}.get(rank, ("k",) * rank)
    before = ", ".join([*spatial, "in/groups", "out"])
    after = ", ".join(["out", "in/groups", *spatial])
    return transpose(*axes, description=f"transposed: ({before}) -> ({after})")


def flatten_rows_channels_last_to_first(spatial: tuple[int, ...], channels: int) -> np.ndarray:
    """Row permutation for a Dense kernel that follows a Flatten, when porting between layouts.

    A channels_last model (Keras) flattens its (*spatial, C) feature map in (*spatial, C) order;
    the same network written channels_first (torch, chainer) flattens (C, *spatial) in
    (C, *spatial) order. Row j of the channels_first Dense kernel must be row perm[j] of the
    channels_last one: `kernel_first = kernel_last[perm]` (then torch's transpose to (out, in)).
    Its inverse, `np.argsort(perm)`, goes the other way: `kernel_last = kernel_first[argsort(perm)]`.

    Inside the harness no permutation is needed: every adapter keeps tensors in the case's own
    layout between layers (a channels_last case is transposed to NCHW around each torch or
    chainer convolution and back), so Flatten sees the same tensor in every framework.
    """
    last_order = np.arange(int(np.prod(spatial)) * channels).reshape(*spatial, channels)
    return np.moveaxis(last_order, -1, 0).reshape(-1)


def depthwise_to_grouped(multiplier: int) -> Transform:
    """Keras' depthwise (kh, kw, in, multiplier) <-> torch's Conv2d(groups=in) weight
    (in * multiplier, 1, kh, kw): output channel c * multiplier + m is input channel c's m-th
    kernel (torch/nn/modules/conv.py: output channel o belongs to group o // (out / groups))."""
    def to_native(a):
        kh, kw, channels, _ = a.shape
        return np.ascontiguousarray(np.transpose(a, (2, 3, 0, 1)).reshape(channels * multiplier, 1, kh, kw))

    def from_native(a):
        out, _, kh, kw = a.shape
        return np.ascontiguousarray(np.transpose(a.reshape(out // multiplier, multiplier, kh, kw), (2, 3, 0, 1)))

    return Transform("(kh, kw, in, multiplier) -> (in * multiplier, 1, kh, kw): transposed, then the "
                     "channel and multiplier axes merged (c * multiplier + m)", to_native, from_native)


DEPTHWISE_TO_MULTIPLIER_IN = transpose(3, 2, 0, 1, description=(
    "transposed: (kh, kw, in, multiplier) -> (multiplier, in, kh, kw) (chainer's DepthwiseConvolution2D.W)"))


def attention_projection_to_out_in(heads: int) -> Transform:
    """Keras' MultiHeadAttention query/key/value kernel (d_model, heads, head_dim) <-> an (out, in)
    weight (heads * head_dim, d_model): torch's q_proj_weight/k_proj_weight/v_proj_weight, or
    rows [0:E], [E:2E], [2E:3E] of nn.MultiheadAttention's packed in_proj_weight. Row
    n * head_dim + h is head n's unit h: torch splits a projection into heads with
    `view(..., num_heads, head_dim)` (torch/nn/functional.py, `multi_head_attention_forward`)."""
    def to_native(a):
        d_model, _, head_dim = a.shape
        return np.ascontiguousarray(a.reshape(d_model, heads * head_dim).T)

    def from_native(a):
        out, d_model = a.shape
        return np.ascontiguousarray(a.T.reshape(d_model, heads, out // heads))

    return Transform("(d_model, heads, head_dim) -> (heads * head_dim, d_model): heads merged "
                     "(n * head_dim + h), then transposed to (out, in)", to_native, from_native)


def attention_bias_flat(heads: int) -> Transform:
    """Keras' per-head projection bias (heads, head_dim) <-> torch's (heads * head_dim,) part of
    in_proj_bias (same n * head_dim + h order as the kernels)."""
    return Transform("(heads, head_dim) -> (heads * head_dim,): heads merged",
                     lambda a: np.ascontiguousarray(a.reshape(-1)),
                     lambda a: np.ascontiguousarray(a.reshape(heads, -1)))


def attention_output_to_out_in(heads: int) -> Transform:
    """Keras' output kernel (heads, head_dim, d_model) <-> torch's out_proj.weight
    (d_model, heads * head_dim): the concatenated heads (n * head_dim + h) are its input axis."""
    def to_native(a):
        _, head_dim, d_model = a.shape
        return np.ascontiguousarray(a.reshape(heads * head_dim, d_model).T)

    def from_native(a):
        d_model, inner = a.shape
        return np.ascontiguousarray(a.T.reshape(heads, inner // heads, d_model))

    return Transform("(heads, head_dim, d_model) -> (d_model, heads * head_dim): heads merged, then "
                     "transposed to (out, in)", to_native, from_native)


def attention_packed_in_proj(kernels: tuple[np.ndarray, np.ndarray, np.ndarray],
                             biases: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                             ) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras' query/key/value kernels (d_model, heads, head_dim) (and biases (heads, head_dim))
    -> the default nn.MultiheadAttention's packed in_proj_weight (3 * E, d_model) and
    in_proj_bias (3 * E,): rows 0:E the query's, E:2E the key's, 2E:3E the value's
    (torch/nn/functional.py, `_in_projection_packed` splits them in that order)."""
    heads = kernels[0].shape[1]
    weight = np.concatenate([attention_projection_to_out_in(heads).to_native(k) for k in kernels])
    bias = None if biases is None else np.concatenate([np.reshape(b, -1) for b in biases])
    return weight, bias


def attention_unpack_in_proj(weight: np.ndarray, bias: np.ndarray | None, heads: int
                             ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """The inverse of `attention_packed_in_proj`: three kernels (d_model, heads, head_dim) and,
    given a bias, three biases (heads, head_dim)."""
    transform = attention_projection_to_out_in(heads)
    kernels = [transform.from_native(part) for part in np.split(weight, 3)]
    biases = None if bias is None else [part.reshape(heads, -1) for part in np.split(bias, 3)]
    return kernels, biases


def transposed_conv_kernel(rank: int) -> Transform:
    """The canonical (Keras') transposed-convolution kernel (*kernel, out/groups, in) -> torch's
    and chainer's (in, out/groups, *kernel).

    keras/src/layers/convolutional/base_conv_transpose.py (`kernel_shape = self.kernel_size +
    (self.filters, input_channel)`); torch/nn/modules/conv.py (`_ConvNd.__init__` with
    transposed=True: weight (in_channels, out_channels // groups, *kernel_size));
    chainer/links/connection/deconvolution_2d.py and deconvolution_nd.py (`W_shape =
    (in_channels, out_channels / groups, *ksize)`). Input channel c's group is c // (in/groups)
    in torch and chainer, and the canonical layout follows them (Keras has no groups).
    """
    spatial = ("kh", "kw") if rank == 2 else ("k",) * rank
    before = ", ".join([*spatial, "out/groups", "in"])
    after = ", ".join(["in", "out/groups", *spatial])
    return transpose(rank + 1, rank, *range(rank), description=f"transposed: ({before}) -> ({after})")
