"""Activation modules imported: clipped and thresholded ReLUs from torch (ReLU6, Hardtanh,
Threshold, LeakyReLU modules), Hardswish, GELU and LogSoftmax, and from Keras (keras.layers.ReLU(6.0), as keras.applications' MobileNets write it):
each becomes the case's ReLU / LeakyReLU layer, and the framework's own model is the
independent check of the generated case's reference."""

from __future__ import annotations

import textwrap

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere

TORCH_MLP = textwrap.dedent("""
    import torch.nn as nn

    class Clipped(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Linear(4, 8), nn.ReLU6(), nn.Linear(8, 8), nn.Hardtanh(0.0, 1.5),
                             nn.Linear(8, 8), nn.Threshold(0.25, 0.0), nn.Linear(8, 8),
                             nn.LeakyReLU(0.125), nn.Linear(8, 2))

    class Parametric(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Linear(4, 8), nn.PReLU(8, init=0.2), nn.Linear(8, 8), nn.PReLU(1, init=0.3),
                             nn.Linear(8, 2))

    class Heads(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Linear(4, 8), nn.Hardswish(), nn.Linear(8, 8), nn.GELU(approximate="tanh"),
                             nn.Linear(8, 3), nn.LogSoftmax(dim=1))
""")


def import_torch(tmp_path, name: str, scale: float):
    """The module class `name` of TORCH_MLP, saved with scaled weights and imported; the case
    and the module."""
    import torch

    (tmp_path / "mlp.py").write_text(TORCH_MLP)
    namespace: dict = {}
    exec(compile(TORCH_MLP, str(tmp_path / "mlp.py"), "exec"), namespace)
    torch.manual_seed(3)
    net = namespace[name]()
    with torch.no_grad():
        for module in net:
            if isinstance(module, torch.nn.Linear):
                module.weight.mul_(scale)  # pre-activations beyond the kinks: each piece is used
    torch.save(net.state_dict(), tmp_path / "mlp.pt")
    out = tmp_path / f"{name.lower()}_case.yaml"
    assert main(["import", f"{tmp_path / 'mlp.py'}:{name}", "--weights", str(tmp_path / "mlp.pt"),
                 "--input-shape", "4", "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    return case


def test_import_torch_hardswish_gelu_log_softmax(tmp_path):
    backend_or_skip("torch")
    # Scaled less than the ReLUs: far into GELU's negative tail 1 + tanh(z) cancels, and the
    # reference and the frameworks would then compare rounding noise, not the formula.
    case = import_torch(tmp_path, "Heads", scale=1.5)
    activations = [spec.activation.describe() for spec in case.graph.layers.values()
                   if type(spec).type_name() == "Activation"]
    assert activations == ["hard_swish", "gelu(approximate=tanh)", "log_softmax(axis=1)"]
    passes_everywhere(case)


def test_import_torch_clipped_relus(tmp_path):
    backend_or_skip("torch")
    case = import_torch(tmp_path, "Clipped", scale=4.0)
    kinds = [(type(spec).type_name(), getattr(spec, "max_value", None), getattr(spec, "threshold", None))
             for spec in case.graph.layers.values() if type(spec).type_name() != "Dense"]
    assert kinds == [("ReLU", 6.0, 0.0), ("ReLU", 1.5, 0.0), ("ReLU", None, 0.25), ("LeakyReLU", None, None)]
    passes_everywhere(case)


def test_import_torch_prelu(tmp_path):
    """nn.PReLU(8) -> a PReLU with one alpha per feature, nn.PReLU(1) -> one shared alpha; the
    trained alphas come through the state_dict."""
    backend_or_skip("torch")
    case = import_torch(tmp_path, "Parametric", scale=2.0)
    prelus = {name: spec.shared_axes for name, spec in case.graph.layers.items() if type(spec).type_name() == "PReLU"}
    assert list(prelus.values()) == [[], [1]]
    alphas = [np.unique(case.weights[f"{name}/alpha"]) for name in prelus]
    np.testing.assert_allclose(np.concatenate(alphas), [0.2, 0.3], rtol=1e-6)  # float32 initial values
    passes_everywhere(case)


def test_import_keras_prelu(tmp_path):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(6)
    x = keras.Input((2, 4), name="x")
    per_entry = keras.layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(0.1, 0.4), name="per_entry")(x)
    shared = keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1],
                                name="shared")(keras.layers.Dense(4, name="hidden")(per_entry))
    model = keras.Model(x, keras.layers.Dense(2, name="out")(keras.layers.Flatten(name="flat")(shared)))
    model.save(tmp_path / "prelu.keras")
    out = tmp_path / "prelu_case.yaml"
    assert main(["import", str(tmp_path / "prelu.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert (case.graph.layers["per_entry"].shared_axes, case.graph.layers["shared"].shared_axes) == ([], [1])
    expected = model.predict(case.dataset.inputs["x"], verbose=0)
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_import_keras_relu6(tmp_path):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(5)
    x = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(8, name="hidden", kernel_initializer=keras.initializers.RandomNormal(stddev=4.0))(x)
    clipped = keras.layers.ReLU(6.0, name="relu6")(hidden)
    model = keras.Model(x, keras.layers.Dense(2, name="out")(clipped))
    model.save(tmp_path / "relu6.keras")
    out = tmp_path / "relu6_case.yaml"
    assert main(["import", str(tmp_path / "relu6.keras"), "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    assert case.graph.layers["relu6"].max_value == 6.0
    expected = model.predict(case.dataset.inputs["x"], verbose=0)
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


def test_the_keras_activations_declared_importable_are_exactly_those_that_import(tmp_path):
    """harness/backends/keras/core.py declares which activations an imported Keras `Activation`
    layer yields (`produces=("Activation:<name>", ...)`, read by the support table): each
    harness activation that Keras knows by name, saved as keras.layers.Activation(name) and
    imported, is accepted exactly when declared, and then as that activation."""
    backend_or_skip("keras")
    from harness.backends.keras._import import keras
    from harness.backends.keras.importer import read_keras_model
    from harness.backends.keras.registry import REGISTRY
    from harness.reference.activations import ACTIVATIONS
    from harness.weights.importing import refused_by_specs

    declared = {kind.split(":", 1)[1] for kind in REGISTRY.importable_kinds() if kind.startswith("Activation:")}
    imported = set()
    for name in sorted(ACTIVATIONS):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Activation(name, name="act")])
        model.save(tmp_path / f"{name}.keras")
        result = read_keras_model(tmp_path / f"{name}.keras")
        if not result.problems + refused_by_specs(result) and result.layers[0]["activation"] == name:
            imported.add(name)
    assert imported == declared
