"""One-file reproducers (`python -m harness repro CASE --framework F`).

A reproducer is what a user attaches to an upstream bug report: a Python file that needs only
NumPy and the frameworks involved, not the harness. It builds the layer where the divergence
starts in the failing framework and in one other framework, loads the exact weights (in each
framework's own layout, read back through the adapters' WeightBindings after the harness loaded
them) and the exact input that layer received (the float64 reference's, rounded to the case's
dtype), runs it forward and backward (with a fixed upstream gradient), and prints each
framework's output and gradients against the float64 reference's, and the frameworks' output
against each other. The arrays sit in an .npz beside the script.

How a layer is written natively lives beside its builder: each framework's family modules
register one source template per layer kind in the package's REGISTRY.templates (its `repro`
module re-exports them as `TEMPLATES`, with the framework's forward/backward driver `DRIVER`). A template covers the native form its
builder uses; where the builder composes the layer from primitives for this case, or a kind
has no template, the reproducer is refused with that reason.
"""

from __future__ import annotations

import importlib
import io
import textwrap
from typing import Any

import numpy as np

from harness.backends import get_backend
from harness.backends.numpy_reference import run_reference
from harness.common.errors import Unsupported
from harness.discovery.shrink import failure_in
from harness.weights import cases_from_data

COMPARISON_ORDER = ("torch", "keras", "chainer")
"""The other framework shown beside the failing one: the first of these that builds the layer."""


class ReproUnavailable(Exception):
    """No reproducer for this failure, and why."""


def templates_of(framework: str):
    try:
        return importlib.import_module(f"harness.backends.{framework}.repro")
    except ImportError as exc:
        raise ReproUnavailable(f"{framework} cannot be imported here ({exc})") from None


