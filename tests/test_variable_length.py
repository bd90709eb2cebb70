"""VariableLength (issue 23, masking): right-padded sequences with per-sample lengths.

The reference against a hand-written Elman recurrence (here), its gradients against finite
differences and every adapter against it (tests/test_reference_gradients.py and
tests/test_adapters.py through harness/case/examples.py), the case file
cases/recurrent_variable_length.yaml on all four backends. Below also the framework behaviours
the adapters rely on, each confirmed on the installed framework against the same hand
computation, so that a framework update that changes one fails here by name.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.backends.numpy_reference import run_reference
from harness.common.errors import CaseError
from harness.weights import cases_from_data
from tests.conftest import backend_or_skip

STEPS, FEATURES, UNITS = 4, 2, 3
LENGTHS = np.array([1, 3, 4])
RNG = np.random.default_rng(7)
X = RNG.normal(size=(3, STEPS, FEATURES))
W, U, B = RNG.normal(size=(FEATURES, UNITS)), RNG.normal(size=(UNITS, UNITS)) * 0.5, RNG.normal(size=UNITS)


def by_hand(x: np.ndarray, length: int) -> np.ndarray:
    """h_t = tanh(x_t W + h_{t-1} U + b) over the first `length` steps: (length, units)."""
    h, out = np.zeros(UNITS), []
    for t in range(length):
        h = np.tanh(x[t] @ W + h @ U + B)
        out.append(h)
    return np.array(out)


def expected(padded_output: str) -> np.ndarray:
    rows = []
    for x, length in zip(X, LENGTHS):
        real = by_hand(x, length)
        fill = real[-1] if padded_output == "previous" else np.zeros(UNITS)
        rows.append(np.concatenate([real, np.tile(fill, (STEPS - length, 1))]))
    return np.stack(rows)


def case_data(layer: dict, padded_output: str = "zero", lengths_shape=(1,)) -> dict:
    return {
        "name": "padded", "dtype": "float64", "samples": 3,
        "inputs": {"x": {"shape": [STEPS, FEATURES], "data": {"values": X.tolist()}},
                   "lengths": {"shape": list(lengths_shape), "dtype": "int32",
                               "data": {"values": LENGTHS.reshape(3, *lengths_shape).tolist()}}},
        "model": {"nodes": [{"name": "rnn", "type": "VariableLength", "padded_output": padded_output,
                             "inputs": ["x", "lengths"], "layer": layer}], "outputs": ["rnn"]},
        "weights": {"parameters": {"rnn/kernel": {"values": W.tolist()},
                                   "rnn/recurrent_kernel": {"values": U.tolist()},
                                   "rnn/bias": {"values": B.tolist()}}},
        "targets": {"t": {"shape": None, "data": {"normal": {}}}},
        "loss": {"type": "mean_squared_error", "reduction": "sum"},
    }


def run(layer: dict, padded_output: str = "zero", shape=None):
    data = case_data(layer, padded_output)
    data["targets"]["t"]["shape"] = shape or [STEPS, UNITS]
    (case,) = cases_from_data(data)
    return run_reference(case)


@pytest.mark.parametrize("padded_output", ["zero", "previous"])
def test_the_reference_is_the_recurrence_over_each_samples_real_steps(padded_output):
    result = run({"type": "SimpleRNN", "units": UNITS, "return_sequences": True}, padded_output)
    np.testing.assert_allclose(result.outputs["rnn"], expected(padded_output), rtol=1e-12)
    assert not np.any(result.input_gradients["x"][0, 1:]), "padded steps take no part: no gradient"


def test_without_return_sequences_the_state_after_each_samples_own_last_step():
    result = run({"type": "SimpleRNN", "units": UNITS}, shape=[UNITS])
    np.testing.assert_allclose(result.outputs["rnn"], [by_hand(x, n)[-1] for x, n in zip(X, LENGTHS)], rtol=1e-12)


@pytest.mark.parametrize("change, said", [
    (lambda d: d["model"]["nodes"][0]["layer"].update(go_backwards=True), "go_backwards with padded sequences"),
    (lambda d: d["inputs"]["lengths"].update(shape=[2], data={"values": [[1, 1]] * 3}), "one integer per sample"),
    (lambda d: d["model"]["nodes"][0].pop("padded_output"), "padded_output"),
    (lambda d: d["model"]["nodes"][0]["layer"].update(return_state=True), "return_state inside VariableLength"),
])
def test_what_it_cannot_take_is_a_case_error(change, said):
    data = case_data({"type": "SimpleRNN", "units": UNITS, "return_sequences": True})
    data["targets"]["t"]["shape"] = [STEPS, UNITS]
    change(data)
    with pytest.raises(CaseError) as caught:
        cases_from_data(data)
    assert said in str(caught.value)


def test_a_length_outside_the_steps_is_refused_with_the_range():
    data = case_data({"type": "SimpleRNN", "units": UNITS})
    data["targets"]["t"]["shape"] = [UNITS]
    data["inputs"]["lengths"]["data"] = {"values": [[0], [3], [5]]}
    (case,) = cases_from_data(data)
    with pytest.raises(ValueError, match=r"integers in \[1, 4\]"):
        run_reference(case)


# --- what the frameworks do, which the adapters rely on ------------------------------------------

def keras_rnn(**settings):
    backend_or_skip("keras")
    import keras

    layer = keras.layers.SimpleRNN(UNITS, dtype="float64", **settings)
    layer.build((None, STEPS, FEATURES))
    for variable, value in zip((layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias), (W, U, B)):
        variable.assign(value)
    return keras, layer


def test_keras_masked_steps_carry_the_state_and_repeat_or_zero_the_output():
    """keras/src/backend/tensorflow/rnn.py: compute_masked_output(mask_t, new_states, states)
    and the output's zero_output_for_mask."""
    mask = np.arange(STEPS)[None] < LENGTHS[:, None]
    for zero, padded_output in ((False, "previous"), (True, "zero")):
        keras, layer = keras_rnn(return_sequences=True, zero_output_for_mask=zero)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(X, mask=mask)), expected(padded_output),
                                   rtol=1e-10)


