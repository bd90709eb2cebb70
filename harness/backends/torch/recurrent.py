"""torch builders for LSTM, GRU and SimpleRNN.

torch's recurrent modules (torch/nn/modules/rnn.py) differ from Keras in three ways:

* weights are (gates * units, in) with the gates along the rows: transposed;
* two biases, `bias_ih` and `bias_hh`, added together. Keras' LSTM and SimpleRNN (and its GRU
  with reset_after false) have one, so `bias_hh` is held at zero and frozen
  (requires_grad=False): a trainable copy would take the same gradient as `bias_ih` and a
  training step would move the effective bias twice. Keras' reset-after GRU has two biases,
  which map onto torch's two;
* nn.LSTM's gates come in rows [i, f, g, o] (g is Keras' c), nn.GRU's in rows [r, z, n] where
  Keras has columns [z, r, h]: reordered.

Inputs are (batch, time, features), so every module is built with batch_first=True (the default
is time first). The native cells are fixed to sigmoid gates and a tanh candidate (nn.RNN: tanh
or relu), and nn.GRU computes the reset-after form only. Other settings are built from torch
primitives (F.linear and the activations) on the same module's parameters, so the weight
layout, and the mapping, stay those of the native module; the layer is then marked composite.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from functools import cache
from typing import Callable

import torch
import torch.nn.functional as F

from harness.backends import bidirectional as bi
from harness.backends.base import BuiltLayer, HeldTensor, WeightBinding
from harness.backends.gates import GateLayout, gate_transform
from harness.backends.torch.defaults.probing import F64, keeps_rng
from harness.backends.torch.registry import REGISTRY
from harness.case.imported_model import ImportProblem
from harness.defaults import probes
from harness.defaults.reading import Reading
from harness.reference.layers.recurrent import GRU, LSTM

builders = REGISTRY.layers
nn = torch.nn

LSTM_ROWS = GateLayout(LSTM.gates, ("i", "f", "c", "o"), transposed=True, native_names={"c": "g"})
"""nn.LSTM: weight_ih_l0 rows [i, f, g, o] (torch/nn/modules/rnn.py, LSTM docstring), Keras'
column order, transposed."""
GRU_ROWS = GateLayout(GRU.gates, ("r", "z", "h"), transposed=True, native_names={"h": "n"})
"""nn.GRU: weight_ih_l0 rows [r, z, n] (torch/nn/modules/rnn.py, GRU docstring); Keras has
columns [z, r, h]: r and z swap."""
SINGLE = GateLayout(("h",), ("h",), transposed=True)

FROZEN = "bias_hh_l0 frozen at zero (requires_grad=False): Keras has one bias"


def freeze_at_zero(parameter: torch.nn.Parameter) -> None:
    with torch.no_grad():
        parameter.zero_()
    parameter.requires_grad_(False)


def bind(spec, ctx, module, layout: GateLayout, *, two_biases: bool, suffix: str = "") -> list[WeightBinding]:
    """kernel -> weight_ih_l0, recurrent_kernel -> weight_hh_l0, bias -> bias_ih_l0 (and, for a
    canonical bias (2, 3u), its second row -> bias_hh_l0). `suffix` `_reverse` names the
    reverse direction's tensors of a bidirectional module."""
    features, u = ctx.input_shapes[0][-1], spec.units
    width = len(spec.gates) * u
    kind = type(module).__name__

    def tensor(name):
        return getattr(module, name + suffix), f"{kind}.{name}{suffix}"

    bindings = [
        WeightBinding("kernel", *tensor("weight_ih_l0"), gate_transform(layout, u, (features, width))),
        WeightBinding("recurrent_kernel", *tensor("weight_hh_l0"), gate_transform(layout, u, (u, width))),
    ]
    if two_biases:
        bindings += [
            WeightBinding("bias", *tensor("bias_ih_l0"),
                          gate_transform(layout, u, (2, width), row=0, intro="the input bias")),
            WeightBinding("bias", *tensor("bias_hh_l0"),
                          gate_transform(layout, u, (2, width), row=1, intro="the recurrent bias")),
        ]
    else:
        bindings.append(WeightBinding("bias", *tensor("bias_ih_l0"), gate_transform(layout, u, (width,))))
    return bindings


