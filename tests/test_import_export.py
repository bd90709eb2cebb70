"""`python -m harness import` and `export`, through the command line, with round trips.

The models are written here with the frameworks' own classes (random weights, trained-looking
BatchNorm statistics); the independent check is always the framework's own model computing on
the same inputs, against the NumPy reference of the generated case.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import numpy as np
import pytest

from harness.weights import load_cases_from_file
from harness.weights.checkpoints import canonical_weights
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from harness.checks.runner import run_case
from tests.conftest import backend_or_skip

ALL = ["numpy", "keras", "chainer", "torch"]
RTOL, ATOL = 1e-4, 1e-5  # float32 models (the frameworks' default dtype): the forward default


def passes_everywhere(case):
    """Every backend passes, or shows a difference the case documents (and then only that one):
    the verdicts say so, never an assumption that frameworks have no bugs. Returns the checks
    report. Pairwise comparisons involving a framework with a documented
    difference are that difference again, so they are not judged twice."""
    report = run_case(case, ALL)
    expected = [c for c in report.checks if c.verdict == "expected-difference"]
    differing = {c.framework for c in expected}
    bad = [(c.framework, c.check, c.verdict, c.message) for c in report.checks + report.pairwise
           if c.verdict not in ("pass", "expected-difference")
           and not (c in report.pairwise and {c.framework, c.against} & differing)]
    assert not bad, bad
    return report


KERAS_BIAS_CASE = Path(__file__).resolve().parents[1] / "cases" / "discovered_keras_channels_first_bias.yaml"


def with_keras_channels_first_bias(case):
    """The case with cases/discovered_keras_channels_first_bias.yaml's documented difference for
    each channels_first convolution whose width equals its filters (the layers Keras 3.15.1 meets
    the bias bug on), on the path where Keras runs it natively, and the layers it applies to."""
    (documented,) = {entry.reason: entry for c in load_cases_from_file(KERAS_BIAS_CASE)
                     for entry in c.spec.expected_differences}.values()
    layers = sorted({node.layer for node in case.graph.nodes
                     if (spec := case.graph.layers[node.layer]).type in ("Conv1D", "Conv2D", "Conv3D")
                     and spec.data_format == "channels_first" and spec.use_bias
                     and case.graph.shapes[node.name][-1] == spec.filters})
    entries = [documented.model_copy(update={"when": documented.when.model_copy(
        update={"execution_paths": {layer: "native"}})}) for layer in layers]
    spec = case.spec.model_copy(update={"expected_differences": [*case.spec.expected_differences, *entries]})
    return dataclasses.replace(case, loaded=dataclasses.replace(case.loaded, spec=spec)), layers


def reference_on(case, inputs: dict) -> dict:
    dataset = dataclasses.replace(case.dataset, inputs=inputs)
    return run_reference(dataclasses.replace(case, dataset=dataset), train=False).outputs


# --- Keras: Functional with a shared layer and two outputs ------------------------------------

def keras_functional(path):
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(11)
    layers = keras.layers
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    joined = layers.Concatenate(name="joined")([shared(a), shared(b)])
    normed = layers.BatchNormalization(name="bn")(joined)
    first = layers.Dense(3, activation="softmax", name="first")(normed)
    second = layers.Dense(2, name="second")(normed)
    model = keras.Model([a, b], [first, second])
    rng = np.random.default_rng(0)
    model.get_layer("bn").moving_mean.assign(rng.normal(size=10))
    model.get_layer("bn").moving_variance.assign(rng.uniform(0.5, 1.5, 10))
    model.get_layer("shared").bias.assign(rng.normal(size=5))
    model.save(path)
    return model


def test_import_keras_functional_shared_layer_two_outputs(tmp_path):
    backend_or_skip("keras")
    model = keras_functional(tmp_path / "model.keras")
    out = tmp_path / "cases" / "functional.yaml"
    assert main(["import", str(tmp_path / "model.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert [node.layer for node in case.graph.nodes].count("shared") == 2  # applied twice, one layer
    assert case.graph.outputs == ["first", "second"]
    expected = model([case.dataset.inputs["a"], case.dataset.inputs["b"]], training=False)
    reference = run_reference(case, train=False).outputs
    for name, value in zip(["first", "second"], expected):
        np.testing.assert_allclose(reference[name], np.asarray(value), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
    # ... and back out: the case's weights exported load into the Keras model with its own loader.
    assert main(["export", str(out), "--format", "keras", "--out", str(tmp_path / "back.weights.h5")]) == 0
    fresh = keras_functional(tmp_path / "other.keras")
    for variable in fresh.weights:
        variable.assign(np.zeros(variable.shape))
    fresh.load_weights(tmp_path / "back.weights.h5")
    for original, loaded in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(original, loaded)


def test_import_refuses_what_the_harness_cannot_express(tmp_path, capsys):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_regularizer="l2", name="reg"),
                              keras.layers.Dense(2, name="out")])
    model.save(tmp_path / "m.keras")
    out = tmp_path / "m.yaml"
    assert main(["import", str(tmp_path / "m.keras"), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "reg (Dense): kernel_regularizer is set; the harness has no kernel_regularizer" in printed
    assert not out.exists()


# --- torch: an nn.Sequential CNN --------------------------------------------------------------

MODULE = textwrap.dedent("""
    import torch
    from torch import nn


    class Net(nn.Sequential):
        def __init__(self):
            super().__init__(
                nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)),
                nn.Flatten(), nn.Linear(4 * 3 * 2, 8), nn.Tanh(), nn.LayerNorm(8), nn.Linear(8, 3))


    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)

        def forward(self, x):
            return self.a(x) * 2
