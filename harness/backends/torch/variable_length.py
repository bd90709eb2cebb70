"""torch's VariableLength. With a native module (nn.LSTM, nn.GRU, nn.RNN built by the wrapped
kind's builder): torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
enforce_sorted=False) into the module, pad_packed_sequence(batch_first=True, total_length=T)
out of it (zeros at the padded steps, torch/nn/utils/rnn.py), and h_n (each sequence's state
after its own last step) without return_sequences: native. `padded_output: previous` (Keras'
default) repeats each sample's last real output over its padded steps: torch.where on the
unpacked output, composite. A composite cell (no native module computes it) runs on each
sample's real steps alone, composite.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from harness.backends.base import BuiltLayer
from harness.backends.torch.registry import REGISTRY

builders = REGISTRY.layers
NATIVE_MODULES = (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN)


def padded(spec, sequences: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Every step's output (batch, T, units), zeros at the padded steps, to the case's convention."""
    if spec.padded_output == "zero":
        return sequences
    steps = torch.arange(sequences.shape[1])[None, :, None]
    last = sequences[torch.arange(sequences.shape[0]), lengths - 1][:, None, :]
    return torch.where(steps < lengths[:, None, None], sequences, last)


@builders.register("VariableLength")
def variable_length(spec, ctx) -> BuiltLayer:
    every_step = spec.layer.model_copy(update={"return_sequences": True})
    inner = builders[spec.layer.type](every_step, replace(ctx, input_shapes=ctx.input_shapes[:1]))
    sequences_out = spec.layer.return_sequences
    convention = "" if spec.padded_output == "zero" else "; torch.where repeats the last real output over the padding"

    if inner.implementation == "native" and isinstance(inner.module, NATIVE_MODULES):
        module = inner.module

        def call(x, lengths):
            lengths = lengths.reshape(-1).to(torch.int64)
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = module(packed)
            if not sequences_out:
                h_n = state[0] if isinstance(state, tuple) else state
                return h_n[-1]
            sequences, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            return padded(spec, sequences, lengths)

        kind = "composite" if sequences_out and spec.padded_output == "previous" else "native"
        return replace(inner, call=call, implementation=kind,
                       detail=f"pack_padded_sequence(enforce_sorted=False) into {inner.detail}, "
                              f"pad_packed_sequence out (zeros at padded steps){convention}")

    def per_sample(x, lengths):
        rows = []
        for k, length in enumerate(int(v) for v in lengths.reshape(-1)):
            sequence = inner.call(x[k:k + 1, :length])
            if not sequences_out:
                rows.append(sequence[:, -1])
                continue
            fill = sequence[:, -1:] if spec.padded_output == "previous" else torch.zeros_like(sequence[:, -1:])
            rows.append(torch.cat([sequence, fill.expand(1, x.shape[1] - length, -1)], dim=1))
        return torch.cat(rows, dim=0)

    return replace(inner, call=per_sample, implementation="composite",
                   detail=f"{inner.detail}, run on each sample's real steps alone (a packed sequence needs a "
                          f"native module)")
