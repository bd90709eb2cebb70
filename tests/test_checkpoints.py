"""Checkpoint files in (`weights: {file, format}`) and out (`write_checkpoint`, `harness export`).

The checkpoints here are written by the frameworks themselves (torch.save of a state_dict,
Keras' model.save and save_weights, chainer's serializers.save_npz) from models written with
the frameworks' own classes, with their own random initialisation, into tmp_path: no binary
fixtures in the repository. The independent check is the user's model itself: the NumPy
reference with the loaded weights must compute what the user's model computes, and the case
must then pass on every backend.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from harness.weights import load_cases_from_file
from harness.weights.checkpoints import canonical_weights, read_checkpoint, write_checkpoint
from harness.common.errors import CaseError
from harness.weights.native_weights import WeightsMismatch
from harness.backends.numpy_reference import run_reference
from harness.checks.runner import run_case
from tests.conftest import backend_or_skip

ALL = ["numpy", "keras", "chainer", "torch"]
# float64 cases: the user's model and the reference agree to rounding (~1e-15 relative); 1e-9
# leaves room for the recurrent layers' accumulated products, and a layout error is O(1).
RTOL, ATOL = 1e-9, 1e-12


def write_case(tmp_path, model: dict, inputs: dict, weights: dict, *, name="from_checkpoint"):
    """A float64 case file beside the checkpoint; every model here has one output of 2 units."""
    data = {"name": name, "dtype": "float64", "samples": 3, "inputs": inputs, "model": model, "weights": weights,
            "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
            "loss": {"type": "mean_squared_error", "reduction": "sum"}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (case,) = load_cases_from_file(path)
    return path, case, case.graph.outputs[0]


def assert_passes_everywhere(case):
    report = run_case(case, ALL)
    bad = [(c.framework, c.check, c.verdict, c.message) for c in report.checks + report.pairwise
           if c.verdict not in ("pass", "expected-difference")]
    assert not bad, bad


# --- torch ------------------------------------------------------------------------------------

def torch_lstm_net():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)
            self.out = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.out(self.lstm(x)[0][:, -1])

    torch.manual_seed(3)  # both LSTM biases random, as after training
    return Net().double().eval()


def torch_cnn_net():
    import torch

    nn = torch.nn
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 3 * 2, 2))
    with torch.no_grad():  # trained-looking statistics
        net[1].running_mean.normal_()
        net[1].running_var.uniform_(0.5, 1.5)
        net[1].num_batches_tracked.fill_(9)
    return net.double().eval()


TORCH_CASES = {
    "lstm": (torch_lstm_net, {"x": {"shape": [5, 3], "data": {"normal": {}}}},
             {"sequential": [{"name": "lstm", "type": "LSTM", "units": 4},
                             {"name": "out", "type": "Dense", "units": 2}]}),
    "cnn": (torch_cnn_net, {"x": {"shape": [2, 5, 4], "data": {"normal": {}}}},
            {"sequential": [{"name": "0", "type": "Conv2D", "filters": 3, "kernel_size": 3,
                             "data_format": "channels_first"},
                            {"name": "1", "type": "BatchNormalization", "axis": 1, "epsilon": 1e-5,
                             "momentum": 0.9, "moving_variance": "unbiased"},
                            {"name": "2", "type": "Activation", "activation": "relu"},
                            {"name": "3", "type": "Flatten", "data_format": "channels_last"},
                            {"name": "4", "type": "Dense", "units": 2}]}),
}


@pytest.mark.parametrize("kind", list(TORCH_CASES))
def test_torch_state_dict_in(kind, tmp_path):
    backend_or_skip("torch")
    import torch

    make, inputs, model = TORCH_CASES[kind]
    net = make()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    path, case, output = write_case(tmp_path, model, inputs, {"file": "net.pt"})
    x = case.dataset.inputs["x"]
    expected = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(run_reference(case, train=False).outputs[output], expected, rtol=RTOL, atol=ATOL)
    assert_passes_everywhere(case)


def test_a_mismatching_state_dict_names_every_tensor(tmp_path):
    backend_or_skip("torch")
    import torch

    state = torch_lstm_net().state_dict()
    state["out.weight"] = torch.zeros(3, 4, dtype=torch.float64)  # another model's head
    del state["lstm.bias_ih_l0"]
    state["extra.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "net.pt")
    make, inputs, model = TORCH_CASES["lstm"]
    with pytest.raises(WeightsMismatch) as raised:
        write_case(tmp_path, model, inputs, {"file": "net.pt", "format": "torch"})
    text = raised.value.render()
    assert str(tmp_path / "from_checkpoint.yaml") in text and "weights.file" in text
    assert "out.weight: shape differs (expected shape (2, 4), found (3, 4))" in text
    assert "lstm.bias_ih_l0: missing (expected shape (16,))" in text
    assert "extra.weight: not in the case's model (found (2,))" in text


def test_a_pickled_module_is_refused_with_what_to_do(tmp_path):
    backend_or_skip("torch")
    import torch

    torch.save(torch_cnn_net(), tmp_path / "net.pt")  # the whole module: pickled classes, not a state_dict
    make, inputs, model = TORCH_CASES["cnn"]
    with pytest.raises(CaseError, match=r"(?s)cannot read .*net.pt as a torch checkpoint.*state_dict"):
        write_case(tmp_path, model, inputs, {"file": "net.pt"})


# --- keras ------------------------------------------------------------------------------------

def keras_net():
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(5)
    layers = keras.layers
    net = keras.Sequential([
        keras.Input((5, 4, 2), dtype="float64"),
        layers.Conv2D(3, 3, name="conv", dtype="float64"),
        layers.BatchNormalization(name="bn", dtype="float64"),
        layers.Flatten(name="flat", dtype="float64"),
        layers.Dense(2, name="out", dtype="float64"),
    ])
    rng = np.random.default_rng(1)
    weights = net.get_weights()
    net.set_weights([w + rng.normal(size=w.shape) * 0.3 if i in (1, 2, 3, 4, 7) else w
                     for i, w in enumerate(weights)])  # biases, BN statistics away from 0 / 1
    net.layers[1].moving_variance.assign(rng.uniform(0.5, 1.5, 3))
    return net


KERAS_MODEL = {"sequential": [
    {"name": "conv", "type": "Conv2D", "filters": 3, "kernel_size": 3, "data_format": "channels_last"},
    {"name": "bn", "type": "BatchNormalization", "epsilon": 1e-3, "momentum": 0.99,
     "moving_variance": "unbiased"},
    {"name": "flat", "type": "Flatten", "data_format": "channels_last"},
    {"name": "out", "type": "Dense", "units": 2}]}


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_keras_file_in(suffix, tmp_path):
    backend_or_skip("keras")
    net = keras_net()
    file = tmp_path / f"net{suffix}"
    net.save(file) if suffix == ".keras" else net.save_weights(file)
    path, case, output = write_case(tmp_path, KERAS_MODEL, {"x": {"shape": [5, 4, 2], "data": {"normal": {}}}},
                                       {"file": file.name})
    expected = np.asarray(net(case.dataset.inputs["x"], training=False))
    np.testing.assert_allclose(run_reference(case, train=False).outputs[output], expected, rtol=RTOL, atol=ATOL)
    assert_passes_everywhere(case)


def test_a_keras_file_with_other_layer_names_is_refused(tmp_path):
    backend_or_skip("keras")
    keras_net().save_weights(tmp_path / "net.weights.h5")
    model = {"sequential": [dict(layer, name=f"my_{layer['name']}") for layer in KERAS_MODEL["sequential"]]}
    with pytest.raises(WeightsMismatch, match="holds layer 'conv' in the file, where the case's model has 'my_conv'"):
        write_case(tmp_path, model, {"x": {"shape": [5, 4, 2], "data": {"normal": {}}}}, {"file": "net.weights.h5"})


# --- chainer ----------------------------------------------------------------------------------

def chainer_net():
    from harness.backends.chainer._import import F, L, chainer

    np.random.seed(6)  # chainer's initializers draw from numpy's global generator

    class MLP(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.hidden = L.Linear(4, 5)
                self.bn = L.BatchNormalization(5, eps=1e-3, decay=0.9)
                self.out = L.Linear(5, 2)

        def forward(self, x):
            return self.out(F.tanh(self.bn(self.hidden(x))))

    with chainer.using_config("dtype", np.float64):
        net = MLP()
    for _, parameter in net.namedparams():  # the links' default biases are zeros
        if np.all(parameter.array == 0):
            parameter.array[...] = np.random.normal(size=parameter.shape)
    net.bn.avg_mean[...] = np.random.normal(size=5)
    net.bn.avg_var[...] = np.random.uniform(0.5, 1.5, 5)
    return net


CHAINER_MODEL = {"sequential": [
    {"name": "hidden", "type": "Dense", "units": 5},
    {"name": "bn", "type": "BatchNormalization", "epsilon": 1e-3, "momentum": 0.9, "moving_variance": "unbiased"},
    {"name": "act", "type": "Activation", "activation": "tanh"},
    {"name": "out", "type": "Dense", "units": 2}]}


def test_chainer_npz_in(tmp_path):
    backend_or_skip("chainer")
    from harness.backends.chainer._import import chainer

    net = chainer_net()
    chainer.serializers.save_npz(str(tmp_path / "net.npz"), net)
    path, case, output = write_case(tmp_path, CHAINER_MODEL, {"x": {"shape": [4], "data": {"normal": {}}}},
                                       {"file": "net.npz"})  # auto: not canonical names -> chainer
    assert "(chainer)" in case.initializer_descriptions["hidden/kernel"]
    with chainer.using_config("train", False):
        expected = net(case.dataset.inputs["x"]).array
    np.testing.assert_allclose(run_reference(case, train=False).outputs[output], expected, rtol=RTOL, atol=ATOL)
    assert_passes_everywhere(case)


# --- canonical npz, and the case-file rules ---------------------------------------------------

def test_canonical_npz_in(tmp_path):
    path, case, output = write_case(tmp_path, CHAINER_MODEL, {"x": {"shape": [4], "data": {"normal": {}}}},
                                       {"seed": 3}, name="initialized")
    write_checkpoint(case, "npz", tmp_path / "weights.npz")
    _, loaded, _ = write_case(tmp_path, CHAINER_MODEL, {"x": {"shape": [4], "data": {"normal": {}}}},
                                 {"file": "weights.npz"})
    assert "(npz)" in loaded.initializer_descriptions["hidden/kernel"]
    for name, value in case.weights.items():
        np.testing.assert_array_equal(loaded.weights[name], value)


def test_canonical_npz_mismatch_lists_each_array(tmp_path):
    np.savez(tmp_path / "weights.npz", **{"hidden/kernel": np.zeros((4, 6)), "hidden/bias": np.zeros(5),
                                          "bn/gamma": np.ones(5)})
    with pytest.raises(WeightsMismatch) as raised:
        write_case(tmp_path, CHAINER_MODEL, {"x": {"shape": [4], "data": {"normal": {}}}},
                   {"file": "weights.npz", "format": "npz"})
    text = raised.value.render()
    assert "hidden/kernel: shape differs (expected shape (4, 5), found (4, 6))" in text
    assert "out/kernel: missing (expected shape (5, 2))" in text


@pytest.mark.parametrize("weights, message", [
    ({"file": "absent.pt"}, "no checkpoint file"),
    ({"file": "w.npz", "parameters": {"out/bias": {"values": [0, 0]}}}, "leave out `defaults` and `parameters`"),
    ({"format": "torch"}, "`format` goes with `file`"),
    ({"file": "weights.bin"}, "cannot tell the format of weights.bin"),
])
def test_case_file_errors(weights, message, tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(CaseError, match=message) as raised:
        write_case(tmp_path, CHAINER_MODEL, {"x": {"shape": [4], "data": {"normal": {}}}}, weights)
    assert "weights" in raised.value.render()


# --- out: each framework's own loader ---------------------------------------------------------

def test_export_loads_with_each_frameworks_own_loader(tmp_path):
    """write_checkpoint -> the user's model loads it with the framework's own loader and then
    computes what the reference computes with the case's weights."""
    for framework in ("torch", "keras", "chainer"):
        backend_or_skip(framework)
    import torch

    from harness.backends.chainer._import import chainer

    inputs = {"x": {"shape": [4], "data": {"normal": {}}}}
    # torch: the LSTM net's case, exported and loaded strictly into a fresh torch model
    make, lstm_inputs, model = TORCH_CASES["lstm"]
    _, case, output = write_case(tmp_path, model, lstm_inputs, {"seed": 1}, name="lstm_case")
    write_checkpoint(case, "torch", tmp_path / "lstm.pt")
    net = make()
    net.load_state_dict(torch.load(tmp_path / "lstm.pt", weights_only=True), strict=True)
    np.testing.assert_allclose(net(torch.from_numpy(case.dataset.inputs["x"])).detach().numpy(),
                               run_reference(case, train=False).outputs[output], rtol=RTOL, atol=ATOL)
    # keras: model.load_weights
    _, case, output = write_case(tmp_path, KERAS_MODEL, {"x": {"shape": [5, 4, 2], "data": {"normal": {}}}},
                                    {"seed": 2}, name="cnn_case")
    write_checkpoint(case, "keras", tmp_path / "cnn.weights.h5")
    net = keras_net()
    net.load_weights(tmp_path / "cnn.weights.h5")
    np.testing.assert_allclose(np.asarray(net(case.dataset.inputs["x"], training=False)),
                               run_reference(case, train=False).outputs[output], rtol=RTOL, atol=ATOL)
    # chainer: serializers.load_npz
    _, case, output = write_case(tmp_path, CHAINER_MODEL, inputs, {"seed": 3}, name="mlp_case")
    write_checkpoint(case, "chainer", tmp_path / "mlp.npz")
    net = chainer_net()
    chainer.serializers.load_npz(str(tmp_path / "mlp.npz"), net, strict=True)
    with chainer.using_config("train", False):
        actual = net(case.dataset.inputs["x"]).array
    np.testing.assert_allclose(actual, run_reference(case, train=False).outputs[output], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("format", ["keras", "torch", "chainer", "npz"])
def test_export_then_read_is_exact(format, tmp_path):
    """Every shipped-style layer kind through a file and back: canonical -> file -> canonical."""
    if format != "npz":
        backend_or_skip(format)
    (case,) = load_cases_from_file("cases/recurrent_gru.yaml")[:1]
    file = write_checkpoint(case, format, tmp_path / {"keras": "w.weights.h5", "torch": "w.pt",
                                                      "chainer": "w.chainer.npz", "npz": "w.npz"}[format])
    back = canonical_weights(case, file, format)
    for name, value in case.weights.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)
    assert "ok" in read_checkpoint(case, file, format).table()