""")


def torch_net(tmp_path):
    import torch

    (tmp_path / "net.py").write_text(MODULE)
    namespace: dict = {}
    exec(compile(MODULE, str(tmp_path / "net.py"), "exec"), namespace)
    torch.manual_seed(5)
    net = namespace["Net"]()
    with torch.no_grad():
        net[0][1].running_mean.normal_()
        net[0][1].running_var.uniform_(0.5, 1.5)
    return net.eval(), namespace


def test_import_torch_sequential_cnn_and_export_back(tmp_path):
    backend_or_skip("torch")
    import torch

    net, namespace = torch_net(tmp_path)
    torch.save(net.state_dict(), tmp_path / "net.pt")
    out = tmp_path / "net_case.yaml"
    assert main(["import", f"{tmp_path / 'net.py'}:Net", "--state-dict", str(tmp_path / "net.pt"),
                 "--input-shape", "2,6,4", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    x = case.dataset.inputs["x"]
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_reference(case, train=False).outputs[case.graph.outputs[0]], expected,
                               rtol=RTOL, atol=ATOL)
    # The first Conv2D (4 filters) reads (2, 6, 4) channels_first, so its output is 4 wide: Keras
    # meets its channels_first bias bug wherever it runs that layer natively (oneDNN on), and
    # agrees where the adapter runs it between transposes (docs/environment.md).
    case, layers = with_keras_channels_first_bias(case)
    assert len(layers) == 1
    report = passes_everywhere(case)
    keras = report.outcomes["keras"].result
    native = keras is not None and {p.name: p.path for p in keras.execution_paths}.get(layers[0]) == "native"
    documented = {(c.framework, c.reason) for c in report.checks if c.verdict == "expected-difference"}
    assert documented == ({("keras", case.spec.expected_differences[0].reason)} if native else set())
    # export -> a fresh module's load_state_dict(strict=True) -> the same predictions
    assert main(["export", str(out), "--format", "torch", "--out", str(tmp_path / "exported")]) == 0
    fresh = namespace["Net"]()
    fresh.load_state_dict(torch.load(tmp_path / "exported" / "net_case.pt", weights_only=True), strict=True)
    with torch.no_grad():
        np.testing.assert_array_equal(fresh.eval()(torch.from_numpy(x)).numpy(), expected)


def test_import_refuses_a_module_it_cannot_trace(tmp_path, capsys):
    backend_or_skip("torch")
    import torch

    _, namespace = torch_net(tmp_path)
    torch.save(namespace["Custom"]().state_dict(), tmp_path / "custom.pt")
    assert main(["import", f"{tmp_path / 'net.py'}:Custom", "--state-dict", str(tmp_path / "custom.pt"),
                 "--input-shape", "2", "--out", str(tmp_path / "custom.yaml")]) == 1
    assert "mul (mul): an argument that is not a tensor of the model (a constant)" in capsys.readouterr().out


TRACED = textwrap.dedent("""
    import torch
    import torch.nn.functional as F
    from torch import nn


    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(5, 4)
            self.bn = nn.BatchNorm1d(8)
            self.head = nn.Linear(8, 3)
            self.aux = nn.Linear(4, 2)

        def forward(self, a, b):
            x = torch.cat([torch.tanh(self.shared(a)), F.relu(self.shared(b))], dim=1)
            return self.head(self.bn(x)), self.aux(self.shared(a) + self.shared(b))