def held_second_bias(spec, ctx, module, layout: GateLayout, *, folds: bool, suffix: str = "") -> list[HeldTensor]:
    """bias_hh_l0 where Keras has one bias: frozen at zero in the harness's model. The native
    cell adds it to bias_ih_l0 before every gate, so a checkpoint's value (a torch model
    trains both) folds into the canonical bias through the same gate layout; where the case's
    cell does not add it (the reset-before GRU), it must be zero."""
    u = spec.units
    width = len(spec.gates) * u
    kind = type(module).__name__
    name = "bias_hh_l0" + suffix
    if not folds:
        return [HeldTensor(name, getattr(module, name), "unused by the reset-before cell (nn.GRU's "
                           "recurrent bias sits inside r * (...), which Keras' reset-before GRU does not "
                           "have): must be zero")]
    fold = WeightBinding("bias", getattr(module, name), f"{kind}.{name}",
                         gate_transform(layout, u, (width,), intro=f"added to bias_ih_l0{suffix} (torch adds both)"))
    return [HeldTensor(name, getattr(module, name), "frozen at zero in the harness: Keras has one bias",
                       fold=fold)]


def unroll(step: Callable, projected: torch.Tensor, spec, initial: tuple = (), cell_state: bool = False):
    """Run `step(projected input at t, h, [c]) -> h[, c]` over the time axis from the initial
    states given (Keras' order h, c), else zeros; the layer's output(s) as `with_states` says."""
    h = projected.new_zeros(projected.shape[0], spec.units)
    state = tuple(initial) or ((h, torch.zeros_like(h)) if cell_state else (h,))
    outputs = []
    for t in range(projected.shape[1]):
        state = step(projected[:, t], *state)
        state = state if isinstance(state, tuple) else (state,)
        outputs.append(state[0])
    return with_states(spec, torch.stack(outputs, dim=1) if spec.return_sequences else outputs[-1], state)


def last_or_all(output: torch.Tensor, return_sequences: bool) -> torch.Tensor:
    return output if return_sequences else output[:, -1]


def with_states(spec, output, final: tuple):
    """The output, and with return_state the final states after it: Keras' [output, h(, c)]."""
    return (output, *final) if spec.return_state else output


def native_call(module, spec, cell_state: bool) -> Callable:
    """Call nn.LSTM / nn.GRU / nn.RNN on (x, *initial states): torch takes them as
    hx = (h0, c0) for nn.LSTM and h0 for the others, each (num_layers, batch, units) whatever
    batch_first says (torch/nn/modules/rnn.py), and returns (output, h_n) or (output, (h_n, c_n))
    with the same leading layer axis: added and removed here."""
    def call(x, *initial):
        hx = None
        if initial:
            states = tuple(state.unsqueeze(0) for state in initial)
            hx = states if cell_state else states[0]
        output, state = module(x, hx)
        final = tuple(s[0] for s in (state if cell_state else (state,)))
        return with_states(spec, last_or_all(output, spec.return_sequences), final)
    return call


def states_note(spec) -> str:
    notes = ["initial states as hx"] * spec.initial_state + ["final states from h_n (and c_n)"] * spec.return_state
    return "".join(f"; {note}" for note in notes)




def reversible(builder: Callable) -> Callable:
    """Wrap a recurrent builder so that `go_backwards` reverses the input's time axis (torch.flip)
    before the layer and nothing after it: Keras' go_backwards returns the outputs in the order
    it computed them, the reversed one (harness/reference/layers/recurrent.py), and the native module has
    no such option, so the layer is then composite."""
    @functools.wraps(builder)
    def build(spec, ctx) -> BuiltLayer:
        built = builder(spec, ctx)
        if not spec.go_backwards:
            return built
        forward_in_time = built.call
        built.call = lambda x, *states: forward_in_time(torch.flip(x, dims=(1,)), *states)
        built.implementation = "composite"
        built.detail = (f"torch.flip over time into {built.detail}; the output is not flipped back "
                        f"(Keras' go_backwards)")
        return built
    return build


