"""The named vision models, built by their libraries' own constructors with random weights (no
downloads), saved, imported with `python -m harness import` and run on all four backends
(forward, intermediates, gradients): torchvision resnet18, mobilenet_v2, squeezenet1_1, vgg11
and keras.applications MobileNet, MobileNetV2, ResNet50, DenseNet121.

An opt-in group (marker `vision_models`; tests/conftest.py leaves it out unless the marker
expression names it or HARNESS_VISION_MODELS=1): each model takes from seconds to minutes.
Run it with `make test-vision-models` or `tox -e vision-models`; torchvision comes from
`python tools/install.py --vision-models` (docs/vision-models.md). Each test prints its import
and run times; with HARNESS_VISION_TIMES=FILE it also appends them to FILE as JSON lines.

Random initialisation and eval mode: BatchNormalization's running statistics start at mean 0 and
variance 1, with which a random MobileNetV2 computes outputs of about 1e-10 (each block shrinks
them): every comparison would pass within atol whatever the frameworks computed. So every test
asserts that the outputs are not vanishing (standard deviation over OUTPUT_SCALE), and a torch
model whose outputs vanish with torchvision's initialisation gets running statistics measured
on the case's kind of data (train-mode passes with a cumulative average, then torch's default
momentum again), as a trained network has, and runs in float64: with normalised activations
float32 rounding through 50 layers exceeds float32's default tolerances on a few elements
(resnet18 so calibrated: 1 of 2048 elements of one BatchNorm at 1.7e-5, conv1's kernel gradient
at 2 % relative, on all four backends alike against the float64 reference), which says nothing
about the translation; float64 checks it at float64's tolerances. The Keras models are treated alike
(Keras MobileNet: outputs of 5e-21, MobileNetV2: 9e-13 with moving statistics 0 and 1), built with
`classifier_activation=None` (logits, not a softmax of 1000 values near 1e-3).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import passes_everywhere, with_keras_channels_first_bias

pytestmark = pytest.mark.vision_models

NETS = Path(__file__).resolve().parent / "torchvision_nets.py"
BATCH = 4  # the importer's case draws 4 samples; the BN statistics are measured on the same shape
SIZE = 32
OUTPUT_SCALE = 1e-2
"""The least standard deviation of a model's outputs for its comparisons to mean something
(their atol is 1e-5 in float32)."""

TIMEOUT = 1800  # DenseNet121 (428 layers) runs minutes on a busy two-core machine; the default is 600 s

# The harness's element limit (docs/security.md) is 20,000,000; vgg11's classifier alone holds
# 123 million parameters (Linear(25088, 4096) and Linear(4096, 4096)).
ELEMENTS = {"vgg11": "200000000", "ResNet50": "40000000"}  # ResNet50: 25.6 million


def record(model: str, **times) -> None:
    line = {"model": model, **{key: round(value, 1) if key.endswith("_s") else value
                               for key, value in times.items()}}
    print(json.dumps(line))
    if os.environ.get("HARNESS_VISION_TIMES"):
        with open(os.environ["HARNESS_VISION_TIMES"], "a") as handle:
            handle.write(json.dumps(line) + "\n")


def measure_batch_statistics(net, shape) -> None:
    """BatchNorm running statistics measured on normal data of the case's shape (a cumulative
    average over a few train-mode passes), then torch's default momentum again: what the
    importer translates (it refuses momentum=None)."""
    import torch

    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    net.train()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(4):
            net(torch.randn(shape, generator=generator))
    for norm in norms:
        norm.momentum = 0.1
    net.eval()


def measure_keras_statistics(keras, model, data) -> None:
    """BatchNormalization's moving statistics set to the statistics of its inputs on `data` (one
    training-mode call with momentum 0), then the layers' momentum again."""
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    model(data, training=True)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum


def run_everywhere(name: str, case, expected_scale: float, started: dict) -> None:
    assert expected_scale > OUTPUT_SCALE, f"{name}'s outputs vanish (std {expected_scale:.2e})"
    begun = time.perf_counter()
    case, keras_bias_layers = with_keras_channels_first_bias(case)
    passes_everywhere(case)
    record(name, layers=len(case.graph.nodes), output_std=float(expected_scale),
           keras_bias_documented=len(keras_bias_layers), **started, run_s=time.perf_counter() - begun)


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "squeezenet1_1", pytest.param("vgg11", marks=pytest.mark.xfail(
    raises=AssertionError, strict=True,
    reason="2026-12-07: forward and intermediates pass on all four backends and gradients on Keras, Chainer "
           "and torch, but the NumPy backend's float32 gradients differ from the float64 reference on 14 of "
           "53 tensors (features.0's kernel: 1653 elements, up to 5 % relative); not diagnosed yet"))])
