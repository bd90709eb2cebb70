"""Reproducer templates of every framework render to Python that compiles, and chainer's run.

tests/test_discovery.py runs torch's and Keras' templates; chainer's Dense template once did not
even parse on Python 3.11 and no test noticed. Here every template of every framework is
rendered for every layer example it covers and compiled (no framework is imported to render
one), and chainer's reproducers are run against a fault injected into the chainer adapter:
the reproducer builds the layer natively from the template, so there chainer agrees with the
float64 reference and with the other framework, which tells the adapter's fault from chainer's.
"""

from __future__ import annotations

import importlib
import runpy
import textwrap

import pytest

from harness.backends import get_backend
from harness.common.errors import Unsupported
from harness.case.examples import LAYER_EXAMPLES, single_layer_case

FRAMEWORKS = ("keras", "torch", "chainer")


def require(framework: str) -> None:
    reason = get_backend(framework).unavailable_reason()
    if reason:
        pytest.skip(reason)


def templates(framework: str):
    require(framework)  # the module sits in the framework's package, whose __init__ imports it
    return importlib.import_module(f"harness.backends.{framework}.repro")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_template_renders_python_that_compiles(framework):
    module = templates(framework)
    rendered = 0
    for example in LAYER_EXAMPLES:
        template = module.TEMPLATES.get(example.type)
        if template is None:
            continue
        case = single_layer_case(example, dtype="float32")
        (node,) = [node for node in case.graph.nodes if node.layer == "layer"]
        try:
            body = template(node.spec, node.input_shapes, case.spec.dtype, case.spec.mode == "training")
        except Unsupported:
            continue  # the builder composes this configuration: no native template, by design
        source = module.DRIVER.format(framework=framework, build=textwrap.indent(body.strip("\n"), "    "),
                                      dtype=case.spec.dtype, training=case.spec.mode == "training")
        compile(source, f"<{framework} template for {example.type} {example.config}>", "exec")
        rendered += 1
    # Each framework has at least its Dense and convolution templates (harness/discovery/repro/__init__.py).
    assert rendered >= 2, f"{framework}: only {rendered} template(s) rendered"


def inject_chainer_fault(monkeypatch, kind: str, offset: float) -> None:
    """The chainer adapter's builder of `kind` adds `offset` to the layer's output: a fault of
    the adapter's, which neither the reference nor the frameworks themselves share."""
    from harness.backends.chainer.registry import LAYER_BUILDERS

    original = LAYER_BUILDERS[kind]

    def faulty(spec, ctx):
        built = original(spec, ctx)
        call = built.call
        built.call = lambda x: call(x) + offset
        return built

    monkeypatch.setitem(LAYER_BUILDERS, kind, faulty)


@pytest.mark.parametrize("kind,config,shape", [
    ("Dense", {"units": 3, "activation": {"name": "tanh"}}, [4]),
    ("Dense", {"units": 2, "use_bias": False}, [3]),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "valid", "data_format": "channels_last"}, [5, 5, 2]),
])
def test_a_chainer_reproducer_runs_and_clears_chainer(monkeypatch, tmp_path, capsys, kind, config, shape):
    require("chainer")
    from harness.discovery.repro import write_reproducer_files

    inject_chainer_fault(monkeypatch, kind, 0.25)
    units = config.get("units", config.get("filters"))
    out_shape = shape[:-1] + [units] if kind == "Dense" else [3, 3, units]
    data = {"name": "one_layer", "samples": 2,
            "inputs": {"x": {"shape": shape, "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "targets": {"t": {"shape": out_shape, "data": {"normal": {"mean": 0.0, "std": 1.0}}}},
            "model": {"sequential": [{"type": kind, "name": "layer", **config}]},
            "weights": {"seed": 2, "defaults": {"bias": {"initializer": "random_normal", "stddev": 0.5}}},
            "loss": {"type": "mean_squared_error", "reduction": "mean"}}
    script, arrays = write_reproducer_files(data, "chainer")
    (tmp_path / "repro.py").write_text(script)
    (tmp_path / "repro.npz").write_bytes(arrays)
    runpy.run_path(str(tmp_path / "repro.py"), run_name="__main__")
    output = capsys.readouterr().out
    parts = {section.split("\n", 1)[0]: section for section in output.split("== ")[1:]}
    frameworks = [name for name in parts if " against " not in name]
    assert "chainer" in frameworks and len(frameworks) == 2, output
    for name in frameworks:
        lines = [line for line in parts[name].splitlines() if "vs reference: max |difference| " in line]
        # The output, each parameter's gradient and the input's gradient; a framework that
        # raised has none of these lines and fails here.
        assert len(lines) >= 2 and "output vs float64 reference" in parts[name], parts[name]
        for line in lines:
            difference = float(line.split("max |difference| ")[1].split()[0])
            # float32 against the float64 reference on values of order 1: 1e-5 is rounding, far
            # below the injected 0.25 (which the reproducer must not show: it is the adapter's).
            assert difference < 1e-5, parts[name]
