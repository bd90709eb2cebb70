"""`--partial` on graph models and the refusals grouped by type.

A Functional Keras model with two branches, one of them through a layer the harness refuses (a
kernel constraint): the cut keeps the other branch and what does not read the refused layer,
makes the kept leaves outputs, and the reference of the cut case is checked against the
framework's own sub-model on those outputs."""

from __future__ import annotations

import numpy as np

from harness.weights import load_cases_from_file
from harness.entry.cli import main
from harness.case.imported_model import ImportProblem
from harness.weights.importing import problem_summary
from harness.backends.numpy_reference import run_reference
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL


def branching_model(keras):
    x = keras.Input((4,), name="x")
    trunk = keras.layers.Dense(5, activation="tanh", name="trunk")(x)
    kept = keras.layers.Dense(3, name="kept")(trunk)
    refused = keras.layers.Dense(3, kernel_constraint="non_neg", name="refused")(trunk)
    after = keras.layers.Dense(2, name="after_refused")(refused)
    joined = keras.layers.Concatenate(name="joined")([kept, after])
    return keras.Model(x, joined)


def test_partial_graph_keeps_every_node_that_does_not_read_a_problem(tmp_path, capsys):
    backend_or_skip("keras")
    from harness.backends.keras._import import keras

    keras.utils.set_random_seed(4)
    model = branching_model(keras)
    model.save(tmp_path / "g.keras")
    out = tmp_path / "g.yaml"
    assert main(["import", str(tmp_path / "g.keras"), "--out", str(out)]) != 0  # refused whole first
    assert not out.exists()
    assert main(["import", str(tmp_path / "g.keras"), "--out", str(out), "--partial"]) == 0
    printed = capsys.readouterr().out
    assert "Dense x 1: kernel_constraint is set" in printed
    (case,) = load_cases_from_file(out)
    assert [node.layer for node in case.graph.nodes] == ["trunk", "kept"]
    assert case.graph.outputs == ["kept"]
    sub = keras.Model(model.inputs, model.get_layer("kept").output)
    (inputs,) = case.dataset.inputs.values()
    np.testing.assert_allclose(run_reference(case, train=False).outputs["kept"], np.asarray(sub(inputs)),
                               rtol=RTOL, atol=ATOL)


def test_problems_are_grouped_by_type_most_first():
    problems = [ImportProblem(f"dw{i}", "DepthwiseConv2D", "the harness has no layer of this type") for i in range(3)]
    problems += [ImportProblem("pool", "MaxPool2d", "dilation=2"), ImportProblem("pool", "MaxPool2d", "ceil_mode")]
    lines = problem_summary(problems)
    assert lines[0] == "5 problem(s) in 4 layer(s) the harness cannot express; by type:"
    assert lines[1] == "  DepthwiseConv2D x 3: the harness has no layer of this type"
    assert lines[2] == "  MaxPool2d x 2: ceil_mode; dilation=2"


TORCH_BRANCHES = '''
import torch
import torch.nn as nn

class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 5)
        self.kept = nn.Linear(5, 3)
        self.odd = nn.Softmin(dim=1)
        self.after = nn.Linear(5, 3)

    def forward(self, x):
        h = torch.tanh(self.trunk(x))
        return self.kept(h) + self.after(self.odd(h))
'''


def test_partial_graph_from_torch_fx(tmp_path, capsys):
    backend_or_skip("torch")
    import torch

    (tmp_path / "branches.py").write_text(TORCH_BRANCHES)
    namespace: dict = {}
    exec(compile(TORCH_BRANCHES, str(tmp_path / "branches.py"), "exec"), namespace)
    torch.manual_seed(2)
    net = namespace["Branches"]()
    torch.save(net.state_dict(), tmp_path / "b.pt")
    out = tmp_path / "b.yaml"
    assert main(["import", f"{tmp_path / 'branches.py'}:Branches", "--weights", str(tmp_path / "b.pt"),
                 "--input-shape", "4", "--out", str(out), "--partial"]) == 0
    assert "Softmin x 1" in capsys.readouterr().out
    (case,) = load_cases_from_file(out)
    kept_layers = {node.layer for node in case.graph.nodes}
    assert "odd" not in kept_layers and "after" not in kept_layers and "kept" in kept_layers
    (inputs,) = case.dataset.inputs.values()
    with torch.no_grad():
        expected = net.kept(torch.tanh(net.trunk(torch.from_numpy(inputs)))).numpy()
    outputs = run_reference(case, train=False).outputs
    matching = [name for name in case.graph.outputs if expected.shape == outputs[name].shape
                and np.allclose(outputs[name], expected, rtol=RTOL, atol=ATOL)]
    assert matching, "no output of the cut case computes torch's kept branch"
