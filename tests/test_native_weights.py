"""The native-weights API (harness/weights/native_weights.py) against the frameworks themselves.

* Round trip: canonical -> native -> canonical is bit-identical, per framework and per layer
  example with parameters (non-symmetric random weights, so a transposed or reordered block
  shows).
* Against a model a user writes with the framework's own classes, per parameterised layer
  kind: the user's model, with its own random initialisation (torch's second LSTM bias and
  BatchNorm statistics included), is saved the framework's way; `from_native` turns that into
  canonical weights with which the NumPy reference computes what the user's model computes.
  The other way, `to_native` of random canonical weights loads into a fresh user model with the
  framework's strict loader (torch `load_state_dict(strict=True)`, Keras `set_weights`, chainer
  `load_npz`), which then computes what the reference computes. The user's models are written
  here from the frameworks' documentation, not from the adapters.
* Every mismatch is reported, one problem per tensor.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.backends.base import Unsupported
from harness.weights import cases_from_data
from harness.case.examples import LAYER_EXAMPLES, single_layer_case
from harness.reference.layers import LAYERS
from harness.weights.native_weights import FRAMEWORKS, WeightsMismatch, framework_backend, native_layout
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip

# float64 everywhere: the user's model and the reference agree to rounding (~1e-15 relative);
# 1e-9 leaves room for the recurrent layers' accumulated products, and a layout error is O(1).
RTOL, ATOL = 1e-9, 1e-12


def layout_or_skip(case, framework):
    """The framework's layout of the case, or a skip with the adapter's own reason where the
    framework cannot build the example (Keras' transposed convolutions have no groups, and no
    dilation on TensorFlow's CPU; chainer's Deconvolution cannot take every torch output_padding):
    native_layout turns that Unsupported into a user's CaseError, so ask the adapter first."""
    backend_or_skip(framework)
    backend = framework_backend(framework)
    try:
        with backend.session(case):
            backend.build_native(case)
    except Unsupported as exc:
        pytest.skip(f"{framework} cannot build it: {exc}")
    return native_layout(case, framework)


PARAMETERISED = [e for e in LAYER_EXAMPLES if single_layer_case(e).graph.parameter_shapes]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("example", PARAMETERISED, ids=lambda e: e.id)
def test_canonical_native_canonical_is_exact(framework, example):
    case = single_layer_case(example)
    layout = layout_or_skip(case, framework)
    native = layout.to_native(case.weights)
    assert list(native) == layout.keys()
    for tensor in layout.tensors:
        assert native[tensor.key].shape == tensor.shape, tensor.key
    back = layout.from_native(native)
    assert list(back) == list(case.graph.parameter_shapes)
    for name, value in case.weights.items():
        np.testing.assert_array_equal(back[name], value, err_msg=f"{framework} {name}")


# --- the same layer kinds, written by a user in each framework --------------------------------

def one_layer_case(layer: dict, shape: list[int], *, integers: int | None = None, seed: int = 0):
    """A float64 case: one layer named `layer` on input `x` (batch 3)."""
    data = {"integers": {"low": 0, "high": integers}} if integers else {"normal": {}}
    spec = {
        "name": "user_model", "dtype": "float64", "samples": 3, "data_seed": seed,
        "inputs": {"x": {"shape": shape, "data": data}},
        "model": {"sequential": [{"name": "layer", **layer}]},
        "weights": {"seed": seed, "defaults": {"kernel": "glorot_uniform", "recurrent_kernel": "glorot_uniform",
                                                "bias": {"initializer": "random_normal", "stddev": 0.5},
                                                "gamma": {"initializer": "random_uniform", "minval": 0.5,
                                                          "maxval": 1.5},
                                                "beta": {"initializer": "random_normal", "stddev": 0.5},
                                                "moving_mean": {"initializer": "random_normal", "stddev": 0.5},
                                                "moving_variance": {"initializer": "random_uniform",
                                                                    "minval": 0.5, "maxval": 1.5},
                                                "embeddings": {"initializer": "random_normal", "stddev": 1.0}}},
    }
    output = LAYERS[layer["type"]].model_validate(layer).output_shape([tuple(shape)])
    (case,) = cases_from_data({**spec, "targets": {"t": {"shape": list(output), "data": {"normal": {}}}},
                               "loss": {"type": "mean_squared_error", "reduction": "sum"}})
    return case


