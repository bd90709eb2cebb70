"""Transforms of layers: weight layouts (gate order, transposed or flipped kernels, a bias dropped
or doubled), normalization conventions, the Flatten channel order, 'same' padding's odd cell,
GRU's formula variants.

Weight edits act on the canonical weights the reference receives: "the reference with the LSTM
gate blocks f and c swapped" is what a backend computes when its adapter (or a user's port) put
the f block where c belongs. Each is registered under the layer type(s) it applies to.
"""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from harness.diagnosis.base import SITE_LAYER, Edit, Site, transform, variant_spec
from harness.reference.layers import windows as win
from harness.reference.layers.conv import ConvReference
from harness.reference.layers.core import FlattenReference

RECURRENT = ("LSTM", "GRU", "Bidirectional")
GATED_PARAMETERS = ("kernel", "recurrent_kernel", "bias")


def gated_parameters(spec) -> tuple[str, ...]:
    """The parameters whose last axis holds the gate blocks: a recurrent layer's own, or each
    direction's of a Bidirectional wrapper (`forward/kernel`, ...; one direction's port may
    be wrong alone, but a port usually writes one loader for both, so both are edited)."""
    prefixes = [f"{d}/" for d in ("forward", "backward")] if spec.type == "Bidirectional" else [""]
    return tuple(prefix + name for prefix in prefixes for name in GATED_PARAMETERS)


GATE_NAMES = {"i": "input", "f": "forget", "c": "cell", "o": "output", "z": "update", "r": "reset", "h": "candidate"}
"""The gates' names (harness/reference/layers/recurrent.py: LSTM [i, f, c, o], GRU [z, r, h])."""


def _gate_name(gate: str) -> str:
    return f" ({GATE_NAMES[gate]})" if gate in GATE_NAMES else ""


def _gate_blocks(array: np.ndarray, gates: int, order: tuple[int, ...]) -> np.ndarray:
    """The last axis's `gates` column blocks put in `order` (block k of the result is block
    order[k] of the input)."""
    blocks = np.split(array, gates, axis=-1)
    return np.concatenate([blocks[k] for k in order], axis=-1)


@transform("recurrent.gate_order", family="gate order", kind=SITE_LAYER, tags=RECURRENT,
           description="the gate blocks of kernel, recurrent_kernel and bias in another order (every permutation)",
           phrase="the gate blocks are read in the order {choice}")
