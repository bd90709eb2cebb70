"""chainer builders for LSTM, GRU and SimpleRNN.

Each uses the chainer link whose parameters best match Keras', and says how they are laid out
(read from the installed chainer 7.8.1 source):

* LSTM -> the link its `chainer_link` names, by default L.StatelessLSTM (chainer/links/rnn/
  lstm.py): `upward` Linear(in, 4u) with the one bias, `lateral` Linear(u, 4u) without bias, as
  Keras. F.lstm (chainer/functions/rnn/lstm.py, `_extract_gates`) reshapes the pre-activations
  to (batch, u, 4), so row 4 j + k of upward.W is gate k of unit j, gates in the order
  (a, i, f, o), a being Keras' cell candidate c: the gates are interleaved per unit, not
  blocked. L.LSTM has the same parameters and keeps c, h between calls (stepped here).
  L.NStepLSTM has one tensor per gate and two biases per gate (b4..b7 held at zero); its
  docstring (chainer/functions/rnn/n_step_lstm.py) gives W2 to the output gate and W3 to the
  candidate, while `_lstm` there feeds W2 to the candidate and W3 to the output gate: its order
  is i, f, c, o, as Keras (NSTEP_LSTM below). Inside Bidirectional, an LSTM naming NStepLSTM
  becomes one L.NStepBiLSTM where it computes Keras' wrapper.
* GRU reset-after -> L.NStepGRU (chainer/functions/rnn/n_step_gru.py, `_gru`): one tensor per
  gate, ws[0][0..2] = W_r, W_z, W_h on the input, ws[0][3..5] on the state, and six biases:
  Keras' input bias row to b0..b2, its recurrent bias row to b3..b5.
* GRU reset-before -> L.StatelessGRU (chainer/links/rnn/gru.py): Linear links W_r, U_r, W_z,
  U_z, W, U. It computes h' = z h_bar + (1 - z) h (`linear_interpolate(z, h_bar, h)`), with z
  where Keras has 1 - z. Since sigmoid(-a) = 1 - sigmoid(a), storing the z weights and bias
  negated gives Keras' function exactly. Keras' reset-before GRU has only an input bias, so the
  U links' biases are removed.
* SimpleRNN -> L.NStepRNNTanh / L.NStepRNNReLU (chainer/functions/rnn/n_step_rnn.py): ws[0] =
  [W_x, W_h], bs[0] = [b_x, b_h]; b_h is removed from the link and fed as a constant zero
  (Keras has one bias; a trainable second one would move the effective bias twice per step).

The links are fixed to sigmoid gates and tanh (NStepRNN: tanh or relu). Other activations are
built from F.linear and the activations on the same link's parameters, so the layout and the
mapping stay the native link's; the layer is then marked composite. NStep links take a list of
per-sample sequences: the (batch, time, features) input is split with F.separate and the
outputs stacked back.

Beside the builders: the import translation of L.LSTM (stepped over a sequence in a Chain's own
forward), and the readers of chainer's LSTM and GRU defaults (probes on fresh links).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from functools import cache
from typing import Callable

import numpy as np

from harness.backends import bidirectional as bi
from harness.backends.base import BuiltLayer, HeldTensor, WeightBinding
from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.defaults.helpers import f64, keeps_rng
from harness.backends.chainer.registry import DEFAULT_READERS as readers
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders
from harness.backends.gates import GateLayout, gate_transform
from harness.defaults import probes
from harness.defaults.reading import Reading
from harness.reference.layers.recurrent import GRU, LSTM

LSTM_INTERLEAVED = GateLayout(LSTM.gates, ("c", "i", "f", "o"), transposed=True, interleaved=True,
                              native_names={"c": "a"})
GRU_PER_GATE = GateLayout(GRU.gates, ("r", "z", "h"), transposed=True)
SINGLE = GateLayout(("h",), ("h",), transposed=True)

REMOVED_BIAS = "removed: Keras has one bias"


def zero_state(x, units: int) -> np.ndarray:
    return np.zeros((x.shape[0], units), dtype=x.dtype)


def with_states(spec, output, final: tuple):
    """The output, and with return_state the final states after it: Keras' [output, h(, c)]."""
    return (output, *final) if spec.return_state else output


