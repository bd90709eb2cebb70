"""chainer's VariableLength: composite. chainer's NStep links take a list of sequences of their
own lengths (chainer/functions/rnn/n_step_lstm.py), but the harness's chainer LSTM is
L.StatelessLSTM (Keras' one bias and F.lstm's layout) and its reset-before GRU L.StatelessGRU,
stepped by hand: the wrapped kind's builder runs on each sample's real steps alone, and the
outputs are padded to the case's convention (F.repeat of the last real output, or zeros).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.backends.base import BuiltLayer
from harness.backends.chainer._import import F, chainer
from harness.backends.chainer.registry import LAYER_BUILDERS as builders


@builders.register("VariableLength")
def variable_length(spec, ctx) -> BuiltLayer:
    every_step = spec.layer.model_copy(update={"return_sequences": True})
    inner = builders[spec.layer.type](every_step, replace(ctx, input_shapes=ctx.input_shapes[:1]))

    def call(x, lengths):
        values = lengths.array if isinstance(lengths, chainer.Variable) else lengths
        rows = []
        for k, length in enumerate(int(v) for v in np.asarray(values).reshape(-1)):
            sequence = inner.call(x[k:k + 1, :length])
            if not spec.layer.return_sequences:
                rows.append(sequence[:, -1])
                continue
            rest = x.shape[1] - length
            if rest:
                last = sequence[:, -1:]
                fill = F.repeat(last, rest, axis=1) if spec.padded_output == "previous" else \
                    chainer.Variable(np.zeros((1, rest, last.shape[-1]), dtype=last.dtype))
                sequence = F.concat([sequence, fill], axis=1)
            rows.append(sequence)
        return F.concat(rows, axis=0)

    return replace(inner, call=call, implementation="composite",
                   detail=f"{inner.detail}, run on each sample's real steps alone, padded "
                          f"({'the last real output repeated' if spec.padded_output == 'previous' else 'zeros'})")