def gate_order(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    gates = spec.gates
    for order in itertools.permutations(range(len(gates))):
        if order == tuple(range(len(gates))):
            continue
        def apply(edit: Edit, order=order, layer=site.layer, count=len(gates),
                  parameters=gated_parameters(spec)) -> None:
            for parameter in parameters:
                name = f"{layer}/{parameter}"
                edit.weights[name] = _gate_blocks(edit.weights[name], count, order)
                edit.add_layout(name, lambda a, count=count, back=tuple(np.argsort(order)):
                                _gate_blocks(a, count, back))
        # Block k of the edited weights, read as gate k, is the port's block order[k].
        port_side = "; ".join(f"your block {order[k]} (the {gates[order[k]]} weights) is used as the {gates[k]}"
                              f"{_gate_name(gates[k])} gate" for k in range(len(gates)) if order[k] != k)
        yield "[" + ", ".join(gates[k] for k in order) + "] (canonical [" + ", ".join(gates) + "])", apply, "", port_side


@transform("GRU.update_gate", family="formula", kind=SITE_LAYER, tags="GRU",
           description="h' = (1 - z) h + z candidate instead of z h + (1 - z) candidate",
           phrase="the update gate is used as {choice}",
           port_phrase="your GRU uses its update gate as {choice}; the case's GRU computes z h + (1 - z) candidate")
def gru_update_gate(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    gate = spec.recurrent_activation
    # 1 - g(a) = g(-a) for a gate symmetric about (0, 1/2): sigmoid, and hard_sigmoid with offset
    # 1/2. Negating the z block's weights then is the other convention, exactly.
    if gate.name not in ("sigmoid", "hard_sigmoid") or getattr(gate, "offset", 0.5) != 0.5:
        return
    def apply(edit: Edit, layer=site.layer, units=spec.units) -> None:
        for parameter in ("kernel", "recurrent_kernel", "bias"):
            name = f"{layer}/{parameter}"
            value = edit.weights[name].copy()
            value[..., :units] *= -1
            edit.weights[name] = value
            edit.add_layout(name, lambda a, units=units: np.concatenate([-a[..., :units], a[..., units:]], axis=-1))
    yield "1 - z (h' = (1 - z) h + z candidate)", apply


@transform("GRU.reset_after", family="formula", kind=SITE_LAYER, tags="GRU",
           description="the reset gate applied on the other side of the recurrent product (reset_after flipped)",
           phrase="the reset gate is applied {choice}", port_phrase="your GRU applies the reset gate {choice}")
def gru_reset_after(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    after = spec.reset_after
    def apply(edit: Edit, layer=site.layer) -> None:
        name = f"{layer}/bias"
        bias = edit.weights[name]
        # after -> before: one bias, the input and recurrent biases summed (what a port that
        # adds both computes); before -> after: the recurrent bias zero.
        edit.weights[name] = bias.sum(axis=0) if after else np.stack([bias, np.zeros_like(bias)])
        edit.update_layer(layer, reset_after=not after)
        # The gradient in the case's shape: both rows of a summed bias get the sum's gradient;
        # a bias read as the input row gets that row's.
        edit.gradient_views[name] = (lambda g: np.stack([g, g])) if after else (lambda g: g[0])
    yield ("before the recurrent product (reset_after false)" if after
           else "after the recurrent product (reset_after true)"), apply


@transform("kernel.transposed", family="kernel layout", kind=SITE_LAYER, tags=("Dense", "Conv2D"),
           description="a square kernel transposed: Dense (in, out) read as (out, in); Conv2D's "
                       "spatial axes swapped",
           phrase="the kernel is {choice}", port_phrase="your kernel is read {choice}")
def kernel_transposed(site: Site, edit: Edit, context) -> Iterator:
    name = f"{site.layer}/kernel"
    kernel = edit.weights.get(name)
    if kernel is None:
        return
    if site.tag == "Dense" and kernel.shape[0] == kernel.shape[1]:
        def apply(edit: Edit, name=name) -> None:
            edit.weights[name] = edit.weights[name].T.copy()
            edit.add_layout(name, lambda a: a.T.copy())
        yield "transposed", apply, (f"the kernel of layer {site.layer} is symmetric" if
                                    np.array_equal(kernel, kernel.T) else "")
    elif site.tag == "Conv2D" and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] > 1:
        def apply(edit: Edit, name=name) -> None:
            edit.weights[name] = np.swapaxes(edit.weights[name], 0, 1).copy()
            edit.add_layout(name, lambda a: np.swapaxes(a, 0, 1).copy())
        yield "transposed (height and width swapped)", apply


@transform("conv.flipped_kernel", family="kernel layout", kind=SITE_LAYER, tags=("Conv1D", "Conv2D"),
           description="convolution instead of cross-correlation: the kernel flipped along every spatial axis",
           phrase="the kernel is {choice}",
           port_phrase="your code flips the kernel (a true convolution); the case's layer cross-correlates: "
                       "use the kernel as given")
def flipped_kernel(site: Site, edit: Edit, context) -> Iterator:
    name = f"{site.layer}/kernel"
    kernel = edit.weights[name]
    spatial = tuple(range(kernel.ndim - 2))
    if all(kernel.shape[axis] == 1 for axis in spatial):
        return
    def apply(edit: Edit, name=name, axes=spatial) -> None:
        edit.weights[name] = np.flip(edit.weights[name], axis=axes).copy()
        edit.add_layout(name, lambda a, axes=axes: np.flip(a, axis=axes).copy())
    yield "flipped (a true convolution)", apply


@transform("bias.dropped_or_doubled", family="bias", kind=SITE_LAYER,
           tags=("Dense", "Conv1D", "Conv2D", "LSTM", "GRU", "SimpleRNN"),
           description="the bias left out, or added twice",
           phrase="the bias is {choice}", port_phrase="your code's bias is {choice}")
def bias_dropped_or_doubled(site: Site, edit: Edit, context) -> Iterator:
    name = f"{site.layer}/bias"
    if name not in edit.weights:
        return
    blind = (f"the bias of layer {site.layer} is all zeros (its initializer), so leaving it out or adding "
             "it twice changes nothing: give it non-zero values to test it"
             if not np.any(edit.weights[name]) else "")
    for choice, factor in (("dropped", 0.0), ("added twice", 2.0)):
        def apply(edit: Edit, name=name, factor=factor) -> None:
            edit.weights[name] = edit.weights[name] * factor
            if factor:  # a binding that doubles the bias reads its gradient and trained value back halved
                edit.add_layout(name, lambda a, factor=factor: a / factor)
        yield choice, apply, blind


def _flatten_other_order() -> type:
    class FlattenOtherOrder(FlattenReference):
        def forward(self, x):
            self.moved = self.spec.data_format == "channels_last"
            self.input_shape = x.shape
            if self.moved:
                x = np.moveaxis(x, -1, 1)
            self.ordered_shape = x.shape
            return x.reshape(x.shape[0], -1)

        def backward(self, dy):
            dx = dy.reshape(self.ordered_shape)
            return (np.moveaxis(dx, 1, -1) if self.moved else dx,)
    return FlattenOtherOrder


@transform("Flatten.channel_order", family="layout", kind=SITE_LAYER, tags="Flatten",
           description="the features flattened in the other channel order (channels first vs last)",
           phrase="the features are flattened {choice}", port_phrase="your code flattens the features {choice}")
def flatten_channel_order(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    shape = edit.original.graph.layer_input_shapes[site.layer][0]
    if len(shape) < 2 or (shape[-1] if spec.data_format == "channels_last" else shape[0]) == 1:
        return
    def apply(edit: Edit, layer=site.layer) -> None:
        edit.layers[layer] = variant_spec(edit.layers[layer], "other_order", reference=_flatten_other_order())
    yield ("channels first (C, ...)" if spec.data_format == "channels_last"
           else "as laid out (channels first)"), apply


def _same_odd_cell_at_start(self, spatial):
    """TF's 'same' amounts with the odd cell moved to the start of each axis."""
    amounts = win.padding_amounts(spatial, self.kernel if hasattr(self, "filters") else self.window,
                                  self.stride, self.dilation, self.padding)
    return tuple((after, before) for before, after in amounts)


@transform("padding.same_odd_cell", family="padding", kind=SITE_LAYER,
           tags=("Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"),
           description="'same' padding's odd cell at the start of each axis instead of the end",
           phrase="'same' padding puts {choice}", port_phrase="your 'same' padding puts {choice}")
def same_odd_cell(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    if getattr(spec, "padding", None) != "same" or not hasattr(spec, "paddings"):
        return
    shapes = edit.original.graph.layer_input_shapes[site.layer][0]
    spatial = shapes[:-1] if getattr(spec, "data_format", "channels_last") == "channels_last" else shapes[1:]
    if all(before == after for before, after in spec.paddings(tuple(spatial))):
        return  # every axis padded evenly: nothing to move
    def apply(edit: Edit, layer=site.layer) -> None:
        # explicit_paddings too: an average pooling's count_include_pad divisor reads it.
        edit.layers[layer] = variant_spec(edit.layers[layer], "same_start", paddings=_same_odd_cell_at_start,
                                          explicit_paddings=_same_odd_cell_at_start)
    yield "the odd cell at the start", apply


WINDOWED = ("Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D")


@transform("padding.explicit_side", family="padding", kind=SITE_LAYER,
           tags=(*WINDOWED, "DepthwiseConv2D", "SeparableConv2D"),
           description="explicit asymmetric padding applied on the other side of each axis",
           phrase="the padding goes {choice}", port_phrase="your code pads each axis {choice}")
def explicit_padding_side(site: Site, edit: Edit, context) -> Iterator:
    """A port that reads [[top, bottom], [left, right]] as [[bottom, top], ...] (or as torch's
    F.pad order, last axis first, which swaps the sides of a square case the same way)."""
    spec = edit.layers[site.layer]
    padding = getattr(spec, "padding", "valid")
    if isinstance(padding, str):
        return
    amounts = win.explicit_amounts(padding, spec.rank)
    if all(before == after for before, after in amounts):
        return
    def apply(edit: Edit, layer=site.layer) -> None:
        edit.update_layer(layer, padding=[[after, before] for before, after in amounts])
    yield "on the other side ([after, before])", apply


@transform("AveragePooling.count_include_pad", family="padding", kind=SITE_LAYER,
           tags=("AveragePooling1D", "AveragePooling2D"),
           description="the padding counted in (or left out of) each window's divisor",
           phrase="the average's divisor {choice}", port_phrase="your average's divisor {choice}")
def count_include_pad(site: Site, edit: Edit, context) -> Iterator:
    """torch's AvgPool2d counts the padding by default, TF (Keras) never: a port that keeps
    torch's default divides the border windows by the whole window."""
    spec = edit.layers[site.layer]
    shapes = edit.original.graph.layer_input_shapes[site.layer][0]
    spatial = shapes[:-1] if spec.data_format == "channels_last" else shapes[1:]
    if not any(before or after for before, after in spec.explicit_paddings(tuple(spatial))):
        return  # nothing padded: both divisors are the window
    flipped = not spec.count_include_pad
    def apply(edit: Edit, layer=site.layer) -> None:
        edit.update_layer(layer, count_include_pad=flipped)
    yield ("counts the padding (torch's default)" if flipped else "counts only the real cells (TF's rule)"), apply


@transform("Pooling.ceil_mode", family="padding", kind=SITE_LAYER,
           tags=("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
                 "AveragePooling3D"),
           description="the pooling's output size rounded the other way (ceil_mode flipped)",
           phrase="the pooling's output size rounds {choice}")
def ceil_mode(site: Site, edit: Edit, context) -> Iterator:
    """torch's MaxPool2d/AvgPool2d round the output size down unless ceil_mode=True (SqueezeNet's
    pools set it), chainer's max pooling rounds up by default (cover_all=True), Keras always
    down: a port that drops (or adds) ceil_mode computes one window more or less per axis where
    the window does not fit evenly. Only where the other size changes nothing downstream that
    holds parameters or is an output (a global or adaptive pooling, or convolutions, after it):
    elsewhere the other rounding is a shape error, not a value a check could match."""
    spec = edit.layers[site.layer]
    if not hasattr(spec, "ceil_mode") or spec.padding == "same":
        return
    flipped = spec.model_copy(update={"ceil_mode": not spec.ceil_mode})
    graph = edit.original.graph
    inputs = graph.layer_input_shapes[site.layer]
    if tuple(flipped.output_shape(inputs)) == tuple(spec.output_shape(inputs)):
        return  # every window fits evenly: both roundings give the same windows
    if not _shapes_downstream_kept(graph, site.layer, flipped):
        return
    def apply(edit: Edit, layer=site.layer, value=flipped.ceil_mode) -> None:
        edit.update_layer(layer, ceil_mode=value)
    yield ("up (ceil_mode, torch's ceil_mode=True, chainer's cover_all)" if flipped.ceil_mode
           else "down (floor: Keras, torch's default)"), apply


@transform("MaxPooling.dilation", family="padding", kind=SITE_LAYER,
           tags=("MaxPooling1D", "MaxPooling2D", "MaxPooling3D"),
           description="the max pooling's dilation ignored (adjacent cells in each window)",
           phrase="the max pooling's windows are {choice}", port_phrase="your max pooling's windows are {choice}")
def max_pooling_dilation(site: Site, edit: Edit, context) -> Iterator:
    """torch's MaxPool2d takes `dilation`; Keras' MaxPooling2D and chainer's max_pooling_2d have
    none, so a port that writes the same pool_size and strides there silently pools adjacent
    cells. Only where the undilated windows give shapes downstream that every parameter and
    output keeps (with 'same' padding always; elsewhere a global or adaptive pooling after it):
    otherwise the port would fail on a shape, not on a value."""
    spec = edit.layers[site.layer]
    if max(getattr(spec, "dilation", (1,))) <= 1 or not hasattr(spec, "dilation_rate"):
        return
    graph = edit.original.graph
    try:  # validated again: an explicit padding may not fit the undilated window
        undilated = type(spec).model_validate({**spec.model_dump(), "dilation_rate": 1})
        undilated.output_shape(graph.layer_input_shapes[site.layer])
    except ValueError:
        return
    if not _shapes_downstream_kept(graph, site.layer, undilated):
        return
    def apply(edit: Edit, layer=site.layer) -> None:
        edit.update_layer(layer, dilation_rate=1)
    yield "undilated (Keras' MaxPooling, chainer's max_pooling_2d: no dilation)", apply


def _shapes_downstream_kept(graph, layer: str, replaced) -> bool:
    """With `replaced` as the layer's spec, every parameter keeps its shape and every output too."""
    shapes = dict(graph.inputs)
    for node in graph.nodes:
        spec = replaced if node.layer == layer else graph.layers[node.layer]
        inputs = [shapes[name] for name in node.inputs]
        try:
            shapes[node.name] = tuple(spec.output_shape(inputs))
            parameters = spec.parameter_shapes(inputs)
        except (ValueError, AttributeError, NotImplementedError, TypeError):
            return False
        if any(tuple(graph.parameter_shapes.get(f"{node.layer}/{name}", shape)) != tuple(shape)
               for name, shape in parameters.items()):
            return False
    return all(shapes[name] == tuple(graph.shapes[name]) for name in graph.outputs)


def _default_values(site: Site, edit: Edit, context, key: str, field: str) -> Iterator:
    """One variant per framework default of `key` that differs from the case's value."""
    current = getattr(edit.layers[site.layer], field)
    for value, source in context.framework_values(key):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isclose(value, current, rtol=1e-12):
            continue
        if value == current:
            continue
        def apply(edit: Edit, layer=site.layer, value=value) -> None:
            edit.update_layer(layer, **{field: value})
        yield f"{value!r} ({source})", apply


@transform("BatchNormalization.epsilon", family="default value", kind=SITE_LAYER, tags="BatchNormalization",
           description="epsilon replaced by each framework's default", phrase="epsilon is {choice}")
def batch_norm_epsilon(site, edit, context):
    yield from _default_values(site, edit, context, "BatchNormalization.epsilon", "epsilon")


@transform("LayerNormalization.epsilon", family="default value", kind=SITE_LAYER, tags="LayerNormalization",
           description="epsilon replaced by each framework's default", phrase="epsilon is {choice}")
def layer_norm_epsilon(site, edit, context):
    yield from _default_values(site, edit, context, "LayerNormalization.epsilon", "epsilon")


@transform("LeakyReLU.negative_slope", family="default value", kind=SITE_LAYER, tags="LeakyReLU",
           description="the slope replaced by each framework's LeakyReLU layer default",
           phrase="the negative slope is {choice}")
def leaky_layer_slope(site, edit, context):
    yield from _default_values(site, edit, context, "LeakyReLU.negative_slope", "negative_slope")


@transform("BatchNormalization.momentum_convention", family="convention", kind=SITE_LAYER,
           tags="BatchNormalization",
           description="momentum read as the share taken from the batch (torch) instead of the share kept (Keras)",
           phrase="the momentum is read as {choice}")
def batch_norm_momentum(site, edit, context):
    momentum = edit.layers[site.layer].momentum
    if momentum == 0.5:
        return  # its own complement
    def apply(edit: Edit, layer=site.layer) -> None:
        edit.update_layer(layer, momentum=1 - edit.layers[layer].momentum)
    yield f"the share taken ({1 - momentum:g} kept instead of {momentum:g})", apply, _inference_blind(edit)


def _inference_blind(edit: Edit) -> str:
    return ("inference mode: the moving statistics are used, never updated, so how they would be "
            "updated cannot show" if edit.original.spec.mode == "inference" else "")


@transform("BatchNormalization.moving_variance", family="convention", kind=SITE_LAYER, tags="BatchNormalization",
           description="the moving variance updated with the other batch variance (biased vs unbiased)",
           phrase="the moving variance is updated with {choice}")
def batch_norm_variance(site, edit, context):
    current = edit.layers[site.layer].moving_variance
    other = "unbiased" if current == "biased" else "biased"
    def apply(edit: Edit, layer=site.layer) -> None:
        edit.update_layer(layer, moving_variance=other)
    yield f"the {other} batch variance", apply, _inference_blind(edit)


@transform("ReLU.setting_dropped", family="default value", kind=SITE_LAYER, tags="ReLU",
           description="one of ReLU's settings (max_value, negative_slope, threshold) left at its "
                       "default, as a port that writes ReLU6 as a plain ReLU does",
           phrase="{choice}")
def relu_setting_dropped(site, edit, context):
    layer = edit.layers[site.layer]
    dropped = {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}
    for field, default in dropped.items():
        if getattr(layer, field) == default:
            continue
        def apply(edit: Edit, layer=site.layer, field=field, default=default) -> None:
            edit.update_layer(layer, **{field: default})
        yield f"{field} is left at its default ({default})", apply


@transform("LSTM.forget_bias", family="bias", kind=SITE_LAYER, tags="LSTM",
           description="the forget gate's bias block added twice (torch keeps two biases: a port that "
                       "puts the forget bias, or Keras' unit_forget_bias 1, in both) or left out",
           phrase="the forget gate's bias is {choice}", port_phrase="your code's forget gate bias is {choice}")
def lstm_forget_bias(site: Site, edit: Edit, context) -> Iterator:
    name = f"{site.layer}/bias"
    bias = edit.weights.get(name)
    if bias is None:
        return
    spec = edit.layers[site.layer]
    block = spec.gates.index("f")  # the canonical gate order, as the layer states it
    forget = slice(block * spec.units, (block + 1) * spec.units)
    blind = (f"the forget bias of layer {site.layer} is all zeros, so adding it twice or leaving it out "
             "changes nothing" if not np.any(bias[..., forget]) else "")
    for choice, factor in (("added twice", 2.0), ("dropped", 0.0)):
        def apply(edit: Edit, name=name, factor=factor, forget=forget) -> None:
            value = edit.weights[name].copy()
            value[..., forget] *= factor
            edit.weights[name] = value
            if factor:  # bound doubled, read back halved (as bias.dropped_or_doubled)
                edit.add_layout(name, lambda a, factor=factor, forget=forget: _scaled(a, forget, 1 / factor))
        yield choice, apply, blind


def _scaled(array: np.ndarray, where: slice, factor: float) -> np.ndarray:
    value = np.array(array, dtype=np.float64)  # a copy: the reference's own result stays as it is
    value[..., where] *= factor
    return value


def _bias_along(axis: int) -> type:
    """ConvReference with the per-channel bias added along `axis` of the laid-out output (batch
    axis included) instead of the channels: what Keras 3.15.1 on TensorFlow computes for a
    channels_first convolution whose last axis is as long as its filters
    (cases/discovered_keras_channels_first_bias.yaml)."""
    class ConvBiasAlongAxis(ConvReference):
        def forward(self, x):
            bias = self.params["bias"]
            self.params = {**self.params, "bias": np.zeros_like(bias)}
            try:
                super().forward(x)
            finally:
                self.params = {**self.params, "bias": bias}
            shape = [1] * self.z.ndim
            shape[axis] = bias.shape[0]
            self.z = self.z + bias.reshape(shape)
            self.y = self.spec.activation.forward(self.z)
            return self.y

        def backward(self, dy):
            dx = super().backward(dy)
            dz = self.spec.activation.backward(self.z, self.y, dy)
            self.grads["bias"] = dz.sum(axis=tuple(a for a in range(dz.ndim) if a != axis))
            return dx
    return ConvBiasAlongAxis


@transform("bias.other_axis", family="bias", kind=SITE_LAYER, tags=("Conv1D", "Conv2D"),
           description="the per-channel bias added along another axis of the output that has as many "
                       "cells as there are channels",
           phrase="the bias is added {choice}")
def bias_other_axis(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    if not spec.use_bias or f"{site.layer}/bias" not in edit.weights:
        return
    output = spec.output_shape(edit.original.graph.layer_input_shapes[site.layer])  # no batch axis
    channel = 0 if spec.data_format == "channels_first" else len(output) - 1
    blind = (f"the bias of layer {site.layer} is the same on every channel, so where it is added "
             "cannot show" if np.ptp(edit.weights[f"{site.layer}/bias"]) == 0 else "")
    for index, length in enumerate(output):
        if index == channel or length != spec.filters or length < 2:
            continue
        def apply(edit: Edit, layer=site.layer, axis=index + 1) -> None:
            edit.layers[layer] = variant_spec(edit.layers[layer], f"bias_axis{axis}", reference=_bias_along(axis))
        yield f"along axis {index + 1} ({length} cells) instead of the channels", apply, blind


@transform("Attention.mask_polarity", family="mask", kind=SITE_LAYER,
           tags=("MultiHeadAttention", "ScaledDotProductAttention"),
           description="the fixed attention mask read with the other polarity (True = blocked instead of may attend)",
           phrase="the attention mask is read as {choice}", port_phrase="your attention mask is read as {choice}")
def mask_polarity(site: Site, edit: Edit, context) -> Iterator:
    """The frameworks' boolean masks disagree: Keras' attention_mask / mask and torch's
    F.scaled_dot_product_attention take True = may attend, nn.MultiheadAttention's attn_mask
    True = NOT allowed (torch/nn/modules/activation.py). A port that passes one framework's mask
    to the other attends to exactly the blocked positions. Only where the negated mask leaves
    every query position something to attend to (with the causal triangle): elsewhere the
    frameworks themselves disagree (the FULLY_MASKED refusal of the reference)."""
    spec = edit.layers[site.layer]
    if spec.mask is None:
        return
    inverted = (~np.asarray(spec.mask, dtype=bool)).tolist()
    try:
        spec.model_copy(update={"mask": inverted}).output_shape(edit.original.graph.layer_input_shapes[site.layer])
    except ValueError:
        return  # a row with nothing left to attend to: no value a framework agrees on
    def apply(edit: Edit, layer=site.layer) -> None:
        edit.update_layer(layer, mask=inverted)
    yield "True = blocked (nn.MultiheadAttention's attn_mask convention)", apply
