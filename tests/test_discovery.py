"""The case generator, the shrinker and reproducers (docs/discovery.md);
campaigns are in tests/test_campaign.py."""

from __future__ import annotations

import collections
import runpy
import subprocess
import sys

import pytest

from harness.backends import get_backend
from harness.weights import cases_from_data
from harness.discovery.generate import Distribution, generate, to_yaml
from harness.discovery.generate.cases import from_yaml
from harness.reference.layers.base import LAYERS


def require(framework: str) -> None:
    reason = get_backend(framework).unavailable_reason()
    if reason:
        pytest.skip(reason)


def inject_torch_fault(monkeypatch, kind: str, offset: float) -> None:
    """The torch adapter's builder of `kind` adds `offset` to the layer's output (a fault of
    the adapter's, which the float64 reference and the other frameworks do not share)."""
    from harness.backends.torch.registry import LAYER_BUILDERS

    original = LAYER_BUILDERS[kind]

    def faulty(spec, ctx):
        built = original(spec, ctx)
        call = built.call
        built.call = lambda x: call(x) + offset
        return built

    monkeypatch.setitem(LAYER_BUILDERS, kind, faulty)


def test_generation_is_deterministic_per_seed_and_every_case_loads():
    first = [g for g in generate(3, 12) if not g.rejected]
    second = [g for g in generate(3, 12) if not g.rejected]
    assert [to_yaml(g.data) for g in first] == [to_yaml(g.data) for g in second]
    assert len(first) == 12
    for item in first:
        (case,) = cases_from_data(from_yaml(to_yaml(item.data)))
        assert case.graph.nodes


def test_rejected_attempts_carry_their_reason():
    items = list(generate(1, 60))
    rejected = [g for g in items if g.rejected]
    assert all(g.reason for g in rejected)
    assert len(items) - len(rejected) == 60


def test_every_registered_kind_is_covered_in_a_few_hundred_cases():
    """docs/discovery.md states the 1,000-case figure; a smaller count already reaches every kind
    because each case is built around the next kind in a seeded order."""
    present = collections.Counter()
    for item in generate(0, len(LAYERS) * 4):
        if item.rejected:
            continue
        (case,) = cases_from_data(item.data)
        present.update(node.spec.type for node in case.graph.nodes)
        present.update("Reuse" for node in case.graph.nodes if node.reused)
    assert set(LAYERS) <= set(present), sorted(set(LAYERS) - set(present))


def test_the_distribution_is_tunable():
    distribution = Distribution(kinds=("Dense", "LeakyReLU"), depth=(2, 2), graph_probability=0.0,
                                training_probability=1.0)
    for item in generate(5, 5, distribution):
        if item.rejected:
            continue
        kinds = {node["type"] for node in item.data["model"]["sequential"]}
        assert kinds <= {"Dense", "LeakyReLU", "Activation"}  # Activation: an output head a loss needs
        assert "optimizer" in item.data and "training" in item.data["checks"]


