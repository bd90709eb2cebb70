"""Keras' VariableLength: the wrapped layer itself, called with a mask (keras/src/layers/rnn/
rnn.py: `layer(x, mask=...)`, what an Embedding's mask_zero or a Masking layer hands it), the
mask built from the lengths as step < length. Keras skips the masked steps (states carried,
keras/src/backend/tensorflow/rnn.py) and outputs at them the previous output or, with
`zero_output_for_mask=True`, zeros: the case's `padded_output` sets that attribute (as
keras.layers.Bidirectional sets it on the layers it wraps). Native.

Keras' losses skip the padded steps (the output carries its mask, which Loss.__call__ applies),
torch's and chainer's do not: the case's loss is unmasked, so the mask is left off the output.
"""

from __future__ import annotations

from dataclasses import replace

from harness.backends.base import BuiltLayer
from harness.backends.keras._import import keras
from harness.backends.keras.registry import LAYER_BUILDERS as builders

ops = keras.ops


@builders.register("VariableLength")
def variable_length(spec, ctx) -> BuiltLayer:
    inner = builders[spec.layer.type](spec.layer, replace(ctx, input_shapes=ctx.input_shapes[:1]))
    layer = inner.module
    # Only with return_sequences, as keras.layers.Bidirectional's force_zero_output_for_mask:
    # without, zero_output_for_mask=True zeroes the result of every sample whose last step is
    # padded (keras/src/backend/tensorflow/rnn.py: last_output = tf.where(mask_list[-1],
    # last_output, zeros)) instead of giving its state after its own last step.
    layer.zero_output_for_mask = spec.layer.return_sequences and spec.padded_output == "zero"
    steps = ctx.input_shapes[0][0]

    def call(x, lengths):
        mask = ops.arange(steps)[None, :] < ops.reshape(ops.cast(lengths, "int32"), (-1, 1))
        # ops.copy: a tensor without the `_keras_mask` the layer sets on its output. Keras'
        # losses read that mask and leave the padded steps out of the loss (keras/src/losses/
        # loss.py, Loss.__call__: get_keras_mask(y_pred)); the case's loss counts every output
        # element, as torch's and chainer's do.
        return ops.copy(layer(x, mask=mask))

    return replace(inner, call=call, detail=f"{inner.detail} called with mask = step < length, "
                                            f"zero_output_for_mask={layer.zero_output_for_mask}")