@builders.register("LSTM")
@reversible
def lstm(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    module = torch.nn.LSTM(features, u, batch_first=True, dtype=getattr(torch, ctx.dtype))
    freeze_at_zero(module.bias_hh_l0)
    bindings = bind(spec, ctx, module, LSTM_ROWS, two_biases=False)
    held = held_second_bias(spec, ctx, module, LSTM_ROWS, folds=True)
    if spec.standard_cell:
        return BuiltLayer(call=native_call(module, spec, cell_state=True), held=held, bindings=bindings,
                          detail=f"torch.nn.LSTM(batch_first=True); {FROZEN}{states_note(spec)}", module=module)
    act, gate, described = ctx.cell_activations(spec)

    def step(z, h, c):
        z = z + F.linear(h, module.weight_hh_l0)
        i, f, g, o = z.chunk(4, dim=1)  # torch's row order [i, f, g, o]
        c = gate(f) * c + gate(i) * act(g)
        return gate(o) * act(c), c

    def call(x, *initial):
        return unroll(step, F.linear(x, module.weight_ih_l0, module.bias_ih_l0), spec, initial, cell_state=True)

    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=module, held=held,
                      detail=f"LSTM cell from F.linear and activations on torch.nn.LSTM's parameters "
                             f"({described}): nn.LSTM is fixed to sigmoid gates and tanh; {FROZEN}")


@builders.register("GRU")
@reversible
def gru(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    module = torch.nn.GRU(features, u, batch_first=True, dtype=getattr(torch, ctx.dtype))
    if not spec.reset_after:
        freeze_at_zero(module.bias_hh_l0)
    bindings = bind(spec, ctx, module, GRU_ROWS, two_biases=spec.reset_after)
    held = [] if spec.reset_after else held_second_bias(spec, ctx, module, GRU_ROWS, folds=False)
    if spec.reset_after and spec.standard_cell:
        return BuiltLayer(call=native_call(module, spec, cell_state=False), bindings=bindings, module=module,
                          detail=f"torch.nn.GRU(batch_first=True), reset-after{states_note(spec)}")
    act, gate, described = ctx.cell_activations(spec)
    W_hh = module.weight_hh_l0

    def step_after(a, h):
        x_r, x_z, x_n = a.chunk(3, dim=1)  # torch's row order [r, z, n]
        h_r, h_z, h_n = F.linear(h, W_hh, module.bias_hh_l0).chunk(3, dim=1)
        r, z = gate(x_r + h_r), gate(x_z + h_z)
        return z * h + (1 - z) * act(x_n + r * h_n)

    def step_before(a, h):
        x_r, x_z, x_n = a.chunk(3, dim=1)
        h_r, h_z = F.linear(h, W_hh[:2 * u]).chunk(2, dim=1)
        r, z = gate(x_r + h_r), gate(x_z + h_z)
        return z * h + (1 - z) * act(x_n + F.linear(r * h, W_hh[2 * u:]))

    def call(x, *initial):
        return unroll(step_after if spec.reset_after else step_before,
                      F.linear(x, module.weight_ih_l0, module.bias_ih_l0), spec, initial)

    if spec.reset_after:
        why = "nn.GRU is fixed to sigmoid gates and tanh"
    else:
        why = ("nn.GRU has only the reset-after form; bias_hh_l0 unused and frozen at zero "
               "(requires_grad=False): reset-before has no recurrent bias")
    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=module, held=held,
                      detail=f"GRU cell, reset-{'after' if spec.reset_after else 'before'}, from F.linear and "
                             f"activations on torch.nn.GRU's parameters ({described}): {why}")


NATIVE_RNN = {"tanh": "tanh", "relu": "relu"}
"""nn.RNN's `nonlinearity` choices (torch/nn/modules/rnn.py)."""