def write_reproducer_files(data: dict[str, Any], framework: str) -> tuple[str, bytes]:
    """(script text, npz bytes) reproducing the failure of `framework` on the case `data`."""
    if framework == "numpy":
        raise ReproUnavailable("the numpy backend is the harness's own reference code run in the case's "
                               "dtype: there is no framework to report to")
    failure = failure_in(data, framework, None)
    if failure is None:
        raise ReproUnavailable(f"{data.get('name')} does not fail in {framework}: nothing to reproduce")
    (case,) = cases_from_data(data, file=f"<repro {data.get('name')}>")
    node = _node_of(case, failure)
    reference = run_reference(case)
    spec = node.spec
    dtype = case.spec.dtype
    inputs64 = [_tensor_of(case, reference, name) for name in node.inputs]
    inputs = [np.asarray(a).astype(dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in inputs64]
    weights = {f"{name.split('/', 1)[1]}": case.weights[name] for name in case.graph.parameter_shapes
               if name.split("/", 1)[0] == node.layer}
    # The float64 reference of this one layer on exactly these inputs and weights.
    layer = spec.reference(spec, {k: v.astype(np.float64) for k, v in weights.items()},
                           training=case.spec.mode == "training")
    expected = layer.forward(*[a.astype(np.float64) if a.dtype.kind == "f" else a for a in inputs])
    upstream = np.random.default_rng(0).normal(size=expected.shape)
    input_grads = layer.backward(upstream)
    arrays: dict[str, np.ndarray] = {f"input_{i}": a for i, a in enumerate(inputs)}
    arrays["upstream"] = upstream.astype(dtype)
    arrays["reference_output"] = expected
    for i, grad in enumerate(input_grads):
        if inputs[i].dtype.kind == "f":
            arrays[f"reference_input_grad_{i}"] = grad

    frameworks = [framework] + [f for f in COMPARISON_ORDER if f != framework]
    functions, used, problems = [], [], []
    for name in frameworks:
        if len(used) == 2:
            break
        try:
            source = _framework_source(name, case, node, layer.grads, arrays)
        except (ReproUnavailable, Unsupported) as exc:
            if name == framework:
                raise ReproUnavailable(f"{framework}: {exc}") from None
            problems.append(f"{name}: {exc}")
            continue
        if get_backend(name).unavailable_reason():
            continue
        functions.append(source)
        used.append(name)
    script = _script(case, failure, node, used, functions, problems)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return script, buffer.getvalue()


def _node_of(case, failure):
    nodes = {node.name: node for node in case.graph.nodes}
    if failure.layer in nodes:
        return nodes[failure.layer]
    matching = [node for node in case.graph.nodes if node.layer == failure.layer or node.spec.type == failure.kind]
    if matching:
        return matching[0]
    raise ReproUnavailable(f"the difference starts at {failure.kind} ({failure.layer}), not in a layer: "
                           "reproducers cover layers (losses, optimizers and crashes: see the minimal case)")


def _tensor_of(case, reference, name: str) -> np.ndarray:
    if name in case.dataset.inputs:
        return case.dataset.inputs[name]
    return reference.intermediates[name]


def _framework_source(name: str, case, node, reference_grads, arrays) -> str:
    """The function that builds and runs the layer in one framework; fills its arrays."""
    backend = get_backend(name)
    reason = backend.unavailable_reason()
    if reason:
        raise ReproUnavailable(reason)
    module = templates_of(name)
    template = module.TEMPLATES.get(node.spec.type)
    if template is None:
        raise ReproUnavailable(f"no reproducer template for {node.spec.type} in {name} (a family "
                               f"module of harness/backends/{name}/ registers one with "
                               f"REGISTRY.templates; templates: {', '.join(sorted(module.TEMPLATES))})")
    with backend.session(case):
        built = backend.build_layer(case, node.layer)
        for binding in built.bindings:
            backend.assign(binding.native, binding.transform.to_native(case.weights[f"{node.layer}/{binding.parameter}"]))
        names = [binding.native_name for binding in built.bindings]
        if len(set(names)) != len(names):
            raise ReproUnavailable("a parameter spread over several native tensors")
        for binding in built.bindings:
            arrays[f"{name}:weight:{binding.native_name}"] = np.array(backend.read(binding.native))
            grad = reference_grads.get(binding.parameter)
            if grad is not None:
                arrays[f"{name}:reference_grad:{binding.native_name}"] = binding.transform.to_native(grad)
        body = template(node.spec, node.input_shapes, case.spec.dtype, case.spec.mode == "training")
    return module.DRIVER.format(framework=name, build=textwrap.indent(body.strip("\n"), "    "),
                                dtype=case.spec.dtype, training=case.spec.mode == "training")


HEADER = '''"""Reproducer: {kind} differs in {framework} ({check}), generated by `python -m harness repro`.

Case: {case} ({file}). The layer {layer!r}: {describe}.
It runs the layer in {frameworks} on the input it received in the case (the float64 reference's,
rounded to {dtype}), with the case's weights in each framework's own layout (repro.npz beside
this file), forward and backward with a fixed upstream gradient, and prints each framework's
differences from the float64 NumPy reference's values (repro.npz) and from each other.
The harness judged: {message}
Needs: numpy{needs}.
"""

import sys
from pathlib import Path

import numpy as np

DATA = np.load(Path(__file__).with_suffix(".npz"))
INPUTS = [DATA[key] for key in sorted(k for k in DATA.files if k.startswith("input_"))]
UPSTREAM = DATA["upstream"]
'''

FOOTER = '''

def weights(framework):
    prefix = framework + ":weight:"
    return {{key[len(prefix):]: DATA[key] for key in DATA.files if key.startswith(prefix)}}


def report(name, actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        print(f"  {{name}}: shape {{actual.shape}}, reference {{expected.shape}}")
        return
    difference = np.abs(actual - expected)
    worst = np.unravel_index(np.argmax(difference), difference.shape) if difference.size else ()
    relative = difference / np.maximum(np.abs(expected), 1e-30)
    print(f"  {{name}}: max |difference| {{difference.max() if difference.size else 0:.3g}}"
          f" (max relative {{relative.max() if relative.size else 0:.3g}})"
          + (f" at {{tuple(int(i) for i in worst)}}: {{actual[worst]:.9g}} vs {{expected[worst]:.9g}}" if difference.size else ""))


results = {{}}
for name, run in [{runs}]:
    print(f"== {{name}}")
    try:
        output, parameter_grads, input_grads = run(INPUTS, weights(name), UPSTREAM)
    except Exception as exc:  # the failure may be a crash
        print(f"  raised {{type(exc).__name__}}: {{exc}}")
        continue
    results[name] = output
    print("  output (first values):", np.asarray(output).reshape(-1)[:6])
    report("output vs float64 reference", output, DATA["reference_output"])
    for key, grad in parameter_grads.items():
        reference = f"{{name}}:reference_grad:{{key}}"
        if reference in DATA.files:
            report(f"d/d {{key}} vs reference", grad, DATA[reference])
    for index, grad in enumerate(input_grads):
        if f"reference_input_grad_{{index}}" in DATA.files and grad is not None:
            report(f"d/d input {{index}} vs reference", grad, DATA[f"reference_input_grad_{{index}}"])
names = list(results)
if len(names) == 2:
    print(f"== {{names[0]}} against {{names[1]}}")
    report("output", results[names[0]], results[names[1]])
'''


def _script(case, failure, node, frameworks, functions, problems) -> str:
    needs = "".join(", " + {"keras": "tensorflow and keras"}.get(f, f) for f in frameworks)
    header = HEADER.format(kind=node.spec.type, framework=failure.framework, check=failure.check,
                           case=case.id, file=case.file.name, layer=node.name, describe=node.spec.describe(),
                           frameworks=" and ".join(frameworks), dtype=case.spec.dtype,
                           message=failure.message.replace('"""', "'''"), needs=needs)
    if problems:
        header += "# Not shown: " + "; ".join(problems) + "\n"
    runs = ", ".join(f"({f!r}, run_{f})" for f in frameworks)
    return header + "\n" + "\n".join(functions) + FOOTER.format(runs=runs)
