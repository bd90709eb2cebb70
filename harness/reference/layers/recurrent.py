"""Recurrent layers: LSTM, GRU (both formulations) and SimpleRNN, with backprop through time.

Input (batch, time, features), batch first as in Keras; the initial state is zero; the output is
the last hidden state (batch, units), or every hidden state (batch, time, units) with
`return_sequences`.

States in and out (Keras' `initial_state` and `return_state`, torch's (h0, c0) and (h_n, c_n),
chainer's hx / cx and hy / cy). A node has one input list and, by default, one output
(harness/case/graph.py), so:

* `initial_state: true`: the layer reads inputs [x, h0] (LSTM: [x, h0, c0]), each state
  (batch, units), in Keras' order (`layer(x, initial_state=[h, c])`);
* `return_state: true`: the node also outputs its final states as the tensors `<node>.h`
  (and `<node>.c` for an LSTM), (batch, units) each, which later nodes, `outputs` and losses
  name like any tensor. Keras returns [output, h, c]; without return_sequences the output is
  h itself, and its gradient and h's add up.

The states are those of the order the layer computes in: with `go_backwards` the initial
state enters before the input's last step and the final state is after its first step. The canonical layout is Keras' (keras/src/layers/rnn/{lstm,gru,simple_rnn}.py):
the gates sit side by side in blocks of `units` columns, in the order of the spec's `gates`.

Each reference projects the whole input sequence through the kernel in one matrix product, then
walks the time steps; backward walks them in reverse, keeping the gradient of the state that
flows from step t to step t-1, and projects every step's gate gradients back through the kernel
in one product again. Activations are any of harness/reference/activations.py, so a case can ask for what
a native torch or chainer cell cannot compute (their adapters then build the cell from
primitives and say so).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from harness.reference.activations import ActivationField, Sigmoid, Tanh
from harness.reference.initializers import ExplicitValues
from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer


class RecurrentSpec(LayerSpec):
    """Fields every recurrent layer has."""

    units: int = Field(gt=0)
    activation: ActivationField = Field(
        default_factory=lambda: Tanh(name="tanh"),
        description="the candidate's (and LSTM's cell output's) activation; tanh in every framework")
    return_sequences: bool = Field(
        default=False, description="output every step's hidden state (batch, time, units), not only the last")
    go_backwards: bool = Field(
        default=False, description="process the sequence from its last step to its first; with "
                                   "return_sequences the output stays in that reversed order (Keras')")

    initial_state: bool = Field(
        default=False, description="read the initial states as inputs: [x, h] (LSTM [x, h, c]), each (units,) "
                                   "per sample, as Keras' initial_state=[h, c] and torch's (h0, c0)")
    return_state: bool = Field(
        default=False, description="also output the final states as the tensors <name>.h (and <name>.c for "
                                   "LSTM), as Keras' return_state and torch's (h_n, c_n)")

    gates: ClassVar[tuple[str, ...]] = ("h",)
    """The gate blocks of kernel, recurrent_kernel and bias, in the canonical (Keras) order."""
    state_names: ClassVar[tuple[str, ...]] = ("h",)
    """The recurrent states, in Keras' order (initial_state=[h, c], return_state's [output, h, c])."""

    def input_count(self) -> int:
        return 1 + len(self.state_names) if self.initial_state else 1

    def output_shape(self, input_shapes):
        shape, *states = input_shapes
        if len(shape) != 2:
            raise ValueError(f"{self.type} needs input (time, features), got {list(shape)}")
        for name, state in zip(self.state_names, states):
            if tuple(state) != (self.units,):
                raise ValueError(f"initial state {name} must be ({self.units},) per sample (units), "
                                 f"got {list(state)}")
        return (shape[0], self.units) if self.return_sequences else (self.units,)

    def further_outputs(self, input_shapes):
        return {name: (self.units,) for name in self.state_names} if self.return_state else {}

    def activation_rank(self, output_shape):
        return 2  # the cell's activations act on (batch, units) at each step

    @property
    def standard_cell(self) -> bool:
        """Sigmoid gates and a tanh candidate: the only cell torch's and chainer's native LSTM
        and GRU compute (other activations make those adapters build the cell from primitives)."""
        gate = getattr(self, "recurrent_activation", None)
        return self.activation.name == "tanh" and gate is not None and gate.name == "sigmoid"

    def parameter_shapes(self, input_shapes):
        shape = input_shapes[0]
        width = len(self.gates) * self.units
        return {"kernel": (shape[-1], width), "recurrent_kernel": (self.units, width), "bias": (width,)}

    def default_initializers(self):
        return {"kernel": "glorot_uniform", "recurrent_kernel": "orthogonal", "bias": "zeros"}


class RecurrentReference(ReferenceLayer):
    """Shared by the three references. They work time-major, (time, batch, ...), so that each
    step's slice is one contiguous block for the matrix products.

    `go_backwards` reverses the input's time axis before the recurrence and nothing after it:
    keras/src/layers/rnn/rnn.py documents it as "process the input sequence backwards and
    return the reversed sequence" (the TensorFlow backend's rnn(), keras/src/backend/
    tensorflow/rnn.py, reverses the inputs and stacks the outputs in the order it computed
    them), so output step 0 is the state after reading the input's last step. Each subclass
    writes the recurrence in `recur` / `recur_backward`."""

    def forward(self, x, *initial):
        """(output, *final states) with return_state, else the output. `recur(x, initial)`
        returns every step's hidden state and the final states; no `initial` means zeros."""
        hidden, final = self.recur(x[:, ::-1] if self.spec.go_backwards else x, initial)
        y = self.output(hidden)
        return (y, *final) if self.spec.return_state else y

    def backward(self, dy, *dfinal):
        """The gradients of the inputs: x, then the initial states with initial_state.
        `recur_backward(dy, dfinal)` takes the final states' gradients (zeros where they reach
        no loss) and returns (d x, d initial states)."""
        if not dfinal:
            dfinal = tuple(np.zeros((dy.shape[0], self.spec.units), dtype=dy.dtype) for _ in self.spec.state_names)
        dx, dinitial = self.recur_backward(dy, dfinal)
        dx = dx[:, ::-1] if self.spec.go_backwards else dx
        return (dx, *dinitial) if self.spec.initial_state else (dx,)

    def start(self, x: np.ndarray, initial: tuple, dtype) -> tuple[np.ndarray, ...]:
        """The initial states: the inputs given, else zeros (batch, units)."""
        if initial:
            return tuple(state.astype(dtype, copy=False) for state in initial)
        return tuple(np.zeros((x.shape[0], self.spec.units), dtype=dtype) for _ in self.spec.state_names)

    def output(self, hidden: list[np.ndarray]) -> np.ndarray:
        return np.stack(hidden, axis=1) if self.spec.return_sequences else hidden[-1]

    def upstream(self, dy: np.ndarray, steps: int) -> list[np.ndarray]:
        """d loss / d h_t that comes from the layer's output, per step."""
        if self.spec.return_sequences:
            return [dy[:, t] for t in range(steps)]
        zero = np.zeros_like(dy)
        return [zero] * (steps - 1) + [dy]

    def project_input(self, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """x_t W + b for every step at once, (time, batch, gates * units)."""
        batch, steps, features = x.shape
        self.x_rows = x.transpose(1, 0, 2).reshape(steps * batch, features)
        return (self.x_rows @ self.params["kernel"] + bias).reshape(steps, batch, -1)

    def input_gradients(self, dz: np.ndarray) -> np.ndarray:
        """Given d loss / d (x_t W + b), (time, batch, gates * units), set d kernel and d bias's
        input part; return d x, (batch, time, features)."""
        steps, batch, width = dz.shape
        rows = dz.reshape(steps * batch, width)
        self.grads["kernel"] = self.x_rows.T @ rows
        dx = rows @ self.params["kernel"].T
        return dx.reshape(steps, batch, -1).transpose(1, 0, 2)


# --- LSTM ---------------------------------------------------------------------------------------

class LSTMReference(RecurrentReference):
    def recur(self, x, initial):
        u = self.spec.units
        R = self.params["recurrent_kernel"]
        act, gate = self.spec.activation, self.spec.recurrent_activation
        xz = self.project_input(x, self.params["bias"])
        h, c = self.start(x, initial, xz.dtype)
        self.steps = []
        hidden = []
        for t in range(x.shape[1]):
            z = xz[t] + h @ R
            zi, zf, zc, zo = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
            i, f, g, o = gate.forward(zi), gate.forward(zf), act.forward(zc), gate.forward(zo)
            c_prev, h_prev = c, h
            c = f * c_prev + i * g
            tc = act.forward(c)
            h = o * tc
            self.steps.append((h_prev, c_prev, zi, zf, zc, zo, i, f, g, o, c, tc))
            hidden.append(h)
        return hidden, (h, c)

    def recur_backward(self, dy, dfinal):
        u = self.spec.units
        R = self.params["recurrent_kernel"]
        act, gate = self.spec.activation, self.spec.recurrent_activation
        steps = len(self.steps)
        dh_out = self.upstream(dy, steps)
        dz_all = np.empty((steps, dy.shape[0], 4 * u), dtype=dy.dtype)
        dh_next, dc_next = dfinal  # the final states' own gradients enter after the last step
        for t in reversed(range(steps)):
            h_prev, c_prev, zi, zf, zc, zo, i, f, g, o, c, tc = self.steps[t]
            dh = dh_out[t] + dh_next
            dc = dc_next + act.backward(c, tc, dh * o)
            dz = dz_all[t]
            dz[:, :u] = gate.backward(zi, i, dc * g)
            dz[:, u:2 * u] = gate.backward(zf, f, dc * c_prev)
            dz[:, 2 * u:3 * u] = act.backward(zc, g, dc * i)
            dz[:, 3 * u:] = gate.backward(zo, o, dh * tc)
            dh_next = dz @ R.T  # at t = 0: the gradient of the initial h
            dc_next = dc * f
        # d U = sum over steps of h_{t-1}^T dz_t, in one product.
        h_prev = np.concatenate([step[0] for step in self.steps])
        self.grads["recurrent_kernel"] = h_prev.T @ dz_all.reshape(-1, 4 * u)
        self.grads["bias"] = dz_all.sum(axis=(0, 1))
        return self.input_gradients(dz_all), (dh_next, dc_next)


@LAYERS.register
class LSTM(RecurrentSpec):
    """Long short-term memory, Keras' formulation (keras/src/layers/rnn/lstm.py, LSTMCell.call):

        z = x_t W + h_{t-1} U + b,  split into blocks [i, f, c, o] of `units` columns
        i = recurrent_activation(z_i)   f = recurrent_activation(z_f)
        o = recurrent_activation(z_o)   c_t = f * c_{t-1} + i * activation(z_c)
        h_t = o * activation(c_t)

    Canonical layout (Keras'): `kernel` W (features, 4 units), `recurrent_kernel` U
    (units, 4 units), `bias` b (4 units,), each with column blocks [i, f, c, o]. One bias:
    torch and chainer's NStepLSTM have two per gate, and their adapters hold the second at zero.

    `chainer_link` picks the chainer link (harness/backends/chainer/recurrent.py says how each
    lays the weights out); the other frameworks ignore it.

    `unit_forget_bias` (Keras' default True) changes only the bias's initial value: the forget
    block is 1 and the others come from the bias initializer (LSTMCell.build wraps it). Weights
    given as explicit values are taken as they are.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["LSTM"]
    recurrent_activation: ActivationField = Field(
        default_factory=lambda: Sigmoid(name="sigmoid"),
        description="the gates' activation; sigmoid in Keras 3, torch and chainer (legacy Keras 2: hard_sigmoid)")
    unit_forget_bias: bool = Field(
        default=True, description="initialise the forget gate's bias block to 1 (Keras' default)")
    chainer_link: Literal["StatelessLSTM", "LSTM", "NStepLSTM"] = Field(
        default="StatelessLSTM",
        description="the chainer link that computes it: StatelessLSTM (c, h passed each step), LSTM (the "
                    "stateful link, stepped), NStepLSTM (whole sequences; NStepBiLSTM inside Bidirectional). "
                    "The same function; only the chainer adapter reads it")

    gates = ("i", "f", "c", "o")
    state_names = ("h", "c")
    reference = LSTMReference

    def initialize(self, parameter, initializer, shape, rng):
        if parameter != "bias" or not self.unit_forget_bias or isinstance(initializer, ExplicitValues):
            return super().initialize(parameter, initializer, shape, rng)
        u = self.units
        # As LSTMCell.build: the initializer draws the i block, then the c and o blocks together.
        values = np.concatenate([initializer.generate((u,), rng), np.ones(u),
                                 initializer.generate((2 * u,), rng)])
        return values, f"{initializer.describe()}, forget block 1 (unit_forget_bias)"


# --- GRU ----------------------------------------------------------------------------------------

class GRUReference(RecurrentReference):
    def recur(self, x, initial):
        u = self.spec.units
        R, bias = self.params["recurrent_kernel"], self.params["bias"]
        act, gate = self.spec.activation, self.spec.recurrent_activation
        after = self.spec.reset_after
        xz = self.project_input(x, bias[0] if after else bias)
        (h,) = self.start(x, initial, xz.dtype)
        self.steps = []
        hidden = []
        for t in range(x.shape[1]):
            h_prev = h
            if after:
                hr = h_prev @ R + bias[1]  # the reset gate scales this product's candidate block
            else:
                hr = h_prev @ R[:, :2 * u]
            a_z, a_r = xz[t, :, :u] + hr[:, :u], xz[t, :, u:2 * u] + hr[:, u:2 * u]
            z, r = gate.forward(a_z), gate.forward(a_r)
            if after:
                recurrent_h = hr[:, 2 * u:]
                a_h = xz[t, :, 2 * u:] + r * recurrent_h
            else:
                recurrent_h = r * h_prev  # the reset gate scales the state before U_h
                a_h = xz[t, :, 2 * u:] + recurrent_h @ R[:, 2 * u:]
            hh = act.forward(a_h)
            h = z * h_prev + (1 - z) * hh
            self.steps.append((h_prev, a_z, a_r, z, r, recurrent_h, a_h, hh))
            hidden.append(h)
        return hidden, (h,)

    def recur_backward(self, dy, dfinal):
        u = self.spec.units
        R = self.params["recurrent_kernel"]
        act, gate = self.spec.activation, self.spec.recurrent_activation
        after = self.spec.reset_after
        steps = len(self.steps)
        dh_out = self.upstream(dy, steps)
        dx_z = np.empty((steps, dy.shape[0], 3 * u), dtype=dy.dtype)
        dR = np.zeros_like(R)
        d_recurrent_bias = np.zeros(3 * u, dtype=dy.dtype)
        (dh_next,) = dfinal
        for t in reversed(range(steps)):
            h_prev, a_z, a_r, z, r, recurrent_h, a_h, hh = self.steps[t]
            dh = dh_out[t] + dh_next
            da_h = act.backward(a_h, hh, dh * (1 - z))
            dxz = dx_z[t]
            dxz[:, :u] = gate.backward(a_z, z, dh * (h_prev - hh))
            dxz[:, 2 * u:] = da_h
            dh_prev = dh * z
            if after:
                dxz[:, u:2 * u] = gate.backward(a_r, r, da_h * recurrent_h)
                dhr = np.concatenate([dxz[:, :2 * u], da_h * r], axis=1)
                dR += h_prev.T @ dhr
                d_recurrent_bias += dhr.sum(axis=0)
                dh_prev = dh_prev + dhr @ R.T
            else:
                dR[:, 2 * u:] += recurrent_h.T @ da_h
                d_recurrent_h = da_h @ R[:, 2 * u:].T
                dxz[:, u:2 * u] = gate.backward(a_r, r, d_recurrent_h * h_prev)
                dR[:, :2 * u] += h_prev.T @ dxz[:, :2 * u]
                dh_prev = dh_prev + d_recurrent_h * r + dxz[:, :2 * u] @ R[:, :2 * u].T
            dh_next = dh_prev
        self.grads["recurrent_kernel"] = dR
        d_input_bias = dx_z.sum(axis=(0, 1))
        self.grads["bias"] = np.stack([d_input_bias, d_recurrent_bias]) if after else d_input_bias
        return self.input_gradients(dx_z), (dh_next,)


@LAYERS.register
class GRU(RecurrentSpec):
    """Gated recurrent unit, Keras' formulation (keras/src/layers/rnn/gru.py, GRUCell.call):

        z = recurrent_activation(x_t W_z + b_z + h_{t-1} U_z + b'_z)
        r = recurrent_activation(x_t W_r + b_r + h_{t-1} U_r + b'_r)
        reset_after true:  hh = activation(x_t W_h + b_h + r * (h_{t-1} U_h + b'_h))
        reset_after false: hh = activation(x_t W_h + b_h + (r * h_{t-1}) U_h)
        h_t = z * h_{t-1} + (1 - z) * hh

    `reset_after` has no default: Keras 3 and torch (and cuDNN, and chainer's NStepGRU) apply
    the reset gate after the recurrent product, Keras 2 and the original paper (Cho et al.
    2014, and chainer's L.GRU) before it; the two are different functions.

    Canonical layout (Keras'): `kernel` W (features, 3 units), `recurrent_kernel` U
    (units, 3 units), column blocks [z, r, h]; `bias` (2, 3 units) = [input bias b; recurrent
    bias b'] with reset_after, else (3 units,), the input bias only (b' = 0).

    `chainer_link` names chainer's link for the record; each computes one form, so it must
    match reset_after (the default follows it).
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["GRU"]
    recurrent_activation: ActivationField = Field(
        default_factory=lambda: Sigmoid(name="sigmoid"), description="the gates' activation")
    reset_after: bool = Field(
        description="apply the reset gate after the recurrent product (Keras 3, torch, cuDNN) or "
                    "before it (Keras 2, the original paper); no default, frameworks differ")
    chainer_link: Literal["NStepGRU", "StatelessGRU"] | None = Field(
        default=None,
        description="the chainer link that computes it: NStepGRU (reset-after) or StatelessGRU (reset-before); "
                    "default the one that computes reset_after's form. Only the chainer adapter reads it")

    @model_validator(mode="after")
    def link_computes_the_formula(self):
        """chainer's two GRU links compute one form each (chainer/functions/rnn/n_step_gru.py:
        r * (U h + b); chainer/links/rnn/gru.py: U (r * h)); naming the other one is a case error."""
        wanted = "NStepGRU" if self.reset_after else "StatelessGRU"
        if self.chainer_link not in (None, wanted):
            raise ValueError(f"chainer_link {self.chainer_link} computes the reset-"
                             f"{'before' if self.reset_after else 'after'} form; reset_after: "
                             f"{str(self.reset_after).lower()} needs {wanted}")
        return self

    gates = ("z", "r", "h")
    reference = GRUReference

    def parameter_shapes(self, input_shapes):
        shapes = super().parameter_shapes(input_shapes)
        if self.reset_after:
            shapes["bias"] = (2, 3 * self.units)
        return shapes


# --- SimpleRNN ----------------------------------------------------------------------------------

class SimpleRNNReference(RecurrentReference):
    def recur(self, x, initial):
        R, act = self.params["recurrent_kernel"], self.spec.activation
        xz = self.project_input(x, self.params["bias"])
        (h,) = self.start(x, initial, xz.dtype)
        self.steps = []
        hidden = []
        for t in range(x.shape[1]):
            a = xz[t] + h @ R
            h_prev, h = h, act.forward(a)
            self.steps.append((h_prev, a, h))
            hidden.append(h)
        return hidden, (h,)

    def recur_backward(self, dy, dfinal):
        R, act = self.params["recurrent_kernel"], self.spec.activation
        steps = len(self.steps)
        dh_out = self.upstream(dy, steps)
        da_all = np.empty((steps, dy.shape[0], self.spec.units), dtype=dy.dtype)
        dR = np.zeros_like(R)
        (dh_next,) = dfinal
        for t in reversed(range(steps)):
            h_prev, a, h = self.steps[t]
            da = da_all[t]
            da[...] = act.backward(a, h, dh_out[t] + dh_next)
            dR += h_prev.T @ da
            dh_next = da @ R.T
        self.grads["recurrent_kernel"] = dR
        self.grads["bias"] = da_all.sum(axis=(0, 1))
        return self.input_gradients(da_all), (dh_next,)


@LAYERS.register
class SimpleRNN(RecurrentSpec):
    """Elman network, Keras' SimpleRNN (keras/src/layers/rnn/simple_rnn.py):

        h_t = activation(x_t W + h_{t-1} U + b)

    Canonical layout (Keras'): `kernel` W (features, units), `recurrent_kernel` U
    (units, units), `bias` b (units,). One bias: torch's nn.RNN and chainer's NStepRNN have a
    second, which their adapters hold at zero.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("torch", "importable"): "nn.RNN has no import translation",
        ("chainer", "importable"): "the chainer importer translates no chainer link or function to it",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["SimpleRNN"]

    reference = SimpleRNNReference