def test_keras_zero_output_for_mask_zeroes_the_last_state_of_a_padded_sample():
    """Why the Keras adapter sets zero_output_for_mask only with return_sequences: without, the
    result of a sample whose last step is padded is zeros (last_output = tf.where(mask_list[-1],
    last_output, zeros)), not its state after its own last step."""
    mask = np.arange(STEPS)[None] < LENGTHS[:, None]
    keras, layer = keras_rnn(zero_output_for_mask=True)
    last = keras.ops.convert_to_numpy(layer(X, mask=mask))
    assert not np.any(last[:2]) and np.allclose(last[2], by_hand(X[2], 4)[-1], rtol=1e-10)


def test_keras_losses_leave_the_masked_steps_out():
    """Why the Keras adapter copies the layer's output: the output carries its mask, and
    Loss.__call__ (keras/src/losses/loss.py) applies it; the case's loss counts every element."""
    mask = np.arange(STEPS)[None] < LENGTHS[:, None]
    keras, layer = keras_rnn(return_sequences=True)
    target = np.ones((3, STEPS, UNITS))
    y = layer(X, mask=mask)
    masked = float(keras.losses.MeanSquaredError(reduction="sum")(target, y))
    unmasked = float(keras.losses.MeanSquaredError(reduction="sum")(target, keras.ops.copy(y)))
    per_sample = ((expected("previous") - target) ** 2).mean(axis=-1)
    # The loss object computes in float32 (its own dtype policy, not the layer's): float32's
    # rounding of a sum of 12 terms near 1 stays far below 1e-6.
    assert np.isclose(unmasked, per_sample.sum(), rtol=1e-6)
    assert np.isclose(masked, (per_sample * mask).sum(), rtol=1e-6) and not np.isclose(masked, unmasked, rtol=1e-3)


def test_torch_packed_sequences_give_zeros_at_padded_steps_and_each_samples_own_last_state():
    """torch/nn/utils/rnn.py: pack_padded_sequence(enforce_sorted=False), pad_packed_sequence."""
    backend_or_skip("torch")
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    module = torch.nn.RNN(FEATURES, UNITS, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", W.T), ("weight_hh_l0", U.T), ("bias_ih_l0", B)):
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        module.bias_hh_l0.zero_()
        out, h_n = module(pack_padded_sequence(torch.from_numpy(X), torch.from_numpy(LENGTHS), batch_first=True,
                                               enforce_sorted=False))
        sequences, _ = pad_packed_sequence(out, batch_first=True, total_length=STEPS)
    np.testing.assert_allclose(sequences.numpy(), expected("zero"), rtol=1e-10)
    np.testing.assert_allclose(h_n[-1].numpy(), [by_hand(x, n)[-1] for x, n in zip(X, LENGTHS)], rtol=1e-10)


def test_the_other_padded_output_is_a_diagnosis_variant():
    """A port that pads by the other framework's convention is named (the search's transform
    VariableLength.padded_output), checked against the hand computation; none without
    return_sequences, where no padded step is output."""
    from harness.diagnosis import Context, applicable_variants, transformed_case

    data = case_data({"type": "SimpleRNN", "units": UNITS, "return_sequences": True}, "previous")
    data["targets"]["t"]["shape"] = [STEPS, UNITS]
    (case,) = cases_from_data(data)
    (variant,) = [v for v in applicable_variants(case, Context()) if v.transform.name == "VariableLength.padded_output"]
    assert variant.choice.startswith("zeros")
    np.testing.assert_allclose(run_reference(transformed_case(case, [variant])).outputs["rnn"], expected("zero"),
                               rtol=1e-12)
    last = case_data({"type": "SimpleRNN", "units": UNITS}, "previous")
    last["targets"]["t"]["shape"] = [UNITS]
    (case,) = cases_from_data(last)
    assert not [v for v in applicable_variants(case, Context()) if v.transform.name == "VariableLength.padded_output"]