""")


def test_import_torch_module_traced_with_fx(tmp_path):
    """A module with its own forward: two inputs, a submodule called four times, functions,
    two outputs; traced with torch.fx into the graph form."""
    backend_or_skip("torch")
    import torch

    (tmp_path / "two.py").write_text(TRACED)
    namespace: dict = {}
    exec(compile(TRACED, str(tmp_path / "two.py"), "exec"), namespace)
    torch.manual_seed(8)
    net = namespace["Two"]()
    with torch.no_grad():
        net.bn.running_mean.normal_()
        net.bn.running_var.uniform_(0.5, 1.5)
    net.eval()
    torch.save(net.state_dict(), tmp_path / "two.pt")
    out = tmp_path / "two_case.yaml"
    assert main(["import", f"{tmp_path / 'two.py'}:Two", "--weights", str(tmp_path / "two.pt"),
                 "--input-shape", "5", "--input-shape", "5", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert [node.layer for node in case.graph.nodes].count("shared") == 4
    with torch.no_grad():
        expected = net(*(torch.from_numpy(case.dataset.inputs[name]) for name in ("a", "b")))
    reference = run_reference(case, train=False).outputs
    for name, value in zip(case.graph.outputs, expected):
        np.testing.assert_allclose(reference[name], value.numpy(), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


# --- export of shipped cases, every format ----------------------------------------------------

@pytest.mark.parametrize("format", ["keras", "torch", "chainer", "npz"])
def test_export_cli_round_trip(format, tmp_path):
    """export -> a case whose weights are that file -> the same weights and the same predictions."""
    if format != "npz":
        backend_or_skip(format)
    source = "cases/conv000_small_cnn.yaml"
    cases = load_cases_from_file(source)
    assert main(["export", source, "--format", format, "--out", str(tmp_path)]) == 0
    for case in cases:
        suffix = {"keras": ".weights.h5", "torch": ".pt", "chainer": ".chainer.npz", "npz": ".npz"}[format]
        back = canonical_weights(case, tmp_path / f"{case.id}{suffix}", format)
        for name, value in case.weights.items():
            np.testing.assert_array_equal(back[name], value, err_msg=f"{case.id} {name}")


# --- chainer: a chainer.Sequential MLP --------------------------------------------------------

CHAIN = textwrap.dedent("""
    import chainer
    import chainer.functions as F
    import chainer.links as L


    class MLP(chainer.Sequential):
        def __init__(self):
            super().__init__(L.Linear(12, 6), L.BatchNormalization(6), F.relu, L.Linear(6, 3), F.tanh)
