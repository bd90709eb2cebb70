"""chainer builders for LSTM, GRU and SimpleRNN.

Each uses the chainer link whose parameters best match Keras', and says how they are laid out
(read from the installed chainer 7.8.1 source):

* LSTM -> L.StatelessLSTM (chainer/links/rnn/lstm.py): `upward` Linear(in, 4u) with the one
  bias, `lateral` Linear(u, 4u) without bias, as Keras. F.lstm (chainer/functions/rnn/lstm.py,
  `_extract_gates`) reshapes the pre-activations to (batch, u, 4), so row 4 j + k of upward.W
  is gate k of unit j, gates in the order (a, i, f, o), a being Keras' cell candidate c: the
  gates are interleaved per unit, not blocked. (L.NStepLSTM would need eight biases, four held
  at zero; its docstring, chainer/functions/rnn/n_step_lstm.py, gives W2 to the output gate
  and W3 to the candidate, while `_lstm` feeds W2 to the candidate and W3 to the output gate:
  its order is i, f, c, o, as Keras.)
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
    features, u = ctx.input_shapes[0][-1], spec.units
    link = L.StatelessLSTM(features, u)
    bindings = [
        WeightBinding("kernel", link.upward.W, "StatelessLSTM.upward.W",
                      gate_transform(LSTM_INTERLEAVED, u, (features, 4 * u))),
        WeightBinding("recurrent_kernel", link.lateral.W, "StatelessLSTM.lateral.W",
                      gate_transform(LSTM_INTERLEAVED, u, (u, 4 * u))),
        WeightBinding("bias", link.upward.b, "StatelessLSTM.upward.b",
                      gate_transform(LSTM_INTERLEAVED, u, (4 * u,))),
    ]
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

    return BuiltLayer(call=composite, bindings=bindings, implementation="composite", module=link,
                      detail=f"LSTM cell from F.linear and activations on chainer.links.StatelessLSTM's "
                             f"parameters ({described}): F.lstm is fixed to sigmoid gates and tanh")


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
    go_backwards negated: F.flip in front), in a Chain `forward_layer`/`backward_layer`, and Keras' merge.
    (L.NStepBiLSTM computes the concat form too, but with eight biases per direction and the
    gate order of n_step_lstm; the two single-direction links keep one layout.)"""
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
    return [{"type": "LSTM", "units": link.state_size, "return_sequences": False}]


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
