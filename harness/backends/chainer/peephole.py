"""chainer's PeepholeLSTM: L.StatefulPeepholeLSTM itself (chainer/links/rnn/peephole.py, 7.8.1),
the one native peephole LSTM of the three frameworks and the formula the reference follows.

Its `upward` Linear(in, 4u) holds the one bias and `lateral` Linear(u, 4u) none, as
L.StatelessLSTM's: the forward reshapes the pre-activations to (batch, u, 4) and splits them
into (a, i, f, o), so the gates are interleaved per unit as F.lstm's (LSTM_INTERLEAVED in
recurrent.py). `peep_i`, `peep_f`, `peep_o` are Linear(u, u) without bias on the cell state:
(out, in), the canonical c P transposed. The link keeps c and h between calls:
reset_state() before every sequence makes its state zero, as the reference's.
"""

from __future__ import annotations

from harness.backends.base import BuiltLayer, WeightBinding
from harness.backends.chainer._import import F, L
from harness.backends.chainer.recurrent import LSTM_INTERLEAVED, reversible, zero_state
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.gates import gate_transform
from harness.backends.layout import transpose
from harness.reference.layers.peephole import PEEPHOLES

PEEP_TO_OUT_IN = transpose(1, 0, description="transposed: the canonical c P -> Linear's (out, in) W, c W^T")


@builders.register("PeepholeLSTM")
@reversible
def peephole_lstm(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    link = L.StatefulPeepholeLSTM(features, u)
    name = "StatefulPeepholeLSTM"
    bindings = [
        WeightBinding("kernel", link.upward.W, f"{name}.upward.W",
                      gate_transform(LSTM_INTERLEAVED, u, (features, 4 * u))),
        WeightBinding("recurrent_kernel", link.lateral.W, f"{name}.lateral.W",
                      gate_transform(LSTM_INTERLEAVED, u, (u, 4 * u))),
        WeightBinding("bias", link.upward.b, f"{name}.upward.b", gate_transform(LSTM_INTERLEAVED, u, (4 * u,))),
    ] + [WeightBinding(parameter, getattr(link, f"peep_{parameter[-1]}").W, f"{name}.peep_{parameter[-1]}.W",
                       PEEP_TO_OUT_IN) for parameter in PEEPHOLES]
    if spec.standard_cell:
        def call(x):
            link.reset_state()  # zero c, no lateral term at the first step
            outputs = [link(x[:, t]) for t in range(x.shape[1])]
            return F.stack(outputs, axis=1) if spec.return_sequences else outputs[-1]

        return BuiltLayer(call=call, bindings=bindings, module=link,
                          detail="chainer.links.StatefulPeepholeLSTM, one step at a time from reset_state()")
    act, gate, described = ctx.cell_activations(spec)

    def composite(x):
        projected = link.upward(x, n_batch_axes=2)
        c = zero_state(x, u)
        h = None
        outputs = []
        for t in range(x.shape[1]):
            z = projected[:, t] if h is None else projected[:, t] + link.lateral(h)
            a, i, f, o = F.separate(F.reshape(z, (z.shape[0], u, 4)), axis=2)  # the link's layout
            i, f = gate(i + link.peep_i(c)), gate(f + link.peep_f(c))
            c = act(a) * i + f * c
            h = gate(o + link.peep_o(c)) * act(c)
            outputs.append(h)
        return F.stack(outputs, axis=1) if spec.return_sequences else h

    return BuiltLayer(call=composite, bindings=bindings, implementation="composite", module=link,
                      detail=f"peephole LSTM cell from the Linear links of chainer.links.StatefulPeepholeLSTM "
                             f"({described}): the link is fixed to sigmoid gates and tanh")
