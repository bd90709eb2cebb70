"""PeepholeLSTM: an LSTM whose gates also read the cell state, chainer's formulation.

chainer's L.StatefulPeepholeLSTM (chainer/links/rnn/peephole.py, chainer 7.8.1) is the one
framework layer with peepholes: besides `upward` (x, with the bias) and `lateral` (h, no bias)
it holds three Linear links without bias, `peep_i`, `peep_f`, `peep_o`, each a full
(units, units) matrix on the cell state. Its forward:

    a = tanh(z_a)                 i = sigmoid(z_i + peep_i(c_{t-1}))
    f = sigmoid(z_f + peep_f(c_{t-1}))
    c_t = a * i + f * c_{t-1}     o = sigmoid(z_o + peep_o(c_t))      h_t = o * tanh(c_t)

with z = upward(x_t) + lateral(h_{t-1}): the input and forget gates peep at the previous cell
state, the output gate at the new one (Gers, Schraudolph and Schmidhuber 2002). Keras 3 and
torch have no peephole LSTM (Keras 2's tf.keras.experimental.PeepholeLSTMCell was removed;
torch.nn.LSTM has none): their adapters build it from primitives. Gers et al.'s peepholes are
diagonal (one weight per unit, as TF 1's LSTMCell(use_peepholes=True)); that is the special
case of a diagonal matrix here, which a case can give as explicit values.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import model_validator

from harness.reference.layers.base import LAYERS
from harness.reference.layers.recurrent import LSTM, RecurrentReference

PEEPHOLES = ("peephole_i", "peephole_f", "peephole_o")


class PeepholeLSTMReference(RecurrentReference):
    """RecurrentReference's forward and backward (go_backwards, states) around the peephole
    cell's steps; the spec refuses initial and final states, so `initial` is empty and the
    final states' gradients are zeros here."""

    def recur(self, x, initial):
        u = self.spec.units
        R = self.params["recurrent_kernel"]
        Pi, Pf, Po = (self.params[name] for name in PEEPHOLES)
        act, gate = self.spec.activation, self.spec.recurrent_activation
        xz = self.project_input(x, self.params["bias"])
        h, c = self.start(x, initial, xz.dtype)
        self.steps = []
        hidden = []
        for t in range(x.shape[1]):
            z = xz[t] + h @ R
            zi, zf = z[:, :u] + c @ Pi, z[:, u:2 * u] + c @ Pf
            zc = z[:, 2 * u:3 * u]
            i, f, g = gate.forward(zi), gate.forward(zf), act.forward(zc)
            c_prev, h_prev = c, h
            c = f * c_prev + i * g
            zo = z[:, 3 * u:] + c @ Po  # the output gate peeps at the new cell state
            o = gate.forward(zo)
            tc = act.forward(c)
            h = o * tc
            self.steps.append((h_prev, c_prev, zi, zf, zc, zo, i, f, g, o, c, tc))
            hidden.append(h)
        return hidden, (h, c)

    def recur_backward(self, dy, dfinal):
        u = self.spec.units
        R = self.params["recurrent_kernel"]
        Pi, Pf, Po = (self.params[name] for name in PEEPHOLES)
        act, gate = self.spec.activation, self.spec.recurrent_activation
        steps = len(self.steps)
        dh_out = self.upstream(dy, steps)
        dz_all = np.empty((steps, dy.shape[0], 4 * u), dtype=dy.dtype)
        dR, dPi, dPf, dPo = (np.zeros_like(p) for p in (R, Pi, Pf, Po))
        dh_next, dc_next = dfinal
        for t in reversed(range(steps)):
            h_prev, c_prev, zi, zf, zc, zo, i, f, g, o, c, tc = self.steps[t]
            dh = dh_out[t] + dh_next
            dz = dz_all[t]
            dz[:, 3 * u:] = gate.backward(zo, o, dh * tc)
            dzo = dz[:, 3 * u:]
            dc = dc_next + act.backward(c, tc, dh * o) + dzo @ Po.T
            dPo += c.T @ dzo
            dz[:, :u] = gate.backward(zi, i, dc * g)
            dz[:, u:2 * u] = gate.backward(zf, f, dc * c_prev)
            dz[:, 2 * u:3 * u] = act.backward(zc, g, dc * i)
            dzi, dzf = dz[:, :u], dz[:, u:2 * u]
            dPi += c_prev.T @ dzi
            dPf += c_prev.T @ dzf
            dR += h_prev.T @ dz
            dh_next = dz @ R.T
            dc_next = dc * f + dzi @ Pi.T + dzf @ Pf.T
        self.grads.update(recurrent_kernel=dR, peephole_i=dPi, peephole_f=dPf, peephole_o=dPo,
                          bias=dz_all.sum(axis=(0, 1)))
        return self.input_gradients(dz_all), (dh_next, dc_next)


@LAYERS.register
class PeepholeLSTM(LSTM):
    """LSTM with peephole connections, chainer's L.StatefulPeepholeLSTM
    (chainer/links/rnn/peephole.py):

        z = x_t W + h_{t-1} U + b,  split into blocks [i, f, c, o] of `units` columns
        i = recurrent_activation(z_i + c_{t-1} P_i)   f = recurrent_activation(z_f + c_{t-1} P_f)
        c_t = f * c_{t-1} + i * activation(z_c)
        o = recurrent_activation(z_o + c_t P_o)        h_t = o * activation(c_t)

    Canonical layout: LSTM's (`kernel` W (features, 4 units), `recurrent_kernel` U (units,
    4 units), `bias` b (4 units,), column blocks [i, f, c, o], Keras'), plus `peephole_i`,
    `peephole_f`, `peephole_o` (units, units), each multiplying the cell state from the right
    (c P: row k is cell unit k). chainer's peep_* Linear links hold P^T ((out, in)).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("keras", "importable"): "Keras 3 has no peephole LSTM layer to import",
        ("torch", "importable"): "torch has no peephole LSTM module to import",
        ("chainer", "importable"): "the chainer importer does not translate L.StatefulPeepholeLSTM yet",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["PeepholeLSTM"]

    reference = PeepholeLSTMReference

    @model_validator(mode="after")
    def no_states_in_or_out(self):
        """Initial states as inputs, final states as outputs and chainer_link are LSTM's
        fields; no adapter here builds the states for the peephole cell yet, and its chainer
        link is its own."""
        for field in ("initial_state", "return_state"):
            if getattr(self, field, False):
                raise ValueError(f"PeepholeLSTM does not take {field} yet: its cell starts from zero "
                                 f"states and outputs h only")
        if getattr(self, "chainer_link", "StatelessLSTM") != "StatelessLSTM":
            raise ValueError("PeepholeLSTM's chainer link is L.StatefulPeepholeLSTM; chainer_link names "
                             "the plain LSTM's links: leave it out")
        return self

    def parameter_shapes(self, input_shapes):
        shapes = super().parameter_shapes(input_shapes)
        return {**shapes, **{name: (self.units, self.units) for name in PEEPHOLES}}

    def default_initializers(self):
        # chainer's Linear links draw LeCun normal; a small matrix on the cell state (not an
        # orthogonal one: it is not a recurrence on h) keeps the gates away from saturation.
        return {**super().default_initializers(), **{name: "glorot_uniform" for name in PEEPHOLES}}
