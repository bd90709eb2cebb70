"""Bidirectional: one recurrent layer run forwards and a copy of it run backwards, merged.

Keras' wrapper (keras/src/layers/rnn/bidirectional.py): the backward layer is the wrapped
layer's config with `go_backwards` negated (`config["config"]["go_backwards"] = True` for a
forward layer), both read the same input, and with `return_sequences` the backward output is
flipped in time (`y_rev = ops.flip(y_rev, axis=1)`) so that step t of both halves belongs to
input step t; then `merge_mode` combines them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, field_validator

from harness.reference.activations import ActivationSpec
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer
from harness.reference.layers.recurrent import GRU, LSTM, SimpleRNN

DIRECTIONS = ("forward", "backward")

RecurrentLayer = Annotated[Union[LSTM, GRU, SimpleRNN], Field(discriminator="type")]


class BidirectionalReference(ReferenceLayer):
    def __init__(self, spec, params, *, training=False):
        super().__init__(spec, params, training=training)
        self.directions = {
            direction: part.reference(part, spec.parameters_of(params, direction), training=training)
            for direction, part in zip(DIRECTIONS, spec.directions())}

    def forward(self, x):
        y = self.directions["forward"].forward(x)
        y_rev = self.directions["backward"].forward(x)
        if self.spec.layer.return_sequences:
            y_rev = y_rev[:, ::-1]  # back to forward time, as Keras' ops.flip(y_rev, axis=1)
        self.y, self.y_rev = y, y_rev
        return MERGES[self.spec.merge_mode][0](y, y_rev)

    def backward(self, dy):
        dy_fwd, dy_rev = MERGES[self.spec.merge_mode][1](dy, self.y, self.y_rev)
        if self.spec.layer.return_sequences:
            dy_rev = dy_rev[:, ::-1]
        (dx,) = self.directions["forward"].backward(dy_fwd)
        (dx_rev,) = self.directions["backward"].backward(np.ascontiguousarray(dy_rev))
        self.grads = {f"{direction}/{name}": grad for direction in DIRECTIONS
                      for name, grad in self.directions[direction].grads.items()}
        return (dx + dx_rev,)


def _split(dy, y, y_rev):
    u = y.shape[-1]
    return dy[..., :u], dy[..., u:]


MERGES = {
    # mode: (merge(y, y_rev), its backward: dy -> (d y, d y_rev))
    "concat": (lambda y, r: np.concatenate([y, r], axis=-1), _split),
    "sum": (lambda y, r: y + r, lambda dy, y, r: (dy, dy)),
    "mul": (lambda y, r: y * r, lambda dy, y, r: (dy * r, dy * y)),
    "ave": (lambda y, r: (y + r) / 2, lambda dy, y, r: (dy / 2, dy / 2)),
}


@LAYERS.register
class Bidirectional(LayerSpec):
    """y = merge(layer(x), flip_t(layer'(x))) with `return_sequences`, else
    merge(layer(x), layer'(x)), where layer' is `layer` with `go_backwards` negated and flip_t
    reverses the time axis (Keras' Bidirectional, keras/src/layers/rnn/bidirectional.py).

    merge_mode: `concat` (last axis: forward units, then backward units), `sum`, `mul`, `ave`.
    Keras' `merge_mode=None` returns the two outputs as a list; a case's layer has one output,
    so it is refused (write the two directions as two layers, one with go_backwards, in the
    graph form instead).

    Canonical layout: the wrapped layer's parameters twice, `forward/<parameter>` and
    `backward/<parameter>` (`forward/kernel`, `forward/recurrent_kernel`, `forward/bias`,
    `backward/kernel`, ...), each in the wrapped kind's canonical (Keras') layout. Keras names
    them `forward_<layer>/<cell>/kernel` and `backward_<layer>/<cell>/kernel` inside the
    wrapper.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["Bidirectional"]
    layer: RecurrentLayer = Field(description="the recurrent layer to run in both directions (its `name` is "
                                              "ignored: the parameters are named forward/... and backward/...)")
    merge_mode: Literal["concat", "sum", "mul", "ave"] | None = Field(
        default="concat", description="how the two directions' outputs combine (Keras' default concat); None "
                                      "(two outputs) is refused")

    reference = BidirectionalReference

    @field_validator("merge_mode")
    @classmethod
    def one_output(cls, value):
        if value is None:
            raise ValueError("merge_mode None gives Keras' two outputs, and a case's layer has one output: "
                             "write the two directions as two layers (one with go_backwards: true) in the "
                             "graph form and read both")
        return value

    @field_validator("layer")
    @classmethod
    def no_states(cls, layer):
        """Keras' Bidirectional takes initial_state [forward states, backward states] and returns
        [output, forward states, backward states]; the case's wrapper does not model them yet."""
        if layer.initial_state or layer.return_state:
            raise ValueError("initial_state and return_state are not supported inside Bidirectional yet: "
                             "write the two directions as two layers (one with go_backwards: true) in the "
                             "graph form, each with its own states")
        return layer

    @field_validator("layer")
    @classmethod
    def cell_activations_fit(cls, layer):
        """The wrapped layer's activations act on (batch, units) per step; the graph checks a
        layer's own activation fields only, so the wrapper checks its layer's (a softmax axis 2
        is a case error here, not a crash in a framework)."""
        for name in type(layer).model_fields:
            value = getattr(layer, name)
            if isinstance(value, ActivationSpec):
                value.check_rank(layer.activation_rank(()))
        return layer

    @property
    def gates(self) -> tuple[str, ...]:
        """The wrapped kind's gate blocks: each direction's parameters are laid out as its own
        (harness/diagnosis/gate_table.py splits `forward/kernel` by them)."""
        return self.layer.gates

    def directions(self) -> tuple[LayerSpec, LayerSpec]:
        """The forward layer and the backward one (go_backwards negated, as Keras builds it)."""
        return self.layer, self.layer.model_copy(update={"go_backwards": not self.layer.go_backwards})

    @staticmethod
    def parameters_of(params: dict, direction: str) -> dict:
        prefix = f"{direction}/"
        return {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)}

    def output_shape(self, input_shapes):
        shape = self.layer.output_shape(input_shapes)
        return (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape

    def activation_rank(self, output_shape):
        return self.layer.activation_rank(output_shape)

    def parameter_shapes(self, input_shapes):
        shapes = self.layer.parameter_shapes(input_shapes)
        return {f"{direction}/{name}": shape for direction in DIRECTIONS for name, shape in shapes.items()}

    def default_initializers(self):
        initializers = self.layer.default_initializers()
        return {f"{direction}/{name}": value for direction in DIRECTIONS for name, value in initializers.items()}

    def initialize(self, parameter, initializer, shape, rng):
        # The wrapped layer has the last word (LSTM's unit_forget_bias), per direction.
        return self.layer.initialize(parameter.split("/", 1)[1], initializer, shape, rng)