def test_torchvision_model(name, tmp_path, monkeypatch):
    backend_or_skip("torch")
    pytest.importorskip("PIL", reason="pillow: python tools/install.py --vision-models")
    import torch

    from harness.backends.torch.torchvision_compat import torchvision_models

    try:
        models = torchvision_models()
    except ModuleNotFoundError as exc:
        pytest.skip(str(exc))
    if name in ELEMENTS:
        monkeypatch.setenv("HARNESS_MAX_ELEMENTS", ELEMENTS[name])
    torch.manual_seed(0)
    net = getattr(models, name)(weights=None).eval()
    with torch.no_grad():
        scale = float(net(torch.randn(BATCH, 3, SIZE, SIZE)).std())
    built = name
    if scale <= OUTPUT_SCALE:  # vanishing with torchvision's initialisation: see the module's docstring
        measure_batch_statistics(net, (BATCH, 3, SIZE, SIZE))
        net.double()
        built = f"{name}_float64"  # tests/torchvision_nets.py builds it with float64 parameters
    torch.save(net.state_dict(), tmp_path / f"{name}.pt")
    out = tmp_path / f"{name}.yaml"
    begun = time.perf_counter()
    assert main(["import", f"{NETS}:{built}", "--weights", str(tmp_path / f"{name}.pt"),
                 "--input-shape", f"3,{SIZE},{SIZE}", "--out", str(out)]) == 0
    import_s = time.perf_counter() - begun
    (case,) = load_cases_from_file(out)
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs)).numpy()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=1e-4, atol=1e-5)  # float32's forward default
    run_everywhere(name, case, float(expected.std()), {"import_s": import_s, "dtype": case.spec.dtype,
                                                       "initial_output_std": scale})


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("name", [*(pytest.param(name, marks=pytest.mark.xfail(
    raises=AssertionError, strict=True,
    reason="2026-12-07: every layer imports, but with Keras' initial moving statistics the outputs vanish "
           "(5e-21, 9e-13: a float32 pass would be vacuous), and with measured statistics in float64 the "
           "import's own check finds the written case 1.5e-4 (MobileNet) / 2.2e-4 (MobileNetV2) from the "
           "saved model at float32's tolerances (the case is not written in float64); not diagnosed yet"))
    for name in ("MobileNet", "MobileNetV2")), "ResNet50", "DenseNet121"])
def test_keras_application(name, tmp_path, monkeypatch):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    if name in ELEMENTS:
        monkeypatch.setenv("HARNESS_MAX_ELEMENTS", ELEMENTS[name])
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(SIZE, SIZE, 3),
                                               classifier_activation=None)
    data = np.random.default_rng(1).standard_normal((BATCH, SIZE, SIZE, 3))
    if float(np.std(model.predict(data.astype("float32"), verbose=0))) <= OUTPUT_SCALE:
        floatx = keras.config.floatx()  # vanishing: measured statistics in float64 (the module's docstring)
        keras.config.set_floatx("float64")
        try:
            keras.utils.set_random_seed(0)
            model = getattr(keras.applications, name)(weights=None, input_shape=(SIZE, SIZE, 3),
                                                       classifier_activation=None)
            measure_keras_statistics(keras, model, data)
        finally:
            keras.config.set_floatx(floatx)
    model.save(tmp_path / f"{name}.keras")
    out = tmp_path / f"{name}.yaml"
    begun = time.perf_counter()
    assert main(["import", str(tmp_path / f"{name}.keras"), "--out", str(out)]) == 0
    import_s = time.perf_counter() - begun
    (case,) = load_cases_from_file(out)
    (inputs,) = case.dataset.inputs.values()
    expected = np.asarray(model.predict(inputs, verbose=0))
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, expected, rtol=1e-4, atol=1e-5)
    run_everywhere(name, case, float(expected.std()), {"import_s": import_s, "dtype": case.spec.dtype})
