"""Keras' PeepholeLSTM: composite. Keras 3 has no peephole LSTM (keras/src/layers/rnn/lstm.py's
LSTMCell has no cell-state term in its gates; Keras 2's tf.keras.experimental.PeepholeLSTMCell
is gone), so the cell is a small keras.layers.Layer computing the case's formula with
keras.ops, run by keras.layers.RNN (keras/src/layers/rnn/rnn.py: the same loop, state handling
and go_backwards as keras.layers.LSTM). Its weights are the canonical ones as they are:
kernel, recurrent_kernel, bias as LSTMCell's ([i, f, c, o] column blocks), and the three
peephole matrices (units, units), c P.
"""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.keras._import import keras
from harness.backends.keras.core import built
from harness.backends.keras.recurrent import activations, bind
from harness.backends.keras.registry import LAYER_BUILDERS as builders
from harness.backends.layout import AS_IS
from harness.reference.layers.peephole import PEEPHOLES

ops = keras.ops


class PeepholeLSTMCell(keras.layers.Layer):
    """One step of the peephole LSTM (harness/reference/layers/peephole.py's formula)."""

    def __init__(self, units: int, activation, recurrent_activation, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.activation, self.recurrent_activation = units, activation, recurrent_activation
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        u = self.units
        shapes = {"kernel": (input_shape[-1], 4 * u), "recurrent_kernel": (u, 4 * u), "bias": (4 * u,),
                  **{name: (u, u) for name in PEEPHOLES}}
        for name, shape in shapes.items():
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer="zeros"))

    def call(self, inputs, states, training=False):
        h, c = states
        u, act, gate = self.units, self.activation, self.recurrent_activation
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        zi, zf, zc, zo = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
        i = gate(zi + ops.matmul(c, self.peephole_i))
        f = gate(zf + ops.matmul(c, self.peephole_f))
        c = f * c + i * act(zc)
        h = gate(zo + ops.matmul(c, self.peephole_o)) * act(c)  # the output gate peeps at the new c
        return h, [h, c]


@builders.register("PeepholeLSTM")
def peephole_lstm(spec, ctx) -> BuiltLayer:
    kwargs, _, described = activations(spec, ctx)
    cell = PeepholeLSTMCell(spec.units, dtype=ctx.dtype, name=f"{ctx.layer_name}_cell", **kwargs)
    layer = built(keras.layers.RNN(cell, return_sequences=spec.return_sequences, go_backwards=spec.go_backwards,
                                   dtype=ctx.dtype, name=ctx.layer_name), ctx)
    bindings = bind(spec, ctx, layer) + [
        WeightBinding(name, getattr(cell, name), f"RNN.cell.{name}", AS_IS) for name in PEEPHOLES]
    return BuiltLayer(call=layer, bindings=bindings, implementation="composite", module=layer,
                      detail=f"keras.layers.RNN(go_backwards={spec.go_backwards}) over a peephole LSTM cell from "
                             f"keras.ops ({described}): Keras 3 has no peephole LSTM")
