"""torch's PeepholeLSTM: composite. torch has no peephole LSTM (torch.nn.LSTM, torch/nn/modules/
rnn.py, has no cell-state term in its gates; nn.LSTMCell neither), so the cell is built from
F.linear and the activations, on a module whose parameters are named and laid out as
nn.LSTM's (weight_ih_l0, weight_hh_l0 rows [i, f, g, o], (out, in)) with one bias, bias_ih_l0
(Keras' one bias; there is no native module whose second bias would be held at zero), and
three (units, units) peephole matrices, (out, in) as an nn.Linear's weight: F.linear(c, P^T).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.layout import transpose
from harness.backends.torch.recurrent import LSTM_ROWS, bind, reversible, unroll
from harness.backends.torch.registry import REGISTRY
from harness.reference.layers.peephole import PEEPHOLES

PEEP_TO_OUT_IN = transpose(1, 0, description="transposed: the canonical c P -> (out, in), F.linear(c, P^T)")


class PeepholeLSTM(torch.nn.Module):
    """The parameters only; the builder's call computes the cell (with the case's activations)."""

    def __init__(self, features: int, units: int, dtype: torch.dtype) -> None:
        super().__init__()
        def parameter(*shape):
            return torch.nn.Parameter(torch.zeros(*shape, dtype=dtype))
        self.weight_ih_l0 = parameter(4 * units, features)
        self.weight_hh_l0 = parameter(4 * units, units)
        self.bias_ih_l0 = parameter(4 * units)
        for name in PEEPHOLES:
            setattr(self, name, parameter(units, units))


@REGISTRY.layers.register("PeepholeLSTM")
@reversible
def peephole_lstm(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    module = PeepholeLSTM(features, u, getattr(torch, ctx.dtype))
    bindings = bind(spec, ctx, module, LSTM_ROWS, two_biases=False) + [
        WeightBinding(name, getattr(module, name), f"PeepholeLSTM.{name}", PEEP_TO_OUT_IN) for name in PEEPHOLES]
    act, gate, described = ctx.cell_activations(spec)

    def step(z, h, c):
        z = z + F.linear(h, module.weight_hh_l0)
        zi, zf, zg, zo = z.chunk(4, dim=1)  # nn.LSTM's row order [i, f, g, o]
        i, f = gate(zi + F.linear(c, module.peephole_i)), gate(zf + F.linear(c, module.peephole_f))
        c = f * c + i * act(zg)
        return gate(zo + F.linear(c, module.peephole_o)) * act(c), c  # o peeps at the new c

    def call(x):
        return unroll(step, F.linear(x, module.weight_ih_l0, module.bias_ih_l0), spec, cell_state=True)

    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=module,
                      detail=f"peephole LSTM cell from F.linear and activations ({described}) on parameters "
                             f"laid out as torch.nn.LSTM's plus peephole_i/f/o: torch has no peephole LSTM")