@builders.register("SimpleRNN")
@reversible
def simple_rnn(spec, ctx) -> BuiltLayer:
    features, u = ctx.input_shapes[0][-1], spec.units
    nonlinearity = NATIVE_RNN.get(spec.activation.name, "tanh")
    module = torch.nn.RNN(features, u, nonlinearity=nonlinearity, batch_first=True,
                          dtype=getattr(torch, ctx.dtype))
    freeze_at_zero(module.bias_hh_l0)
    bindings = bind(spec, ctx, module, SINGLE, two_biases=False)
    held = held_second_bias(spec, ctx, module, SINGLE, folds=True)
    if spec.activation.name in NATIVE_RNN:
        return BuiltLayer(call=native_call(module, spec, cell_state=False), held=held, bindings=bindings,
                          module=module, detail=f"torch.nn.RNN(nonlinearity={nonlinearity!r}, batch_first=True); "
                                                f"{FROZEN}{states_note(spec)}")
    act, _, described = ctx.cell_activations(spec)

    def call(x, *initial):
        return unroll(lambda a, h: act(a + F.linear(h, module.weight_hh_l0)),
                      F.linear(x, module.weight_ih_l0, module.bias_ih_l0), spec, initial)

    return BuiltLayer(call=call, bindings=bindings, implementation="composite", module=module, held=held,
                      detail=f"Elman cell from F.linear and {described} on torch.nn.RNN's parameters: "
                             f"nn.RNN takes only tanh or relu; {FROZEN}")


@builders.register("Bidirectional")
def bidirectional(spec, ctx) -> BuiltLayer:
    """Two modules, each as the wrapped kind's builder makes it (the backward one with
    go_backwards negated: torch.flip in front), in an nn.ModuleDict `forward_layer`/`backward_layer`, and
    Keras' merge. nn.LSTM(bidirectional=True) computes the concat form natively; see
    native_bidirectional."""
    native = native_bidirectional(spec, ctx)
    if native is not None:
        return native
    parts = bi.build_directions(builders, spec, ctx)
    container = torch.nn.ModuleDict({bi.CHILDREN[d]: part.module for d, part in zip(bi.DIRECTIONS, parts)})
    bindings, held = bi.combined(parts, ".")
    implementation, detail = bi.describe(spec, parts, "nn.ModuleDict", "torch's bidirectional modules "
                                         "concatenate only")
    return BuiltLayer(call=bi.merged(spec, parts[0].call, parts[1].call, lambda y: torch.flip(y, dims=(1,)),
                                     lambda a, b: torch.cat([a, b], dim=-1)),
                      bindings=bindings, held=held, implementation=implementation, detail=detail,
                      module=container)


def native_bidirectional(spec, ctx) -> BuiltLayer | None:
    """nn.LSTM / nn.GRU / nn.RNN(bidirectional=True) where it computes Keras' wrapper: merge_mode
    concat, a forward wrapped layer, and a cell the module computes natively. Its reverse
    direction has its own tensors (weight_ih_l0_reverse, ...; torch/nn/modules/rnn.py), and its
    output's second half at step t is the reverse direction's state after reading steps T-1 .. t:
    already aligned to forward time, which is Keras' flipped backward output. The last state is
    h_n's two directions (h_n[0] forward, after step T-1; h_n[1] reverse, after step 0),
    concatenated, as Keras' backward layer's last output is its state after step 0."""
    inner = spec.layer
    native = NATIVE_BIDIRECTIONAL.get(inner.type)
    if spec.merge_mode != "concat" or inner.go_backwards or native is None or not native[1](inner):
        return None
    module_class, _, layout, two_biases = native
    features, u = ctx.input_shapes[0][-1], inner.units
    options = {"nonlinearity": inner.activation.name} if inner.type == "SimpleRNN" else {}
    module = module_class(features, u, batch_first=True, bidirectional=True, dtype=getattr(torch, ctx.dtype),
                          **options)
    bindings, held = [], []
    for direction, suffix in (("forward", ""), ("backward", "_reverse")):
        if not two_biases:
            freeze_at_zero(getattr(module, "bias_hh_l0" + suffix))
            held += [replace(h, fold=replace(h.fold, parameter=f"{direction}/{h.fold.parameter}"))
                     for h in held_second_bias(inner, ctx, module, layout, folds=True, suffix=suffix)]
        bindings += [replace(b, parameter=f"{direction}/{b.parameter}")
                     for b in bind(inner, ctx, module, layout, two_biases=two_biases, suffix=suffix)]

    def call(x):
        output, state = module(x)
        if inner.return_sequences:
            return output
        h_n = state[0] if isinstance(state, tuple) else state  # nn.LSTM: (h_n, c_n)
        return torch.cat([h_n[0], h_n[1]], dim=-1)

    frozen = "" if two_biases else "; bias_hh_l0 and bias_hh_l0_reverse frozen at zero: Keras has one bias"
    return BuiltLayer(call=call, bindings=bindings, held=held, module=module,
                      detail=f"torch.nn.{module_class.__name__}(bidirectional=True, batch_first=True{''.join(f', {k}={v!r}' for k, v in options.items())}): "
                             f"output halves [forward, reverse], the reverse already in forward time{frozen}")


