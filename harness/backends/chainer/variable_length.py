"""chainer's VariableLength. chainer's NStep links take a list of sequences of their own lengths
(chainer/functions/rnn/n_step_rnn.py, n_step_gru.py: `xs`, one array per sequence) and return
one output per real step and hy at each sequence's own end: where the wrapped kind's builder
gives a native NStep link (the reset-after GRU's L.NStepGRU, SimpleRNN's L.NStepRNNTanh/ReLU),
the samples' real steps go in as that list, and F.pad_sequence pads the outputs with zeros:
native. The harness's LSTM is L.StatelessLSTM (Keras' one bias and F.lstm's layout) and its
reset-before GRU L.StatelessGRU, stepped by hand, and composite cells too: those run on each
sample's real steps alone, composite. `padded_output: previous` (the last real output repeated,
F.repeat) is composite.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.backends.base import BuiltLayer
from harness.backends.chainer._import import F, L, chainer
from harness.backends.chainer.registry import LAYER_BUILDERS as builders


NSTEP_LINKS = (L.NStepGRU, L.NStepRNNTanh, L.NStepRNNReLU)
"""The NStep links the recurrent builders use natively, each called as link(hx, xs) -> (hy, ys)."""


def as_lengths(lengths) -> list[int]:
    values = lengths.array if isinstance(lengths, chainer.Variable) else lengths
    return [int(v) for v in np.asarray(values).reshape(-1)]


def padded(spec, sequence, steps: int):
    """One sample's outputs (1, length, units) padded to `steps` by the case's convention."""
    rest = steps - sequence.shape[1]
    if not rest:
        return sequence
    last = sequence[:, -1:]
    fill = F.repeat(last, rest, axis=1) if spec.padded_output == "previous" else \
        chainer.Variable(np.zeros((1, rest, last.shape[-1]), dtype=last.dtype))
    return F.concat([sequence, fill], axis=1)


@builders.register("VariableLength")
def variable_length(spec, ctx) -> BuiltLayer:
    every_step = spec.layer.model_copy(update={"return_sequences": True})
    inner = builders[spec.layer.type](every_step, replace(ctx, input_shapes=ctx.input_shapes[:1]))
    if inner.implementation == "native" and isinstance(inner.module, NSTEP_LINKS):
        link = inner.module

        def listed(x, lengths):
            real = [x[k, :length] for k, length in enumerate(as_lengths(lengths))]
            hy, ys = link(None, real)
            if not spec.layer.return_sequences:
                return hy[-1]
            if spec.padded_output == "zero":
                return F.pad_sequence(ys, length=x.shape[1], padding=0.0)
            return F.concat([padded(spec, y[None], x.shape[1]) for y in ys], axis=0)

        previous = spec.layer.return_sequences and spec.padded_output == "previous"
        return replace(inner, call=listed, implementation="composite" if previous else "native",
                       detail=f"{inner.detail} on the list of each sample's real steps; "
                              + ("the last real output repeated over the padding (F.repeat)" if previous
                                 else "F.pad_sequence pads with zeros" if spec.layer.return_sequences
                                 else "hy, each sequence's state after its own last step"))

    def call(x, lengths):
        rows = []
        for k, length in enumerate(as_lengths(lengths)):
            sequence = inner.call(x[k:k + 1, :length])
            if not spec.layer.return_sequences:
                rows.append(sequence[:, -1])
                continue
            rows.append(padded(spec, sequence, x.shape[1]))
        return F.concat(rows, axis=0)

    return replace(inner, call=call, implementation="composite",
                   detail=f"{inner.detail}, run on each sample's real steps alone, padded "
                          f"({'the last real output repeated' if spec.padded_output == 'previous' else 'zeros'})")
