"""`python -m harness show --mapping CASE`: per framework, every canonical parameter with the
native tensor it went to, that tensor's real shape, and the transform."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harness.backends import get_backend
from harness.weights import load_cases
from harness.entry.cli import main

SEED = Path(__file__).resolve().parent.parent / "cases" / "seed004_lstm.yaml"
FRAMEWORKS = ("keras", "chainer", "torch")


def run_show(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["show", *args])
    out, err = capsys.readouterr()
    return code, out, err


def framework_sections(text: str) -> dict[str, str]:
    sections = re.split(r"^\[(\w+)\]", text, flags=re.MULTILINE)
    return {sections[i]: sections[i + 1] for i in range(1, len(sections), 2)}


def test_mapping_lists_every_parameter_with_its_native_tensor_and_real_shape(capsys):
    code, out, _ = run_show(capsys, "--mapping", str(SEED))
    assert code == 0
    sections = framework_sections(out)
    assert set(sections) == set(FRAMEWORKS)
    (case,) = load_cases([SEED])
    for framework, text in sections.items():
        backend = get_backend(framework)
        if backend.unavailable_reason():
            assert "skipped" in text
            continue
        with backend.session(case):
            built, _ = backend.build(case)
        for layer, layer_built in built.items():
            for binding in layer_built.bindings:
                shape = list(np.shape(backend.read(binding.native)))
                canonical = list(case.graph.parameter_shapes[f"{layer}/{binding.parameter}"])
                line = f"{layer}/{binding.parameter} {canonical} -> {binding.native_name} {shape}"
                assert line in text, f"{framework}: {line!r} not printed"


def test_mapping_shows_where_each_lstm_gate_goes(capsys):
    _, out, _ = run_show(capsys, "--mapping", str(SEED))
    sections = framework_sections(out)
    flat = {name: " ".join(text.split()) for name, text in sections.items()}
    if get_backend("torch").unavailable_reason() is None:
        assert "lstm/kernel [40, 512] -> LSTM.weight_ih_l0 [512, 40]" in flat["torch"]
        assert "256:384 cell candidate g (Keras c, columns 256:384)" in flat["torch"]
        assert "bias_hh_l0 frozen at zero (requires_grad=False)" in flat["torch"]
    if get_backend("chainer").unavailable_reason() is None:
        assert "lstm/kernel [40, 512] -> StatelessLSTM.upward.W [512, 40]" in flat["chainer"]
        assert "rows 4j+0 a (Keras c, column 256+j), 4j+1 i (Keras column j)" in flat["chainer"]
    if get_backend("keras").unavailable_reason() is None:
        assert "as is; columns 0:128 input gate i, 128:256 forget gate f" in flat["keras"]


def test_mapping_can_be_limited_to_some_frameworks(capsys):
    code, out, _ = run_show(capsys, "--mapping", "--frameworks", "torch", str(SEED))
    assert code == 0 and set(framework_sections(out)) == {"torch"}
    code, _, err = run_show(capsys, "--mapping", "--frameworks", "jax", str(SEED))
    assert code == 2 and "unknown framework(s) jax" in err