def unroll(step: Callable, x, spec, initial: tuple = ()):
    """Run `step(x_t, h) -> h` over the time axis of (batch, time, ...) from the initial state
    given, else zeros."""
    h = initial[0] if initial else zero_state(x, spec.units)
    outputs = []
    for t in range(x.shape[1]):
        h = step(x[:, t], h)
        outputs.append(h)
    return with_states(spec, F.stack(outputs, axis=1) if spec.return_sequences else outputs[-1], (h,))


def over_sequences(link, x, spec, initial: tuple = ()):
    """Apply an NStep link (GRU, RNN) to (batch, time, features): one sequence per sample. Its
    hx and hy are (n_layers, batch, units) (chainer/links/rnn/n_step_rnn.py): the initial h
    gets the layer axis, the final one loses it."""
    hx = F.expand_dims(initial[0], 0) if initial else None
    hy, ys = link(hx, list(F.separate(x, axis=0)))
    output = F.stack(ys, axis=0)
    return with_states(spec, output if spec.return_sequences else output[:, -1], (hy[0],))


def states_note(spec, initial: str, final: str) -> str:
    notes = [f"initial states as {initial}"] * spec.initial_state + [f"final states from {final}"] * spec.return_state
    return "".join(f"; {note}" for note in notes)


def remove_bias(link, name: str):
    """Take a bias out of a link's parameters and return a constant zero in its place."""
    shape, dtype = getattr(link, name).shape, getattr(link, name).dtype
    delattr(link, name)
    return chainer.Variable(np.zeros(shape, dtype=dtype), requires_grad=False)


def reversible(builder: Callable) -> Callable:
    """Wrap a recurrent builder so that `go_backwards` reverses the input's time axis (F.flip)
    before the layer and nothing after it: Keras' go_backwards returns the outputs in the order
    it computed them, the reversed one (harness/reference/layers/recurrent.py), and the native module has
    no such option, so the layer is then composite."""
    @functools.wraps(builder)
    def build(spec, ctx) -> BuiltLayer:
        built = builder(spec, ctx)
        if not spec.go_backwards:
            return built
        forward_in_time = built.call
        built.call = lambda x, *states: forward_in_time(F.flip(x, 1), *states)
        built.implementation = "composite"
        built.detail = (f"F.flip over time into {built.detail}; the output is not flipped back "
                        f"(Keras' go_backwards)")
        return built
    return build


@builders.register("LSTM")
@reversible
def lstm(spec, ctx) -> BuiltLayer:
    """The link the case names (`chainer_link`, default StatelessLSTM): LSTM_LINKS."""
    return LSTM_LINKS[spec.chainer_link](spec, ctx)


def upward_lateral(spec, ctx, link) -> list[WeightBinding]:
    """L.StatelessLSTM's and L.LSTM's parameters (the same Linear links, chainer/links/rnn/lstm.py)."""
    features, u = ctx.input_shapes[0][-1], spec.units
    kind = type(link).__name__
    return [
        WeightBinding("kernel", link.upward.W, f"{kind}.upward.W",
                      gate_transform(LSTM_INTERLEAVED, u, (features, 4 * u))),
        WeightBinding("recurrent_kernel", link.lateral.W, f"{kind}.lateral.W",
                      gate_transform(LSTM_INTERLEAVED, u, (u, 4 * u))),
        WeightBinding("bias", link.upward.b, f"{kind}.upward.b",
                      gate_transform(LSTM_INTERLEAVED, u, (4 * u,))),
    ]