NATIVE_BIDIRECTIONAL = {
    # wrapped kind: (module, does it compute this cell natively, gate layout, two biases)
    "LSTM": (torch.nn.LSTM, lambda spec: spec.standard_cell, LSTM_ROWS, False),
    "GRU": (torch.nn.GRU, lambda spec: spec.reset_after and spec.standard_cell, GRU_ROWS, True),
    "SimpleRNN": (torch.nn.RNN, lambda spec: spec.activation.name in NATIVE_RNN, SINGLE, False),
}


# --- import translations (torch/nn/modules/rnn.py: LSTM, GRU) ------------------------------

def module_translation(kind: str) -> Callable:
    """One forward layer, batch_first, with biases: the case's layer with every step's output
    (`return_sequences`; `out[:, -1]` after it turns that off, see `last_step`). The
    weights stay the state_dict's: the case's torch mapping reorders nn.LSTM's [i, f, g, o] and
    nn.GRU's [r, z, n] rows and folds bias_hh_l0 into the case's bias (harness/weights/native_weights.py).
    nn.GRU computes the reset-after form only."""
    def translate(m, reasons) -> dict:
        if not m.batch_first:
            reasons.append("batch_first=False: time-major input; the case's sequences are (batch, time, features)")
        if m.num_layers != 1:
            reasons.append(f"num_layers={m.num_layers}: stacked layers in one module; write one module per layer")
        if getattr(m, "proj_size", 0):
            reasons.append(f"proj_size={m.proj_size}: a projected LSTM")
        if not m.bias:
            reasons.append("bias=False: the case's recurrent layers have a bias")
        spec = {"type": kind, "units": m.hidden_size, "return_sequences": True}
        spec = {**spec, "reset_after": True} if kind == "GRU" else spec
        if m.bidirectional:
            # The output [forward, reverse], the reverse half in forward time: Keras'
            # Bidirectional concat with return_sequences (harness/reference/layers/bidirectional.py).
            return {"type": "Bidirectional", "layer": spec, "merge_mode": "concat"}
        return spec
    return translate


LAST_STEP = [(slice(None), -1), (slice(None), -1, slice(None)), (slice(None), -1, Ellipsis)]
"""`out[:, -1]` and its spellings on a batch_first sequence: the last step."""


def last_step(node, source, source_name: str, layer: dict, problems: list) -> bool:
    """`out[:, -1]` on the sequence of `out, _ = self.lstm(x)` (the importer reads the tuple,
    harness/backends/torch/importer.py `tuple_getitem`), its only use: the last step, which is the
    case layer with return_sequences false (the same value: a forward recurrence's last output).
    The sequence also used whole is a problem; so is `out[:, -1]` of a bidirectional module
    (`bidirectional=True` is the case's Bidirectional concat), whose reverse half at the last
    step is not the reverse direction's final state. False: not this indexing."""
    index = node.args[1]
    label = f"getitem {index!r}"
    if index not in LAST_STEP:
        return False
    if layer["type"] == "Bidirectional":
        problems.append(ImportProblem(source_name, label, "the last step of a bidirectional output: "
                                      "its reverse half there has read only that step (Keras' Bidirectional "
                                      "without return_sequences takes the reverse direction's state after "
                                      "step 0, h_n[1]); the case has no slice layer for it"))
    elif len(source.users) == 1:
        layer["return_sequences"] = False
    else:
        problems.append(ImportProblem(source_name, label, "the last step of a sequence that is also "
                                      "used whole; the case's layer outputs one or the other"))
    return True


