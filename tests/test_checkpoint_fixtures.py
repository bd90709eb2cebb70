"""The shipped checkpoint files (cases/checkpoints/) and their cases (cases/checkpoint_files.yaml):
each file written by its framework's own saver from a model built with its own API (issue 27)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from harness.backends import get_backend
from harness.weights import load_cases_from_file
from harness.checks.runner import PASS, CaseRunner

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "cases" / "checkpoints"
CASES = {case.id.split(".")[1]: case for case in load_cases_from_file(ROOT / "cases" / "checkpoint_files.yaml")}
VARIANT_OF = {"keras": "keras_weights_h5", "torch": "torch_state_dict", "chainer": "chainer_npz"}
FILE_OF = {"keras": "keras_mlp.weights.h5", "torch": "torch_mlp.pt", "chainer": "chainer_mlp.npz"}


def require(framework: str) -> None:
    reason = get_backend(framework).unavailable_reason()
    if reason:
        pytest.skip(reason)


def fixtures_tool():
    spec = importlib.util.spec_from_file_location("make_checkpoint_fixtures", ROOT / "tools" / "make_checkpoint_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def file_tensors(framework: str, path: Path) -> dict[str, np.ndarray]:
    """The file's arrays as its framework's format stores them, read without the harness."""
    if framework == "torch":
        import torch

        return {key: value.numpy() for key, value in torch.load(path, weights_only=True).items()}
    if framework == "chainer":
        with np.load(path) as npz:
            return {key: npz[key] for key in npz.files}
    import h5py

    tensors = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: tensors.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return tensors


@pytest.mark.parametrize("framework", list(VARIANT_OF))
def test_the_tool_reproduces_the_shipped_file_and_the_expected_outputs(framework, tmp_path):
    require(framework)
    outputs = fixtures_tool().MAKERS[framework](tmp_path)
    made, shipped = file_tensors(framework, tmp_path / FILE_OF[framework]), file_tensors(framework, SHIPPED / FILE_OF[framework])
    assert made.keys() == shipped.keys() and made
    for key in made:
        np.testing.assert_array_equal(made[key], shipped[key], err_msg=key)
    # The case states the outputs to 8 significant digits: 1e-7 relative.
    expected = CASES[VARIANT_OF[framework]].spec.expect.outputs["output"]
    np.testing.assert_allclose(outputs, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("framework", list(VARIANT_OF))
def test_the_case_weights_are_the_files_tensors(framework):
    """Independently of the harness's mapping: canonical Dense kernels are (in, out), so torch's
    and chainer's (out, in) weights arrive transposed and Keras' kernels as they are."""
    require(framework)
    case = CASES[VARIANT_OF[framework]]
    tensors = file_tensors(framework, SHIPPED / FILE_OF[framework])
    kernels = {"torch": lambda layer: tensors[f"{layer}.weight"].T,
               "chainer": lambda layer: tensors[f"{layer}/W"].T,
               "keras": lambda layer: tensors[f"layers/{'dense' if layer == 'hidden' else 'dense_1'}/vars/0"]}
    for layer in ("hidden", "output"):
        np.testing.assert_array_equal(case.weights[f"{layer}/kernel"], kernels[framework](layer))
    assert set(case.initializer_descriptions.values()) == {f"from checkpoints/{FILE_OF[framework]} ({framework})"}


@pytest.mark.parametrize("backend", ["numpy", "keras", "chainer", "torch"])
@pytest.mark.parametrize("variant", list(VARIANT_OF.values()))
def test_each_checkpoint_case_passes_in_every_backend(backend, variant):
    require(backend)
    runner = CaseRunner(CASES[variant])
    for check in ("forward", "gradients", "known_values"):
        result = runner.check(backend, check)
        assert result.verdict == PASS, result.message