""")


def test_import_chainer_sequential_mlp_and_export_back(tmp_path):
    backend_or_skip("chainer")
    from harness.backends.chainer._import import chainer

    (tmp_path / "mlp.py").write_text(CHAIN)
    namespace: dict = {}
    exec(compile(CHAIN, str(tmp_path / "mlp.py"), "exec"), namespace)
    np.random.seed(2)  # chainer's initializers draw from numpy's global generator: the same model each run
    rng = np.random.default_rng(2)
    mlp = namespace["MLP"]()
    # Biases and beta start at zero, gamma at one: moved by a trained-looking 0.3 so that they
    # count. (Unit-scale noise on gamma makes BatchNorm amplify float32 rounding in the
    # gradients past the float32 default tolerance, in the NumPy float32 run as much as in the
    # frameworks: a conditioning matter, not a mapping one.)
    for _, parameter in mlp.namedparams():
        if parameter.name in ("b", "beta", "gamma"):
            parameter.array[...] += 0.3 * rng.normal(size=parameter.shape).astype(parameter.dtype)
    mlp[1].avg_mean[...] = rng.normal(size=6)
    mlp[1].avg_var[...] = rng.uniform(0.5, 1.5, 6)
    chainer.serializers.save_npz(str(tmp_path / "mlp.npz"), mlp)
    out = tmp_path / "mlp_case.yaml"
    assert main(["import", f"{tmp_path / 'mlp.py'}:MLP", "--weights", str(tmp_path / "mlp.npz"),
                 "--input-shape", "3,4", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    x = case.dataset.inputs["x"]
    with chainer.using_config("train", False):
        expected = mlp(x).array
    np.testing.assert_allclose(run_reference(case, train=False).outputs[case.graph.outputs[0]], expected,
                               rtol=RTOL, atol=ATOL)
    passes_everywhere(case)
    assert main(["export", str(out), "--format", "chainer", "--out", str(tmp_path / "back.npz")]) == 0
    fresh = namespace["MLP"]()
    chainer.serializers.load_npz(str(tmp_path / "back.npz"), fresh, strict=True)
    with chainer.using_config("train", False):
        np.testing.assert_array_equal(fresh(x).array, expected)


def test_import_keras_sequential_of_many_layer_kinds(tmp_path):
    """Embedding, Conv1D 'same', LSTM with sequences, GRU, LayerNormalization, Dropout, Dense:
    Keras' configs (tuples, options passed through **kwargs) translate and the case passes."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(3)
    layers = keras.layers
    model = keras.Sequential([keras.Input((7,), dtype="int32"), layers.Embedding(10, 4, name="emb"),
                              layers.Conv1D(3, 3, padding="same", name="conv"),
                              layers.LSTM(5, return_sequences=True, name="lstm"), layers.GRU(4, name="gru"),
                              layers.LayerNormalization(name="ln"), layers.Dropout(0.2, name="drop"),
                              layers.Dense(2, activation="relu", name="out")])
    model.save(tmp_path / "m.keras")
    out = tmp_path / "m.yaml"
    assert main(["import", str(tmp_path / "m.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    np.testing.assert_allclose(run_reference(case, train=False).outputs["out"],
                               np.asarray(model(case.dataset.inputs["x"] if "x" in case.dataset.inputs
                                                else next(iter(case.dataset.inputs.values())), training=False)),
                               rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_partial_import_stops_before_the_first_problem(tmp_path, capsys):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="first"),
                              keras.layers.Dense(2, kernel_constraint="non_neg", name="constrained"),
                              keras.layers.Dense(2, name="last")])
    model.save(tmp_path / "m.keras")
    out = tmp_path / "m.yaml"
    assert main(["import", str(tmp_path / "m.keras"), "--out", str(out), "--partial"]) == 0
    assert "constrained (Dense): kernel_constraint is set" in capsys.readouterr().out
    (case,) = load_cases_from_file(out)
    assert list(case.graph.layers) == ["first"]
    first = keras.Model(model.inputs, model.get_layer("first").output)
    np.testing.assert_allclose(run_reference(case, train=False).outputs["first"],
                               np.asarray(first(next(iter(case.dataset.inputs.values())))), rtol=RTOL, atol=ATOL)


def test_show_weights_prints_the_matching_table(tmp_path, capsys):
    backend_or_skip("torch")
    assert main(["export", "cases/recurrent_lstm.yaml", "-k", "stacked", "--format", "torch",
                 "--out", str(tmp_path / "w.pt")]) == 0
    capsys.readouterr()
    assert main(["show", "cases/recurrent_lstm.yaml", "--weights", str(tmp_path / "w.pt")]) == 0
    printed = capsys.readouterr().out
    assert "ok, added" in printed  # the held second bias, folded into the canonical bias
    assert "every tensor fits" in printed  # the stacked case (and any variant of the same model)
    assert "tensor(s) do not fit" in printed and "not in the case's model" in printed  # the others