# --- framework file -> canonical -> framework file, per layer kind with parameters -----------

@pytest.mark.parametrize("framework", ["torch", "keras", "chainer"])
@pytest.mark.parametrize("kind", ["Dense", "Conv1D", "Conv2D", "Embedding", "BatchNormalization",
                                  "LayerNormalization", "SimpleRNN", "LSTM", "GRU_reset_after",
                                  "GRU_reset_before"])
def test_file_round_trip_per_layer_kind(framework, kind, tmp_path):
    """A user's model (the framework's own classes, its own random initialisation, trained-looking
    statistics) saved with the framework's saver -> canonical_weights, with which the reference
    computes what the user's model computes -> write_checkpoint -> the framework's own loader
    into a fresh user model, which computes the same again."""
    import dataclasses

    from tests.test_native_weights import (chainer_user_model, keras_user_model, kind_case, reference_output,
                                           torch_user_model)

    backend_or_skip(framework)
    case = kind_case(kind, framework)
    x = case.dataset.inputs["x"]
    if framework == "torch":
        import torch

        model, forward = torch_user_model(kind)  # skips torch's missing reset-before GRU
        torch.save(model.state_dict(), tmp_path / "user.pt")
        source, out = tmp_path / "user.pt", tmp_path / "out.pt"
    elif framework == "keras":
        model, forward = keras_user_model(kind, case.graph.inputs["x"], name="layer")  # the case's layer name
        model.save_weights(tmp_path / "user.weights.h5")
        source, out = tmp_path / "user.weights.h5", tmp_path / "out.weights.h5"
    else:
        from harness.backends.chainer._import import chainer

        model, forward = chainer_user_model(kind)
        chainer.serializers.save_npz(str(tmp_path / "user.npz"), model)
        source, out = tmp_path / "user.npz", tmp_path / "out.npz"
    expected = forward(x)
    weights = canonical_weights(case, source, framework)
    np.testing.assert_allclose(reference_output(case, weights), expected, rtol=RTOL, atol=ATOL)
    write_checkpoint(dataclasses.replace(case, weights=weights), framework, out)
    if framework == "torch":
        fresh, fresh_forward = torch_user_model(kind)
        fresh.load_state_dict(torch.load(out, weights_only=True), strict=True)
        fresh.eval()
    elif framework == "keras":
        fresh, fresh_forward = keras_user_model(kind, case.graph.inputs["x"], name="layer")
        for variable in fresh.weights:
            variable.assign(np.zeros(variable.shape))
        fresh.load_weights(out)
    else:
        fresh, fresh_forward = chainer_user_model(kind)
        chainer.serializers.load_npz(str(out), fresh, strict=True)
    np.testing.assert_allclose(fresh_forward(x), expected, rtol=RTOL, atol=ATOL)