BN = {"type": "BatchNormalization", "epsilon": 1e-3, "momentum": 0.9, "moving_variance": "unbiased"}
KINDS = {
    # kind: (case layer, input shape, channels_first input shape for torch/chainer or None, integers)
    "Dense": ({"type": "Dense", "units": 3}, [4], None, None),
    "Conv1D": ({"type": "Conv1D", "filters": 3, "kernel_size": 3}, [7, 2], [2, 7], None),
    "Conv2D": ({"type": "Conv2D", "filters": 3, "kernel_size": [3, 2]}, [5, 4, 2], [2, 5, 4], None),
    "Embedding": ({"type": "Embedding", "input_dim": 5, "output_dim": 3}, [4], None, 5),
    "BatchNormalization": (BN, [4], None, None),
    "LayerNormalization": ({"type": "LayerNormalization", "epsilon": 1e-3}, [4], None, None),
    "SimpleRNN": ({"type": "SimpleRNN", "units": 4}, [3, 2], None, None),
    "LSTM": ({"type": "LSTM", "units": 4}, [3, 2], None, None),
    "GRU_reset_after": ({"type": "GRU", "units": 4, "reset_after": True}, [3, 2], None, None),
    "GRU_reset_before": ({"type": "GRU", "units": 4, "reset_after": False}, [3, 2], None, None),
}


def kind_case(kind: str, framework: str, seed: int = 0):
    layer, shape, first, integers = KINDS[kind]
    if first is not None and framework != "keras":  # torch's and chainer's layers are channels_first
        layer, shape = {**layer, "data_format": "channels_first"}, first
    elif first is not None:
        layer = {**layer, "data_format": "channels_last"}
    return one_layer_case(layer, shape, integers=integers, seed=seed)


def torch_user_model(kind: str):
    """(module, forward) as a torch user writes them, float64, randomly initialised."""
    import torch

    torch.manual_seed(7)
    nn = torch.nn
    modules = {
        "Dense": lambda: nn.Linear(4, 3), "Conv1D": lambda: nn.Conv1d(2, 3, 3),
        "Conv2D": lambda: nn.Conv2d(2, 3, (3, 2)), "Embedding": lambda: nn.Embedding(5, 3),
        "BatchNormalization": lambda: nn.BatchNorm1d(4, eps=1e-3, momentum=0.1),
        "LayerNormalization": lambda: nn.LayerNorm(4, eps=1e-3),
        "SimpleRNN": lambda: nn.RNN(2, 4, batch_first=True), "LSTM": lambda: nn.LSTM(2, 4, batch_first=True),
        "GRU_reset_after": lambda: nn.GRU(2, 4, batch_first=True),
    }
    if kind not in modules:
        pytest.skip(f"torch has no {kind} module")
    model = nn.ModuleDict({"layer": modules[kind]()}).double()
    if kind == "BatchNormalization":
        with torch.no_grad():  # trained-looking statistics
            model["layer"].running_mean.normal_()
            model["layer"].running_var.uniform_(0.5, 1.5)
            model["layer"].num_batches_tracked.fill_(17)
    model.eval()
    recurrent = kind in ("SimpleRNN", "LSTM", "GRU_reset_after")

    def forward(x):
        x = torch.from_numpy(x)
        y = model["layer"](x)
        return (y[0][:, -1] if recurrent else y).detach().numpy()

    return model, forward


def keras_user_model(kind: str, shape, name: str | None = None):
    from harness.backends.keras._import import keras

    layers = keras.layers
    f64 = {"dtype": "float64"}
    kinds = {
        "Dense": lambda: layers.Dense(3, **f64), "Conv1D": lambda: layers.Conv1D(3, 3, **f64),
        "Conv2D": lambda: layers.Conv2D(3, (3, 2), **f64), "Embedding": lambda: layers.Embedding(5, 3, **f64),
        "BatchNormalization": lambda: layers.BatchNormalization(epsilon=1e-3, momentum=0.9, **f64),
        "LayerNormalization": lambda: layers.LayerNormalization(epsilon=1e-3, **f64),
        "SimpleRNN": lambda: layers.SimpleRNN(4, **f64), "LSTM": lambda: layers.LSTM(4, **f64),
        "GRU_reset_after": lambda: layers.GRU(4, reset_after=True, **f64),
        "GRU_reset_before": lambda: layers.GRU(4, reset_after=False, **f64),
    }
    keras.utils.set_random_seed(7)
    layer = kinds[kind]()
    if name is not None:  # a Keras file records layer names: the case's must match
        layer = type(layer).from_config({**layer.get_config(), "name": name})
    model = keras.Sequential([keras.Input(tuple(shape), dtype="int64" if kind == "Embedding" else "float64"),
                              layer])
    if kind == "BatchNormalization":  # trained-looking statistics
        rng = np.random.default_rng(3)
        gamma, beta, mean, variance = model.get_weights()
        model.set_weights([gamma + 0.3, beta + 0.2, rng.normal(size=4), rng.uniform(0.5, 1.5, 4)])
    return model, (lambda x: np.asarray(model(x, training=False), dtype=np.float64))