def ten_layer_case() -> dict:
    """A 10-layer sequential case: Dense layers around one LayerNormalization."""
    layers = [{"type": "Dense", "name": f"dense_{i}", "units": 4, "activation": {"name": "tanh"}} for i in range(5)]
    layers.append({"type": "LayerNormalization", "name": "norm", "epsilon": 0.001})
    layers += [{"type": "Dense", "name": f"head_{i}", "units": 3, "activation": {"name": "relu"}} for i in range(4)]
    return {"name": "buried", "dtype": "float64", "samples": 4,
            "inputs": {"x": {"shape": [5], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "targets": {"t": {"shape": [3], "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "model": {"sequential": layers}, "weights": {"seed": 1},
            "loss": {"type": "mean_squared_error", "reduction": "mean"}}


def test_shrinking_a_fault_buried_in_ten_layers_keeps_only_the_faulty_layer(monkeypatch):
    """The torch LayerNormalization builder is patched to add 0.01 to its output: the shrunk
    case keeps that layer alone (and fails the same way), with every Dense layer dropped."""
    require("torch")
    from harness.backends.torch.registry import LAYER_BUILDERS
    from harness.discovery.shrink import failure_in, shrink

    original = LAYER_BUILDERS["LayerNormalization"]
    inject_torch_fault(monkeypatch, "LayerNormalization", 0.01)
    data = ten_layer_case()
    before = failure_in(data, "torch", None)
    assert (before.check, before.kind) == ("intermediates", "LayerNormalization")
    result = shrink(data, "torch")
    layers = result.data["model"]["sequential"]
    assert [layer["type"] for layer in layers] == ["LayerNormalization"]
    assert result.failure.kind == "LayerNormalization"
    assert failure_in(result.data, "torch", "intermediates").kind == "LayerNormalization"
    # Without the fault the minimal case passes: what was kept is what the fault needs.
    monkeypatch.setitem(LAYER_BUILDERS, "LayerNormalization", original)
    assert failure_in(result.data, "torch", None) is None


def test_a_passing_case_is_not_shrunk():
    require("torch")
    from harness.discovery.shrink import NotFailing, shrink

    with pytest.raises(NotFailing):
        shrink(ten_layer_case(), "torch")


@pytest.mark.parametrize("kind,config,shape,alone", [
    ("Dense", {"units": 3, "activation": {"name": "tanh"}}, [4], True),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same", "data_format": "channels_last"}, [5, 5, 2], False),
    ("LayerNormalization", {"epsilon": 0.001}, [2, 4], False),
])
def test_a_reproducer_runs_alone_and_tells_an_adapter_fault_from_an_upstream_one(monkeypatch, tmp_path, capsys, kind,
                                                                                config, shape, alone):
    """A fault injected into the torch adapter's builder makes the case fail; the reproducer,
    run in a fresh Python without the harness on its path, builds the layer natively from the
    template, so torch's and Keras' outputs both agree with the float64 reference there: the
    difference was the adapter's, not torch's (and the templates compute what the builders do).
    One template runs in a fresh `python -I` (the script needs nothing but the frameworks and
    NumPy); the others run in this process (runpy), which has the frameworks imported already:
    a fresh Python importing TensorFlow and torch cost each of them 9 s of the suite."""
    require("torch")
    require("keras")
    from harness.discovery.repro import write_reproducer_files

    inject_torch_fault(monkeypatch, kind, 0.25)
    data = {"name": "one_layer", "samples": 2,
            "inputs": {"x": {"shape": shape, "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "targets": {"t": {"shape": shape[:-1] + [config.get("units", config.get("filters", shape[-1]))],
                              "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "model": {"sequential": [{"type": kind, "name": "layer", **config}]},
            "weights": {"seed": 2, "defaults": {"bias": {"initializer": "random_normal", "stddev": 0.5}}},
            "loss": {"type": "mean_squared_error", "reduction": "mean"}}
    script, arrays = write_reproducer_files(data, "torch")
    (tmp_path / "repro.py").write_text(script)
    (tmp_path / "repro.npz").write_bytes(arrays)
    assert "harness" not in "\n".join(line for line in script.splitlines() if "import" in line)
    if alone:
        done = subprocess.run([sys.executable, "-I", str(tmp_path / "repro.py")], capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        output = done.stdout
    else:
        runpy.run_path(str(tmp_path / "repro.py"), run_name="__main__")
        output = capsys.readouterr().out
    sections = output.split("== ")
    torch_part = next(s for s in sections if s.startswith("torch\n"))
    keras_part = next(s for s in sections if s.startswith("keras\n"))
    for part in (torch_part, keras_part):
        difference = float(part.split("output vs float64 reference: max |difference| ")[1].split()[0])
        assert difference < 1e-5, part


def _coincidences(items) -> dict[str, int]:
    """Per kind of coincidence, the number of generated cases that have it."""
    from harness.reference.layers.base import LAYERS

    found = {"width = an input axis": 0, "equal input axes": 0, "samples = features": 0}
    for item in items:
        data = item.data
        (x,) = data["inputs"].values()
        shape = x["shape"]
        found["equal input axes"] += len(shape) > 1 and len(set(shape)) < len(shape)
        found["samples = features"] += data["samples"] == shape[-1]
        nodes = data["model"].get("sequential") or data["model"]["nodes"]
        first = nodes[0]
        width = next((first[f] for f in ("units", "filters", "output_dim", "key_dim") if f in first), None)
        found["width = an input axis"] += first["type"] in LAYERS and width is not None and width in shape
    return found


def test_shape_coincidences_are_drawn_at_the_stated_probability_and_off_at_zero():
    """With coincidences on, a width equal to an input axis, equal input axes and samples equal
    to the features are all far more frequent than by chance; at 0 the draws are those of the
    generator before coincidences existed (no random number is spent on them)."""
    from harness.discovery.generate import Distribution

    # 500 drawn: at 300 the width count (cases whose first layer has a width) came within 1 of the
    # bound once ScaledDotProductAttention joined the kinds: too few such cases, not fewer coincidences.
    on = [g for g in generate(5, 500, Distribution(coincidence_probability=0.5)) if not g.rejected]
    off = [g for g in generate(5, 500, Distribution(coincidence_probability=0.0)) if not g.rejected]
    with_on, with_off = _coincidences(on), _coincidences(off)
    for kind in with_on:
        assert with_on[kind] > 1.3 * with_off[kind] + 5, (kind, with_on, with_off)