FINAL_STATES = ("uses the final states of a bidirectional module; the importer reads h_n[-1] / h_n[0] "
                "(and c_n's) of a one-direction nn.LSTM / nn.GRU only (importer.py final_state)")
REGISTRY.imports.register(nn.LSTM, produces=("LSTM", "Bidirectional"), others_used=FINAL_STATES,
                          indexing=last_step)(module_translation("LSTM"))
REGISTRY.imports.register(nn.GRU, produces=("GRU", "Bidirectional"), others_used=FINAL_STATES,
                          indexing=last_step)(module_translation("GRU"))


# --- defaults: nn.LSTM and nn.GRU have no activation arguments (torch/nn/modules/rnn.py); probes
# find their formulas -------------------------------------------------------------------------

@cache
@keeps_rng
def lstm_probe() -> tuple:
    """nn.LSTM has no activation arguments (torch/nn/modules/rnn.py): the probe finds them."""
    outputs = []
    for b in probes.LSTM_PROBE_BIASES:
        module = torch.nn.LSTM(1, 1, dtype=F64)
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                # b_ih = b, everything else 0: every gate's total bias is b.
                parameter.fill_(b if name.startswith("bias_ih") else 0.0)
            output, _ = module(torch.zeros(1, 1, 1, dtype=F64))  # (steps, batch, features)
        outputs.append(output.item())
    return probes.lstm_activations(tuple(outputs))


@REGISTRY.defaults.register("LSTM.activation")
def lstm_activation(context):
    act, _, probe = lstm_probe()
    return [Reading("torch.nn.LSTM", "", None, "fixed (no parameter); probe", act, probe=probe, used=True)]


@REGISTRY.defaults.register("LSTM.recurrent_activation")
def lstm_recurrent_activation(context):
    _, rec, probe = lstm_probe()
    return [Reading("torch.nn.LSTM", "", None, "fixed (no parameter); probe", rec, probe=probe, used=True)]


@cache
@keeps_rng
def gru_probe() -> tuple:
    """nn.GRU is reset-after with fixed activations (torch/nn/modules/rnn.py): the probe shows it."""
    outputs = []
    for h0, w, b in probes.GRU_PROBE_POINTS:
        module = torch.nn.GRU(1, 1, dtype=F64)
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                value = {"weight_hh": w, "bias_hh": b}.get(name.rsplit("_", 1)[0], 0.0)
                parameter.fill_(value)
            output, _ = module(torch.zeros(1, 1, 1, dtype=F64), torch.full((1, 1, 1), h0, dtype=F64))
        outputs.append(output.item())
    return probes.gru_formula(tuple(outputs))


def gru_reading(field: str, parameter: str = "") -> Reading:
    formula, probe = gru_probe()
    value = formula[field] if formula else None
    meaning = probes.RESET_MEANINGS[value] if field == "reset_after" and formula else ""
    return Reading("torch.nn.GRU", parameter, None, "fixed (no parameter); probe", value, meaning, probe, used=True)


@REGISTRY.defaults.register("GRU.activation")
def gru_activation(context):
    return [gru_reading("activation")]


@REGISTRY.defaults.register("GRU.recurrent_activation")
def gru_recurrent_activation(context):
    return [gru_reading("recurrent_activation")]


@REGISTRY.defaults.register("GRU.reset_after")
def gru_reset_after(context):
    return [gru_reading("reset_after")]


@REGISTRY.defaults.register("GRU.update_gate")
def gru_update_gate(context):
    return [gru_reading("update")]