def chainer_user_model(kind: str):
    from harness.backends.chainer._import import L, chainer

    np.random.seed(7)  # chainer's initializers draw from numpy's global generator
    with chainer.using_config("dtype", np.float64):
        links = {
            "Dense": lambda: L.Linear(4, 3), "Conv1D": lambda: L.Convolution1D(2, 3, 3),
            "Conv2D": lambda: L.Convolution2D(2, 3, (3, 2)), "Embedding": lambda: L.EmbedID(5, 3),
            "BatchNormalization": lambda: L.BatchNormalization(4, eps=1e-3, decay=0.9),
            "LayerNormalization": lambda: L.LayerNormalization(4, eps=1e-3),
            "SimpleRNN": lambda: L.NStepRNNTanh(1, 2, 4, 0.0), "LSTM": lambda: L.LSTM(2, 4),
            "GRU_reset_after": lambda: L.NStepGRU(1, 2, 4, 0.0),
            "GRU_reset_before": lambda: L.StatelessGRU(2, 4),
        }
        chain = chainer.Chain()
        with chain.init_scope():
            chain.layer = links[kind]()
    for _, parameter in chain.namedparams():  # the links' default biases are zeros
        if np.all(parameter.array == 0):
            parameter.array[...] = np.random.normal(size=parameter.shape)
    if kind == "BatchNormalization":
        chain.layer.avg_mean[...] = np.random.normal(size=4)
        chain.layer.avg_var[...] = np.random.uniform(0.5, 1.5, 4)
    if kind == "LayerNormalization":
        chain.layer.gamma.array[...] = np.random.uniform(0.5, 1.5, 4)
    link = chain.layer

    def forward(x):
        with chainer.using_config("train", False):
            if kind == "Embedding":
                return link(x.astype(np.int32)).array
            if kind in ("SimpleRNN", "GRU_reset_after"):
                _, ys = link(None, list(x))
                return np.stack([y.array[-1] for y in ys])
            if kind == "LSTM":
                link.reset_state()
                for t in range(x.shape[1]):
                    h = link(x[:, t])
                return h.array
            if kind == "GRU_reset_before":
                h = np.zeros((x.shape[0], 4))
                for t in range(x.shape[1]):
                    h = link(h, x[:, t])
                return h.array
            return link(x).array

    return chain, forward


