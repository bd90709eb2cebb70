"""VariableLength: a recurrent layer over right-padded sequences, each sample with its own length.

A batch of sequences of different lengths is padded at the end to one length T; the layer reads
inputs [x, lengths] and sample k's steps 0 .. lengths[k] - 1 only. What the three frameworks do
with them (confirmed on the installed versions; tests/test_variable_length.py):

* Keras (keras/src/backend/tensorflow/rnn.py, `rnn`: `compute_masked_output(mask_t,
  flat_new_state, flat_state)`): a masked step keeps the states unchanged, and its output is the
  previous step's output (`zero_output_for_mask=False`, the recurrent layers' default) or zeros
  (`True`; Bidirectional forces it when it returns sequences, keras/src/layers/rnn/
  bidirectional.py `force_zero_output_for_mask`). The mask comes from
  `layer(x, mask=...)`, an Embedding's `mask_zero` or a Masking layer.
* torch (torch/nn/utils/rnn.py): `pack_padded_sequence(x, lengths, batch_first=True,
  enforce_sorted=False)` runs each sequence over its own steps; `pad_packed_sequence` gives
  zeros at the padded steps, and h_n is each sequence's state after its own last step.
* chainer (chainer/functions/rnn/n_step_lstm.py): the NStep links take a list of sequences of
  their own lengths and return one output per real step (no padded steps) and hy at each
  sequence's own end.

So every framework computes the same states over the real steps and the same final state; they
differ only in the output at padded steps, which the case states (`padded_output`: "previous",
Keras' default, or "zero", torch's and Keras' Bidirectional's): no default, as they differ. The
padding must be at the end (torch's lengths); a mask with holes is Keras' alone.

The reference runs the wrapped layer's own reference on each sample's real steps (one run per
sample: the recurrence itself is the wrapped layer's, finite-difference tested there and here)
and pads the outputs by the convention.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

import numpy as np
from pydantic import Field, field_validator

from harness.reference.layers.base import LAYERS, LayerSpec, ReferenceLayer
from harness.reference.layers.peephole import PeepholeLSTM
from harness.reference.layers.recurrent import GRU, LSTM, SimpleRNN

RecurrentLayer = Annotated[Union[LSTM, GRU, SimpleRNN, PeepholeLSTM], Field(discriminator="type")]


class VariableLengthReference(ReferenceLayer):
    def forward(self, x, lengths):
        spec = self.spec
        self.lengths = spec.checked_lengths(lengths, x.shape[1])
        every_step = spec.layer.model_copy(update={"return_sequences": True})
        self.runs, rows = [], []
        for k, length in enumerate(self.lengths):
            run = every_step.reference(every_step, self.params, training=self.training)
            sequence = run.forward(np.ascontiguousarray(x[k:k + 1, :length]))  # (1, length, units)
            self.runs.append(run)
            if not spec.layer.return_sequences:
                rows.append(sequence[:, -1])  # the state after the sample's own last step
                continue
            padded = np.zeros((1, x.shape[1], sequence.shape[-1]), dtype=sequence.dtype)
            padded[:, :length] = sequence
            if spec.padded_output == "previous":
                padded[:, length:] = sequence[:, -1:]
            rows.append(padded)
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return np.concatenate(rows, axis=0)

    def backward(self, dy):
        dx = np.zeros(self.x_shape, dtype=dy.dtype)
        self.grads = {}
        for k, (length, run) in enumerate(zip(self.lengths, self.runs)):
            if self.spec.layer.return_sequences:
                d = dy[k:k + 1, :length].copy()
                if self.spec.padded_output == "previous":  # the padded steps repeat the last real output
                    d[:, -1] += dy[k:k + 1, length:].sum(axis=1)
            else:
                d = np.zeros((1, length, dy.shape[-1]), dtype=dy.dtype)
                d[:, -1] = dy[k:k + 1]
            (dx[k:k + 1, :length],) = run.backward(d)
            for name, grad in run.grads.items():
                self.grads[name] = self.grads[name] + grad if name in self.grads else grad
        return dx, np.zeros(len(self.lengths), dtype=dy.dtype)  # lengths are integers: no gradient


@LAYERS.register
class VariableLength(LayerSpec):
    """y_k = layer(x_k[:lengths_k]) per sample k, inputs [x, lengths]: x (time, features),
    lengths () or (1,) integers in [1, time]. With the wrapped layer's `return_sequences`, steps
    from lengths_k on are the last real step's output (`padded_output: previous`, Keras'
    default) or zeros (`zero`, torch's pad_packed_sequence); without it, the state after step
    lengths_k - 1 (all three frameworks).

    Canonical layout: the wrapped layer's own parameters (`kernel`, `recurrent_kernel`, `bias`,
    ...), in its canonical layout.
    """

    not_covered = {  # per (framework, column) of the support table (harness/output/support.py)
        ("keras", "importable"): "a mask (Masking, Embedding mask_zero) is not imported yet",
        ("torch", "importable"): "pack_padded_sequence in a forward is not imported yet",
        ("chainer", "importable"): "the chainer importer does not translate lists of sequences yet",
        ("*", "reproducer"): "no reproducer template written for it yet",
    }

    type: Literal["VariableLength"]
    layer: RecurrentLayer = Field(description="the recurrent layer run over each sample's real steps (its `name` "
                                              "is ignored: the parameters are this layer's)")
    padded_output: Literal["previous", "zero"] = Field(
        description="the output at padded steps with return_sequences: the last real step's output (Keras' "
                    "zero_output_for_mask=False, its default) or zeros (torch's pad_packed_sequence, Keras' "
                    "Bidirectional); no default, frameworks differ")

    arity: ClassVar[int | None] = 2
    reference = VariableLengthReference

    @field_validator("layer")
    @classmethod
    def forwards_only(cls, layer):
        for field in ("initial_state", "return_state"):
            if getattr(layer, field, False):
                raise ValueError(f"{field} inside VariableLength is not supported yet: the wrapped layer "
                                 f"starts from zero states and outputs its sequence or last state")
        if layer.go_backwards:
            raise ValueError("go_backwards with padded sequences differs between frameworks (Keras reverses the "
                             "padded sequence and its mask, so the padding comes first; torch's packed sequences "
                             "cannot be reversed that way): not supported yet")
        return layer

    @staticmethod
    def checked_lengths(lengths: np.ndarray, steps: int) -> np.ndarray:
        lengths = np.asarray(lengths).reshape(len(lengths), -1)[:, 0]
        if not np.all(lengths == np.round(lengths)) or lengths.min() < 1 or lengths.max() > steps:
            raise ValueError(f"VariableLength's lengths must be integers in [1, {steps}] (the time steps), "
                             f"got {sorted(set(lengths.tolist()))}")
        return lengths.astype(int)

    @property
    def gates(self) -> tuple[str, ...]:
        return self.layer.gates

    def output_shape(self, input_shapes):
        shape, lengths = input_shapes
        if tuple(lengths) not in ((), (1,)):
            raise ValueError(f"the lengths input is one integer per sample, shape [] or [1], got {list(lengths)}")
        return self.layer.output_shape([shape])

    def activation_rank(self, output_shape):
        return self.layer.activation_rank(output_shape)

    def parameter_shapes(self, input_shapes):
        return self.layer.parameter_shapes(input_shapes[:1])

    def default_initializers(self):
        return self.layer.default_initializers()

    def initialize(self, parameter, initializer, shape, rng):
        return self.layer.initialize(parameter, initializer, shape, rng)