def interleaved_composite(spec, ctx, link) -> tuple[Callable, str]:
    """An LSTM cell with the case's activations on upward / lateral, in F.lstm's layout."""
    u = spec.units
    act, gate, described = ctx.cell_activations(spec)

    def composite(x, *initial):
        projected = link.upward(x, n_batch_axes=2)
        h, c = initial if initial else (None, zero_state(x, u))
        outputs = []
        for t in range(x.shape[1]):
            z = projected[:, t] if h is None else projected[:, t] + link.lateral(h)
            a, i, f, o = F.separate(F.reshape(z, (z.shape[0], u, 4)), axis=2)  # F.lstm's layout
            c = gate(f) * c + gate(i) * act(a)
            h = gate(o) * act(c)
            outputs.append(h)
        return with_states(spec, F.stack(outputs, axis=1) if spec.return_sequences else h, (h, c))

    return composite, (f"LSTM cell from F.linear and activations on chainer.links.{type(link).__name__}'s "
                       f"parameters ({described}): F.lstm is fixed to sigmoid gates and tanh")


def stateless_lstm(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    link = L.StatelessLSTM(features, u)
    bindings = upward_lateral(spec, ctx, link)
    if spec.standard_cell:
        def call(x, *initial):
            # StatelessLSTM(c, h, x) (chainer/links/rnn/lstm.py): None, None is a zero cell and
            # no lateral input; given states go in as they are, c first.
            h, c = initial if initial else (None, None)
            outputs = []
            for t in range(x.shape[1]):
                c, h = link(c, h, x[:, t])
                outputs.append(h)
            return with_states(spec, F.stack(outputs, axis=1) if spec.return_sequences else h, (h, c))

        return BuiltLayer(call=call, bindings=bindings, module=link,
                          detail="chainer.links.StatelessLSTM, one step at a time (F.lstm; lateral has no bias)"
                                 + states_note(spec, "StatelessLSTM(c, h, x)'s c and h", "its last c, h"))
    composite, detail = interleaved_composite(spec, ctx, link)
    return BuiltLayer(call=composite, bindings=bindings, implementation="composite", module=link, detail=detail)


def stateful_lstm(spec, ctx) -> BuiltLayer:
    """L.LSTM keeps c and h between calls (chainer/links/rnn/lstm.py): each forward pass starts
    with reset_state() (or set_state(c, h) with the initial states) and calls the link once per
    time step, keeping every step's h for return_sequences. Its parameters are StatelessLSTM's."""
    features, u = ctx.input_shapes[0][-1], spec.units
    link = L.LSTM(features, u)
    bindings = upward_lateral(spec, ctx, link)
    if not spec.standard_cell:
        composite, detail = interleaved_composite(spec, ctx, link)
        return BuiltLayer(call=composite, bindings=bindings, implementation="composite", module=link,
                          detail=detail)

    def call(x, *initial):
        link.reset_state()
        if initial:
            link.set_state(initial[1], initial[0])  # set_state(c, h)
        outputs = [link(x[:, t]) for t in range(x.shape[1])]
        output = F.stack(outputs, axis=1) if spec.return_sequences else outputs[-1]
        return with_states(spec, output, (link.h, link.c))

    return BuiltLayer(call=call, bindings=bindings, module=link,
                      detail="chainer.links.LSTM, stepped over x[:, t] from reset_state() (F.lstm; lateral has "
                             "no bias)" + states_note(spec, "set_state(c, h)", "its h and c after the last step"))


NSTEP_LSTM = GateLayout(LSTM.gates, ("i", "f", "c", "o"), transposed=True)
"""L.NStepLSTM: one tensor per gate, ws[0][0..3] on the input and [4..7] on the state, bs
likewise. Its docstring (chainer/functions/rnn/n_step_lstm.py, n_step_lstm) gives W_2 to the
output gate and W_3 to the candidate, but `_lstm` there stacks [w[2], w[0], w[1], w[3]] into
F.lstm's (a, i, f, o): w0 i, w1 f, w2 the candidate, w3 o, Keras' block order (the case
recurrent_chainer_links.nstep_lstm passes with it; with the docstring's order it would not)."""


def nstep_lstm_parameters(spec, ctx, link, index: int = 0, name: str = "NStepLSTM"):
    """The bindings and held biases of direction `index` of an NStep(Bi)LSTM: b4..b7 removed
    (Keras has one bias per gate; a constant zero in their place, as SimpleRNN's b1)."""
    features, u = ctx.input_shapes[0][-1], spec.units
    for k in range(4, 8):
        link.bs[index][k] = remove_bias(link[index], f"b{k}")
    weights, biases = link.ws[index], link.bs[index]
    bindings = []
    for k, gate_name in enumerate(NSTEP_LSTM.native_gates):
        only = (gate_name,)
        bindings += [
            WeightBinding("kernel", weights[k], f"{name}.ws[{index}][{k}]",
                          gate_transform(NSTEP_LSTM, u, (features, 4 * u), gates=only)),
            WeightBinding("recurrent_kernel", weights[4 + k], f"{name}.ws[{index}][{4 + k}]",
                          gate_transform(NSTEP_LSTM, u, (u, 4 * u), gates=only)),
            WeightBinding("bias", biases[k], f"{name}.bs[{index}][{k}]",
                          gate_transform(NSTEP_LSTM, u, (4 * u,), gates=only)),
        ]
    held = [HeldTensor(f"{index}/b{4 + k}", None, f"removed from the link: Keras has one bias; a checkpoint's "
                                                  f"b{4 + k} adds to b{k}, as the link adds both",
                       fold=WeightBinding("bias", None, f"{name}.bs[{index}][{4 + k}]", gate_transform(
                           NSTEP_LSTM, u, (4 * u,), gates=(g,), intro=f"added to bs[{index}][{k}] (the link adds both)")))
            for k, g in enumerate(NSTEP_LSTM.native_gates)]
    return bindings, held


def nstep_lstm_link(spec, ctx) -> BuiltLayer:
    """L.NStepLSTM over whole sequences: hx, cx and hy, cy are (n_layers, batch, units)
    (chainer/links/rnn/n_step_lstm.py)."""
    features, u = ctx.input_shapes[0][-1], spec.units
    link = L.NStepLSTM(1, features, u, 0.0)
    bindings, held = nstep_lstm_parameters(spec, ctx, link)
    removed = "bs[0][4..7] removed, constant zeros in their place: Keras has one bias per gate"
    weights, biases = link.ws[0], link.bs[0]
    if spec.standard_cell:
        def call(x, *initial):
            hx, cx = (F.expand_dims(state, 0) for state in initial) if initial else (None, None)
            hy, cy, ys = link(hx, cx, list(F.separate(x, axis=0)))
            output = F.stack(ys, axis=0)
            return with_states(spec, output if spec.return_sequences else output[:, -1], (hy[0], cy[0]))

        return BuiltLayer(call=call, bindings=bindings, held=held, module=link,
                          detail=f"chainer.links.NStepLSTM(n_layers=1, dropout=0), gates w0..w3 = i, f, c, o; "
                                 f"{removed}" + states_note(spec, "hx, cx", "hy, cy"))
    act, gate, described = ctx.cell_activations(spec)

    def composite(x, *initial):
        h, c = initial if initial else (zero_state(x, u), zero_state(x, u))
        outputs = []
        for t in range(x.shape[1]):
            i, f, a, o = (F.linear(x[:, t], weights[k], biases[k]) + F.linear(h, weights[4 + k]) for k in range(4))
            c = gate(f) * c + gate(i) * act(a)
            h = gate(o) * act(c)
            outputs.append(h)
        return with_states(spec, F.stack(outputs, axis=1) if spec.return_sequences else h, (h, c))

    return BuiltLayer(call=composite, bindings=bindings, held=held, implementation="composite", module=link,
                      detail=f"LSTM cell from F.linear and activations on chainer.links.NStepLSTM's parameters "
                             f"({described}): NStepLSTM is fixed to sigmoid gates and tanh; {removed}")


LSTM_LINKS = {"StatelessLSTM": stateless_lstm, "LSTM": stateful_lstm, "NStepLSTM": nstep_lstm_link}
"""LSTM's `chainer_link` -> the builder of that link."""


@builders.register("GRU")
@reversible
def gru(spec, ctx) -> BuiltLayer:
    return gru_reset_after(spec, ctx) if spec.reset_after else gru_reset_before(spec, ctx)


def gru_reset_after(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    link = L.NStepGRU(1, features, u, 0.0)
    weights, biases = link.ws[0], link.bs[0]
    bindings = []
    for k, gate_name in enumerate(GRU_PER_GATE.native_gates):
        only = (gate_name,)
        bindings += [
            WeightBinding("kernel", weights[k], f"NStepGRU.ws[0][{k}]",
                          gate_transform(GRU_PER_GATE, u, (features, 3 * u), gates=only)),
            WeightBinding("recurrent_kernel", weights[3 + k], f"NStepGRU.ws[0][{3 + k}]",
                          gate_transform(GRU_PER_GATE, u, (u, 3 * u), gates=only)),
            WeightBinding("bias", biases[k], f"NStepGRU.bs[0][{k}]",
                          gate_transform(GRU_PER_GATE, u, (2, 3 * u), row=0, gates=only,
                                         intro="the input bias")),
            WeightBinding("bias", biases[3 + k], f"NStepGRU.bs[0][{3 + k}]",
                          gate_transform(GRU_PER_GATE, u, (2, 3 * u), row=1, gates=only,
                                         intro="the recurrent bias")),
        ]
    if spec.standard_cell:
        return BuiltLayer(call=lambda x, *initial: over_sequences(link, x, spec, initial), bindings=bindings,
                          module=link, detail="chainer.links.NStepGRU(n_layers=1, dropout=0), reset-after"
                                              + states_note(spec, "hx", "hy"))
    act, gate, described = ctx.cell_activations(spec)

    def step(x_t, h):
        r = gate(F.linear(x_t, weights[0], biases[0]) + F.linear(h, weights[3], biases[3]))
        z = gate(F.linear(x_t, weights[1], biases[1]) + F.linear(h, weights[4], biases[4]))
        h_bar = act(F.linear(x_t, weights[2], biases[2]) + r * F.linear(h, weights[5], biases[5]))
        return z * h + (1 - z) * h_bar

    return BuiltLayer(call=lambda x, *initial: unroll(step, x, spec, initial), bindings=bindings,
                      implementation="composite", module=link,
                      detail=f"reset-after GRU cell from F.linear and activations on chainer.links.NStepGRU's "
                             f"parameters ({described}): NStepGRU is fixed to sigmoid gates and tanh")


def gru_reset_before(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    link = L.StatelessGRU(features, u)
    for recurrent in (link.U_r, link.U_z, link.U):
        remove_bias(recurrent, "b")
        recurrent.b = None  # L.Linear without a bias, as if built with nobias=True
    bindings = []
    for gate_name, (W, U) in {"r": (link.W_r, link.U_r), "z": (link.W_z, link.U_z), "h": (link.W, link.U)}.items():
        only, negate = (gate_name,), gate_name == "z"
        names = {"r": ("W_r", "U_r"), "z": ("W_z", "U_z"), "h": ("W", "U")}[gate_name]
        bindings += [
            WeightBinding("kernel", W.W, f"StatelessGRU.{names[0]}.W",
                          gate_transform(GRU_PER_GATE, u, (features, 3 * u), gates=only, negate=negate)),
            WeightBinding("recurrent_kernel", U.W, f"StatelessGRU.{names[1]}.W",
                          gate_transform(GRU_PER_GATE, u, (u, 3 * u), gates=only, negate=negate)),
            WeightBinding("bias", W.b, f"StatelessGRU.{names[0]}.b",
                          gate_transform(GRU_PER_GATE, u, (3 * u,), gates=only, negate=negate)),
        ]
    removed = f"U_r.b, U_z.b and U.b {REMOVED_BIAS}"
    # An unmodified StatelessGRU's U biases add to the same pre-activations as the W biases
    # (U.b outside r * (...): U(r h) = (r h) U.W^T + U.b), so a checkpoint's values fold into
    # the canonical bias through the W biases' transforms, z negated alike.
    held = [HeldTensor(f"{U}/b", None, f"removed from the link: Keras' reset-before GRU has one bias; "
                                       f"a checkpoint's {U}.b adds to {W}.b",
                       fold=WeightBinding("bias", None, f"StatelessGRU.{U}.b", gate_transform(
                           GRU_PER_GATE, u, (3 * u,), gates=(g,), negate=g == "z",
                           intro=f"added to {W}.b (the link adds both)")))
            for g, W, U in (("r", "W_r", "U_r"), ("z", "W_z", "U_z"), ("h", "W", "U"))]
    if spec.standard_cell:
        return BuiltLayer(call=lambda x, *initial: unroll(lambda x_t, h: link(h, x_t), x, spec, initial),
                          bindings=bindings, module=link, held=held,
                          detail="chainer.links.StatelessGRU, reset-before, one step at a time; its z is "
                                 "Keras' 1 - z, so the z weights and bias are stored negated; " + removed
                                 + states_note(spec, "StatelessGRU(h, x)'s h", "its last h"))
    act, gate, described = ctx.cell_activations(spec)

    def step(x_t, h):
        r = gate(link.W_r(x_t) + link.U_r(h))
        z = gate(-(link.W_z(x_t) + link.U_z(h)))  # Keras' z: the link holds it negated
        h_bar = act(link.W(x_t) + link.U(r * h))
        return z * h + (1 - z) * h_bar

    return BuiltLayer(call=lambda x, *initial: unroll(step, x, spec, initial), bindings=bindings,
                      implementation="composite", module=link, held=held,
                      detail=f"reset-before GRU cell from the Linear links of chainer.links.StatelessGRU "
                             f"({described}; z weights stored negated as for the native link): "
                             f"StatelessGRU is fixed to sigmoid gates and tanh; {removed}")


NSTEP_RNN = {"tanh": L.NStepRNNTanh, "relu": L.NStepRNNReLU}


@builders.register("SimpleRNN")
@reversible
def simple_rnn(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    link_class = NSTEP_RNN.get(spec.activation.name, L.NStepRNNTanh)
    link = link_class(1, features, u, 0.0)
    link.bs[0][1] = remove_bias(link[0], "b1")
    (W_x, W_h), (b_x, _) = link.ws[0], link.bs[0]
    name = link_class.__name__
    bindings = [
        WeightBinding("kernel", W_x, f"{name}.ws[0][0]", gate_transform(SINGLE, u, (features, u))),
        WeightBinding("recurrent_kernel", W_h, f"{name}.ws[0][1]", gate_transform(SINGLE, u, (u, u))),
        WeightBinding("bias", b_x, f"{name}.bs[0][0]", gate_transform(SINGLE, u, (u,))),
    ]
    removed = "bs[0][1] removed, a constant zero in its place: Keras has one bias"
    held = [HeldTensor("0/b1", None, "removed from the link: Keras has one bias; a checkpoint's b1 adds to "
                                     "b0, as the link adds both",
                       fold=WeightBinding("bias", None, f"{name}.bs[0][1]", gate_transform(
                           SINGLE, u, (u,), intro="added to bs[0][0] (the link adds both)")))]
    if spec.activation.name in NSTEP_RNN:
        return BuiltLayer(call=lambda x, *initial: over_sequences(link, x, spec, initial), bindings=bindings,
                          module=link, held=held, detail=f"chainer.links.{name}(n_layers=1, dropout=0); {removed}"
                                                         + states_note(spec, "hx", "hy"))
    act, _, described = ctx.cell_activations(spec)
    return BuiltLayer(
        call=lambda x, *initial: unroll(lambda x_t, h: act(F.linear(x_t, W_x, b_x) + F.linear(h, W_h)), x, spec,
                                        initial),
        bindings=bindings, implementation="composite", module=link, held=held,
        detail=f"Elman cell from F.linear and {described} on chainer.links.{name}'s parameters: "
               f"NStepRNN takes only tanh or relu; {removed}")


@builders.register("Bidirectional")
def bidirectional(spec, ctx) -> BuiltLayer:
    """Two links, each as the wrapped kind's builder makes it (the backward one with
    go_backwards negated: F.flip in front), in a Chain `forward_layer`/`backward_layer`, and Keras' merge;
    an LSTM naming NStepLSTM is one L.NStepBiLSTM where it can be (native_bidirectional)."""
    native = native_bidirectional(spec, ctx)
    if native is not None:
        return native
    parts = bi.build_directions(builders, spec, ctx)
    chain = chainer.Chain()
    with chain.init_scope():
        chain.forward_layer = parts[0].module
        chain.backward_layer = parts[1].module
    bindings, held = bi.combined(parts, "/")
    implementation, detail = bi.describe(spec, parts, "chainer.Chain", "chainer has no Bidirectional wrapper")
    return BuiltLayer(call=bi.merged(spec, parts[0].call, parts[1].call, lambda y: F.flip(y, 1),
                                     lambda a, b: F.concat([a, b], axis=-1)),
                      bindings=bindings, held=held, implementation=implementation, detail=detail, module=chain)


def native_bidirectional(spec, ctx) -> BuiltLayer | None:
    """L.NStepBiLSTM (chainer/links/rnn/n_step_lstm.py) for a wrapped LSTM with chainer_link
    NStepLSTM, merge_mode concat, reading forwards, with the standard cell: ws[0] / bs[0] are
    the forward direction, ws[1] / bs[1] the backward one (n_step_rnn's layer * 2 + direction),
    each laid out as NStepLSTM's. Its ys are [forward, backward] per step with the backward
    half already in forward time (Keras' flipped backward output); without return_sequences
    Keras takes each direction's final state: hy[0] (after step T-1) and hy[1] (after step 0)."""
    inner = spec.layer
    if (inner.type != "LSTM" or inner.chainer_link != "NStepLSTM" or spec.merge_mode != "concat"
            or inner.go_backwards or not inner.standard_cell):
        return None
    features, u = ctx.input_shapes[0][-1], inner.units
    link = L.NStepBiLSTM(1, features, u, 0.0)
    bindings, held = [], []
    for index, direction in enumerate(bi.DIRECTIONS):
        part_bindings, part_held = nstep_lstm_parameters(inner, ctx, link, index, "NStepBiLSTM")
        bindings += [replace(b, parameter=f"{direction}/{b.parameter}") for b in part_bindings]
        held += [replace(h, fold=replace(h.fold, parameter=f"{direction}/{h.fold.parameter}")) for h in part_held]

    def call(x):
        hy, _, ys = link(None, None, list(F.separate(x, axis=0)))
        if inner.return_sequences:
            return F.stack(ys, axis=0)
        return F.concat([hy[0], hy[1]], axis=-1)

    return BuiltLayer(call=call, bindings=bindings, held=held, module=link,
                      detail="chainer.links.NStepBiLSTM(n_layers=1, dropout=0): ws[0] forward, ws[1] backward, "
                             "gates w0..w3 = i, f, c, o; output halves [forward, backward], the backward already "
                             "in forward time; bs[d][4..7] removed, constant zeros: Keras has one bias per gate")


@imports.register(L.LSTM, produces=("LSTM",), per_step=True)
def import_lstm(link, shape, reasons) -> list[dict]:
    """L.LSTM (chainer/links/rnn/lstm.py) keeps h and c between calls, one call per time step:
    the tracer (trace.py) hands over the whole sequence's shape (time, features) once the calls
    step over x[:, t] from reset_state(). Its parameters are L.StatelessLSTM's (upward with the
    bias, lateral without), the link this package's LSTM builder uses, under the same names;
    the first step's lateral term is skipped (h is None), which a zero state gives too. F.lstm
    is fixed to sigmoid gates and tanh: the case's defaults."""
    if len(shape) != 2:
        reasons.append("L.LSTM steps one time step per call: only a loop over x[:, t] in a Chain's own "
                       "forward is imported as an LSTM layer")
    return [{"type": "LSTM", "units": link.state_size, "return_sequences": False, "chainer_link": "LSTM"}]


# Defaults. The links are fixed to their gates (no parameter): probes on fresh links say which.
# Sources: chainer/links/rnn/lstm.py, n_step_lstm.py, gru.py (reset-before, z flipped) and
# n_step_gru.py (reset-after).

def lstm_link(b: float) -> float:
    """L.LSTM: upward (with bias) on x, lateral (no bias) on h; gates interleaved per unit."""
    link = L.LSTM(1, 1)
    link.upward.W.array[...] = 0.0
    link.upward.b.array[...] = b
    link.lateral.W.array[...] = 0.0
    return float(link(np.zeros((1, 1), dtype=np.float32)).array[0, 0])


def nstep_lstm(b: float) -> float:
    """L.NStepLSTM: ws[0][0..3] act on x, [4..7] on h; bs[0] likewise (two biases per gate)."""
    with chainer.using_config("dtype", np.float64):
        link = L.NStepLSTM(1, 1, 1, 0.0)
    for index in range(8):
        link.ws[0][index].array[...] = 0.0
        link.bs[0][index].array[...] = b if index < 4 else 0.0
    _, _, ys = link(None, None, [np.zeros((1, 1))])
    return float(ys[0].array[0, 0])


@cache
@keeps_rng
def lstm_probes() -> dict:
    # L.LSTM computes in float32 (its parameters' dtype); the candidates differ far more than that.
    return {api: probes.lstm_activations(tuple(run(b) for b in probes.LSTM_PROBE_BIASES))
            for api, run in (("chainer.links.NStepLSTM", nstep_lstm), ("chainer.links.LSTM", lstm_link))}


def lstm_readings(index: int) -> list[Reading]:
    return [Reading(api, "", None, "fixed (no parameter); probe", found[index], probe=found[2],
                    used=api == "chainer.links.NStepLSTM")
            for api, found in lstm_probes().items()]


@readers.register("LSTM.activation")
def read_lstm_activation(context):
    return lstm_readings(0)


@readers.register("LSTM.recurrent_activation")
def read_lstm_recurrent_activation(context):
    return lstm_readings(1)


def stateless_gru(h0: float, w: float, b: float) -> float:
    """L.StatelessGRU: six Linear links W_r, U_r, W_z, U_z, W, U (chainer/links/rnn/gru.py)."""
    with chainer.using_config("dtype", np.float64):
        link = L.StatelessGRU(1, 1)
    for name, parameter in link.namedparams():
        recurrent = name.startswith("/U")
        parameter.array[...] = (w if name.endswith("/W") else b) if recurrent else 0.0
    return float(link(f64([[h0]]), f64([[0.0]])).array[0, 0])


def nstep_gru(h0: float, w: float, b: float) -> float:
    """L.NStepGRU: ws[0][0..2] act on x, [3..5] on h; bs[0] likewise."""
    with chainer.using_config("dtype", np.float64):
        link = L.NStepGRU(1, 1, 1, 0.0)
    for index in range(6):
        link.ws[0][index].array[...] = w if index >= 3 else 0.0
        link.bs[0][index].array[...] = b if index >= 3 else 0.0
    _, ys = link(f64([[[h0]]]), [f64([[0.0]])])
    return float(ys[0].array[0, 0])


@cache
@keeps_rng
def gru_probes() -> dict:
    return {api: probes.gru_formula(tuple(run(*point) for point in probes.GRU_PROBE_POINTS))
            for api, run in (("chainer.links.NStepGRU", nstep_gru), ("chainer.links.StatelessGRU", stateless_gru))}


def gru_readings(field: str) -> list[Reading]:
    found = []
    for api, (formula, probe) in gru_probes().items():
        value = formula[field] if formula else None
        meaning = probes.RESET_MEANINGS[value] if field == "reset_after" and formula else ""
        found.append(Reading(api, "", None, "fixed (no parameter); probe", value, meaning, probe,
                             used=api == "chainer.links.NStepGRU"))
    return found


@readers.register("GRU.activation")
def read_gru_activation(context):
    return gru_readings("activation")


@readers.register("GRU.recurrent_activation")
def read_gru_recurrent_activation(context):
    return gru_readings("recurrent_activation")


@readers.register("GRU.reset_after")
def read_gru_reset_after(context):
    return gru_readings("reset_after")


@readers.register("GRU.update_gate")
def read_gru_update_gate(context):
    return gru_readings("update")