def reference_output(case, weights=None):
    if weights is not None:
        case = dataclasses.replace(case, weights={k: np.asarray(v, np.float64) for k, v in weights.items()})
    return run_reference(case, train=False).outputs["layer"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_torch_user_model_both_ways(kind, tmp_path):
    backend_or_skip("torch")
    import torch

    model, forward = torch_user_model(kind)
    case = kind_case(kind, "torch")
    layout = native_layout(case, "torch")
    x = case.dataset.inputs["x"]
    # The user's trained model in: its state_dict, as torch.save writes and torch.load reads it.
    torch.save(model.state_dict(), tmp_path / "user.pt")
    state = {k: v.numpy() for k, v in torch.load(tmp_path / "user.pt", weights_only=True).items()}
    weights = layout.from_native(state)
    np.testing.assert_allclose(reference_output(case, weights), forward(x), rtol=RTOL, atol=ATOL)
    # The case's weights out: into a fresh user model, strictly.
    fresh, fresh_forward = torch_user_model(kind)
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in layout.to_native(case.weights).items()},
                          strict=True)
    fresh.eval()
    np.testing.assert_allclose(fresh_forward(x), reference_output(case), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_keras_user_model_both_ways(kind):
    backend_or_skip("keras")
    case = kind_case(kind, "keras")
    layout = native_layout(case, "keras")
    x = case.dataset.inputs["x"]
    model, forward = keras_user_model(kind, case.graph.inputs["x"])
    weights = layout.from_native(dict(zip(layout.keys(), model.get_weights())))
    np.testing.assert_allclose(reference_output(case, weights), forward(x), rtol=RTOL, atol=ATOL)
    fresh, fresh_forward = keras_user_model(kind, case.graph.inputs["x"])
    fresh.set_weights(list(layout.to_native(case.weights).values()))
    np.testing.assert_allclose(fresh_forward(x), reference_output(case), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_chainer_user_model_both_ways(kind, tmp_path):
    backend_or_skip("chainer")
    from harness.backends.chainer._import import chainer

    chain, forward = chainer_user_model(kind)
    case = kind_case(kind, "chainer")
    layout = native_layout(case, "chainer")
    x = case.dataset.inputs["x"]
    chainer.serializers.save_npz(str(tmp_path / "user.npz"), chain)
    with np.load(tmp_path / "user.npz") as npz:
        weights = layout.from_native({key: npz[key] for key in npz.files})
    np.testing.assert_allclose(reference_output(case, weights), forward(x), rtol=RTOL, atol=ATOL)
    fresh, fresh_forward = chainer_user_model(kind)
    with open(tmp_path / "case.npz", "wb") as file:
        np.savez(file, **layout.to_native(case.weights))
    chainer.serializers.load_npz(str(tmp_path / "case.npz"), fresh, strict=True)
    np.testing.assert_allclose(fresh_forward(x), reference_output(case), rtol=RTOL, atol=ATOL)


# --- mismatches --------------------------------------------------------------------------------

def test_every_mismatch_is_one_problem_naming_the_tensor():
    backend_or_skip("torch")
    case = kind_case("LSTM", "torch")
    layout = native_layout(case, "torch")
    native = layout.to_native(case.weights)
    native["layer.weight_ih_l0"] = native["layer.weight_ih_l0"].T  # transposed by mistake
    del native["layer.bias_ih_l0"]
    native["layer.weight_ih_l1"] = np.zeros((16, 4))
    with pytest.raises(WeightsMismatch) as raised:
        layout.from_native(native)
    problems = {p.name: p for p in raised.value.problems}
    assert set(problems) == {"layer.weight_ih_l0", "layer.bias_ih_l0", "layer.weight_ih_l1"}
    assert (problems["layer.weight_ih_l0"].expected, problems["layer.weight_ih_l0"].found) == ((16, 2), (2, 16))
    assert problems["layer.bias_ih_l0"].problem == "missing" and problems["layer.bias_ih_l0"].expected == (16,)
    assert problems["layer.weight_ih_l1"].problem == "not in the case's model"
    text = raised.value.render()
    assert "layer.weight_ih_l0: shape differs (expected shape (16, 2), found (2, 16))" in text


def test_a_held_value_the_case_cannot_compute_with_is_refused():
    """chainer's LayerNormalization always has beta; the case without `center` needs it zero."""
    backend_or_skip("chainer")
    case = one_layer_case({"type": "LayerNormalization", "epsilon": 1e-3, "center": False}, [4])
    layout = native_layout(case, "chainer")
    native = layout.to_native(case.weights)
    np.testing.assert_array_equal(native["layer/beta"], np.zeros(4))
    layout.from_native(native)  # zeros fit
    native["layer/beta"] = np.full(4, 0.5)
    with pytest.raises(WeightsMismatch, match="layer/beta: must equal the held value"):
        layout.from_native(native)


def test_a_folded_tensor_adds_into_its_parameter():
    """torch's bias_hh_l0 of an LSTM adds to the canonical bias, gate by gate ([i, f, g, o] rows
    are Keras' [i, f, c, o] columns)."""
    backend_or_skip("torch")
    case = kind_case("LSTM", "torch")
    layout = native_layout(case, "torch")
    native = layout.to_native(case.weights)
    np.testing.assert_array_equal(native["layer.bias_hh_l0"], np.zeros(16))
    native["layer.bias_hh_l0"] = np.arange(16.0)
    back = layout.from_native(native)
    np.testing.assert_array_equal(back["layer/bias"], case.weights["layer/bias"] + np.arange(16.0))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_case_file_has_a_complete_layout(framework):
    """Every tensor of every case's native model is declared (bound or held): layout_of raises
    for one that is not. Cases a framework cannot build are its skips, not this test's."""
    from harness.weights import load_cases
    from harness.common.errors import CaseError

    backend_or_skip(framework)
    built = 0
    for case in load_cases("cases"):
        try:
            layout = native_layout(case, framework)
        except CaseError as exc:
            assert "cannot build this case" in str(exc)
            continue
        back = layout.from_native(layout.to_native(case.weights))
        for name, value in case.weights.items():
            np.testing.assert_array_equal(back[name], value, err_msg=f"{case.id} {name}")
        built += 1
    assert built > 0


# --- shipped cases, through each framework's own loader and getter ----------------------------

SHIPPED = ["cases/conv000_small_cnn.yaml", "cases/conv002_dilation_groups.yaml", "cases/recurrent_lstm.yaml",
           "cases/recurrent_gru.yaml", "cases/batchnorm_mlp.yaml", "cases/embedding_classifier.yaml",
           "cases/layernorm_sequence.yaml", "cases/seed002_functional.yaml"]


def load_natively(framework: str, model, native: dict, tmp_path) -> None:
    """The native tensors into the harness's model of the case with the framework's own loader."""
    if framework == "torch":
        import torch

        model.container.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in native.items()},
                                        strict=True)
    elif framework == "keras":
        model.container.set_weights(list(native.values())[:len(model.tensors)])  # optional ones: none in Keras
    else:
        from harness.backends.chainer._import import chainer

        with open(tmp_path / "native.npz", "wb") as file:
            np.savez(file, **native)
        chainer.serializers.load_npz(str(tmp_path / "native.npz"), model.container, strict=True)


