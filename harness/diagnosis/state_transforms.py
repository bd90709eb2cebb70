"""Transforms of a recurrent layer's states in and out (`initial_state`, `return_state`,
harness/reference/layers/recurrent.py): the mistakes a port or an adapter makes with them.

* LSTM's two states in the other order. Keras (`initial_state=[h, c]`, return_state's
  [output, h, c]) and torch (`(h0, c0)`, `(h_n, c_n)`) put h first; chainer's
  `StatelessLSTM(c, h, x)` returns `(c, h)` and `L.LSTM.set_state(c, h)` takes c first
  (chainer/links/rnn/lstm.py), so a port between them swaps h and c easily.
* The initial states ignored: the recurrence starts from zeros, as when hx is not passed.

Each variant is a subclass of the layer's reference (harness/diagnosis/base.py
`variant_spec`), so its gradients are the reference's own, routed as the mistake routes them.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from harness.diagnosis.base import SITE_LAYER, Edit, Site, transform, variant_spec


def _swapped_in(reference: type) -> type:
    class InitialStatesSwapped(reference):
        def forward(self, x, *initial):
            return super().forward(x, *initial[::-1])

        def backward(self, dy, *dfinal):
            dx, *dinitial = super().backward(dy, *dfinal)
            return (dx, *dinitial[::-1])
    return InitialStatesSwapped


def _swapped_out(reference: type) -> type:
    class FinalStatesSwapped(reference):
        def forward(self, x, *initial):
            y, *final = super().forward(x, *initial)
            return (y, *final[::-1])

        def backward(self, dy, *dfinal):
            return super().backward(dy, *dfinal[::-1])
    return FinalStatesSwapped


def _ignored(reference: type) -> type:
    class InitialStatesIgnored(reference):
        def forward(self, x, *initial):
            self.initial = initial
            return super().forward(x)

        def backward(self, dy, *dfinal):
            (dx, *_) = super().backward(dy, *dfinal)
            return (dx, *(np.zeros_like(state) for state in self.initial))
    return InitialStatesIgnored


def _given_states(edit: Edit, layer: str) -> list[np.ndarray] | None:
    """The initial states' values where every application reads them straight from case inputs
    (None where one comes from another node: not known before a run)."""
    inputs = edit.original.dataset.inputs
    found = []
    for node in edit.original.graph.nodes:
        if node.layer == layer:
            if any(name not in inputs for name in node.inputs[1:]):
                return None
            found += [inputs[name] for name in node.inputs[1:]]
    return found


@transform("LSTM.state_order", family="layout", kind=SITE_LAYER, tags=("LSTM",),
           description="an LSTM's states in and out as [c, h] (chainer's StatelessLSTM(c, h, x), "
                       "L.LSTM.set_state(c, h)) where Keras and torch have [h, c]",
           phrase="the LSTM's {choice}", port_phrase="your LSTM takes or gives its {choice}")
def state_order(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    reference = type(spec).reference
    if spec.initial_state:
        def apply_in(edit: Edit, layer=site.layer) -> None:
            edit.layers[layer] = variant_spec(edit.layers[layer], "initial_swapped", reference=_swapped_in(reference))
        states = _given_states(edit, site.layer)
        same = states is not None and all(np.array_equal(h, c) for h, c in zip(states[::2], states[1::2]))
        yield "initial states read as [c, h]", apply_in, "h0 and c0 hold the same values" if same else ""
    if spec.return_state:
        def apply_out(edit: Edit, layer=site.layer) -> None:
            edit.layers[layer] = variant_spec(edit.layers[layer], "final_swapped", reference=_swapped_out(reference))
        yield "final states given as [c, h]", apply_out


@transform("recurrent.initial_state_ignored", family="formula", kind=SITE_LAYER, tags=("LSTM", "GRU", "SimpleRNN"),
           description="the initial states given as inputs ignored: the recurrence starts from zeros",
           phrase="the initial states are {choice}", port_phrase="your layer's initial states are {choice}")
def initial_state_ignored(site: Site, edit: Edit, context) -> Iterator:
    spec = edit.layers[site.layer]
    if not spec.initial_state:
        return
    reference = type(spec).reference

    def apply(edit: Edit, layer=site.layer) -> None:
        edit.layers[layer] = variant_spec(edit.layers[layer], "initial_ignored", reference=_ignored(reference))
    states = _given_states(edit, site.layer)
    zeros = states is not None and not any(np.any(state) for state in states)
    yield "ignored (zeros used)", apply, "the initial states given are zeros" if zeros else ""