def read_natively(framework: str, model, tmp_path):
    """The model's tensors as the framework's own getter gives them."""
    if framework == "torch":
        return {k: v.detach().numpy().copy() for k, v in model.container.state_dict().items()}
    if framework == "keras":
        return model.container.get_weights()  # a plain list, by position
    from harness.backends.chainer._import import chainer

    chainer.serializers.save_npz(str(tmp_path / "saved.npz"), model.container)
    with np.load(tmp_path / "saved.npz") as npz:
        return {key: npz[key] for key in npz.files}


def shipped_cases():
    from harness.weights import load_cases_from_file

    return [pytest.param(case, id=case.id) for path in SHIPPED for case in load_cases_from_file(path)]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", shipped_cases())
def test_shipped_case_through_the_frameworks_loader(framework, case, tmp_path):
    """native_weights -> the framework's loader (load_state_dict strict / set_weights /
    load_npz strict) into the model the adapter builds -> the framework's getter ->
    canonical_from_native gives the case's weights back bit for bit; and the adapter's layers,
    holding only what the framework's loader put there, compute what the reference computes."""
    from harness.common.compare import DEFAULT_TOLERANCES
    from harness.weights.native_weights import canonical_from_native, native_weights

    backend = backend_or_skip(framework)
    native = native_weights(case, framework)
    with backend.session(case):
        try:
            built, model = backend.build_native(case)
        except Unsupported as exc:
            pytest.skip(str(exc))
        for tensor in model.tensors.values():  # nothing left from the adapter's own initialisation
            value = np.array(backend.read(tensor))
            if value.ndim and value.dtype.kind == "f":  # counters (torch's num_batches_tracked) stay
                backend.assign(tensor, np.full_like(value, 0.25))
        load_natively(framework, model, native, tmp_path)
        back = canonical_from_native(case, framework, read_natively(framework, model, tmp_path))
        for name, value in case.weights.items():
            np.testing.assert_array_equal(back[name], value, err_msg=f"{framework} {name}")
        inputs = {name: backend.tensor(array, requires_grad=False) for name, array in case.dataset.inputs.items()}
        outputs = {name: backend.to_numpy(tensor) for name, tensor in backend.forward(case, built, inputs).items()
                   if name in case.graph.outputs}
    expected = run_reference(case, train=False).outputs
    tolerance = DEFAULT_TOLERANCES[case.spec.dtype]["forward"]
    override = case.spec.tolerance.forward if case.spec.tolerance else None
    rtol, atol = (override.rtol, override.atol) if override else (tolerance.rtol, tolerance.atol)
    paths = {path.name: path.path for path in backend.execution_paths(case)}
    if case.expected_difference(framework, "forward", paths):
        pytest.skip(f"{case.id}: a documented forward difference in {framework}")
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=rtol, atol=atol, err_msg=f"{framework} {name}")
