"""What a port returns, and how it becomes a RunResult.

A Python port returns one of:

* an array: the model's output (a model with one output);
* a list or tuple of arrays: the outputs, in the case's output order;
* a dict keyed by output names: the outputs;
* a dict with any of these keys (the rich form):

  ============== ==============================================================================
  `outputs`      the outputs, in one of the three forms above (required)
  `intermediates` `{layer name: its output}`, for the `intermediates` check and the first
                 divergent layer; layers left out are not compared
  `loss`         the loss on the whole data (default: the reference loss on the port's outputs)
  `gradients`    d loss / d each parameter, in the form the weights came in (`weights_as`),
                 and d loss / d each float input as `input:<name>` (canonical dict form) or
                 under `input_gradients: {name: array}`
  `training`     one entry per optimizer step: `{loss, parameters}` (parameters after the step,
                 in the form the weights came in; `state` optional)
  `metrics`      `{metric name: value}` (default: the reference metric on the port's outputs)
  `state`        `{parameter: value}` of non-trainable parameters after the run (moving
                 statistics); left out, they are not compared
  ============== ==============================================================================

An external program writes one .npz whose keys are the names the report uses: `output:<name>`
(or just `<name>`), `<layer name>` under `intermediate:<layer>`, `loss`, `grad:<parameter>`,
`grad:input:<name>`, `metric:<name>`, `state:<parameter>`, and per training step k (from 1)
`loss@step<k>` and `<parameter>@step<k>`; `flat_to_rich` turns it into the rich form.

Outputs are checked strictly (every output, its shape, its dtype): a port without them is an
error with a message naming the port, the case, what was expected and what was found. Every
other tensor is compared one by one, so a wrong one fails its check at that tensor.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from harness.backends.base import Implementation, RunResult, TrainingTrace
from harness.case import Case
from harness.defaults import resolve_for_reference
from harness.ports.errors import PortError
from harness.case.port import Port
from harness.ports.layouts import WeightsLayout

RICH_KEYS = ("outputs", "intermediates", "loss", "gradients", "input_gradients", "training", "metrics", "state")
STEP = re.compile(r"^(?P<name>.+)@step(?P<step>[1-9][0-9]*)$")


def flat_to_rich(case: Case, flat: dict[str, np.ndarray], port: Port) -> dict[str, Any]:
    """An external program's .npz keys -> the rich return form."""
    rich: dict[str, Any] = {"outputs": {}}
    steps: dict[int, dict[str, Any]] = {}
    unknown = []
    for key, value in flat.items():
        step = STEP.match(key)
        if step:
            entry = steps.setdefault(int(step["step"]), {"parameters": {}, "state": {}})
            name = step["name"]
            if name == "loss":
                entry["loss"] = value
            elif name.startswith("state:"):
                entry["state"][name[len("state:"):]] = value
            else:
                entry["parameters"][name] = value
        elif key == "loss":
            rich["loss"] = value
        elif key.startswith("output:") or key in case.graph.outputs:
            rich["outputs"][key.split(":", 1)[1] if key.startswith("output:") else key] = value
        elif key.startswith("intermediate:"):
            rich.setdefault("intermediates", {})[key.split(":", 1)[1]] = value
        elif key.startswith("grad:"):
            rich.setdefault("gradients", {})[key.split(":", 1)[1]] = value
        elif key.startswith("metric:"):
            rich.setdefault("metrics", {})[key.split(":", 1)[1]] = value
        elif key.startswith("state:"):
            rich.setdefault("state", {})[key.split(":", 1)[1]] = value
        else:
            unknown.append(key)
    if unknown:
        raise port_error(port, case, f"its outputs file has unknown keys {unknown}",
                         expected="output:<name> (or <name>), intermediate:<layer>, loss, grad:<parameter>, "
                                  "grad:input:<name>, metric:<name>, state:<parameter>, loss@step<k>, "
                                  "<parameter>@step<k>",
                         found=sorted(flat))
    if steps:
        missing = [k for k in range(1, max(steps) + 1) if k not in steps]
        if missing:
            raise port_error(port, case, f"its outputs file skips training steps {missing}",
                             expected=f"steps 1 to {max(steps)}", found=sorted(steps))
        rich["training"] = [steps[k] for k in sorted(steps)]
    return rich


def port_error(port: Port, case: Case, problem: str, *, expected: str | None = None, found: Any = None,
               hint: str | None = None, details: str = "") -> PortError:
    text = f"port {port.name!r} ({port.source}) on case {case.id}: {problem}"
    if expected is not None:
        text += f"\n  expected: {expected}"
    if found is not None:
        text += f"\n  found: {found}"
    if hint is not None:
        text += f"\n  hint: {hint}"
    if details:
        text += "\n" + details.rstrip()
    return PortError(text)


def build_result(port: Port, case: Case, returned: Any, layout: WeightsLayout, dtype: str | None) -> RunResult:
    """The RunResult of a port's return value (see the module docstring for its forms)."""
    rich = _rich(port, case, returned)
    outputs = _outputs(port, case, rich["outputs"])
    # Its tolerances are those of the dtype it computes in: the declared one, else the case's
    # (whose inputs and weights it was given). An output in another dtype is refused, not judged
    # by the wrong tolerances (a float64 array that came from float32 inputs would fail float64's).
    dtype = dtype or case.spec.dtype
    for name, array in outputs.items():
        if str(array.dtype) != dtype:
            raise port_error(port, case, f"output {name!r} is {array.dtype}, but the port computes in {dtype}"
                             + (" (its declared dtype)" if port.spec.dtype else " (the case's dtype, in which it "
                                "was given its inputs and weights)"),
                             expected=dtype, found=str(array.dtype),
                             hint="cast what it returns (an array made with np.zeros(shape) without a dtype is "
                                  "float64), or declare the port's `dtype` (--port ...,dtype=float64)")
    result = RunResult(framework=port.name, dtype=dtype, outputs=outputs, intermediates={},
                       loss=np.zeros((), dtype), parameter_gradients={}, input_gradients={},
                       implementations=_implementations(port, case, layout))
    _intermediates(port, case, rich, result)
    _loss(port, case, rich, result)
    _gradients(port, case, rich, layout, result)
    _training(port, case, rich, layout, result)
    _metrics(port, case, rich, result)
    _state(port, case, rich, layout, result)
    _dtypes(port, result)
    return result


def _dtypes(port: Port, result: RunResult) -> None:
    """Every float tensor a port returns must be in the dtype it computes in, as its outputs are
    (build_result): a float64 gradient from a float32 port would be judged by float32's
    tolerances it did not earn, or fail on its dtype with no value compared. Each check with one
    is an `error` that names the tensors and the fix; the others are judged."""
    found: dict[str, dict[str, Any]] = {
        "forward": {"loss": result.loss, **{f"state:{n}": a for n, a in result.state.items()}},
        "intermediates": dict(result.intermediates),
        "gradients": {**{f"grad:{n}": a for n, a in result.parameter_gradients.items()},
                      **{f"grad:output:{n}": a for n, a in result.output_gradients.items()},
                      **{f"grad:input:{n}": a for n, a in result.input_gradients.items()}},
        "training": {} if result.training is None else {
            **{f"loss@step{k}": a for k, a in enumerate(result.training.losses, start=1)},
            **{f"{n}@step{k}": a for k, step in enumerate(result.training.parameters, start=1) for n, a in step.items()}},
    }
    for check, arrays in found.items():
        wrong = [f"{name} is {array.dtype}" for name, array in arrays.items()
                 if isinstance(array, np.ndarray) and array.dtype.kind == "f" and str(array.dtype) != result.dtype]
        if wrong:
            result.check_errors[check] = (
                f"port {port.name} returned {check} tensors in another dtype than it computes in ({result.dtype}): "
                + ", ".join(wrong[:4]) + (f" and {len(wrong) - 4} more" if len(wrong) > 4 else "")
                + f"\n  hint: cast them (`array.astype(np.{result.dtype})`): NumPy computes in float64 where a "
                  f"{result.dtype} array meets a float64 one (an np.float64 scalar, an array made without a dtype, "
                  "np.matrix arithmetic); or declare the port's `dtype` if it computes in float64 throughout")


def _rich(port: Port, case: Case, returned: Any) -> dict[str, Any]:
    if isinstance(returned, dict) and any(key in RICH_KEYS for key in returned):
        unknown = [key for key in returned if key not in RICH_KEYS]
        if unknown:
            raise port_error(port, case, f"it returned unknown keys {unknown}",
                             expected="the keys " + ", ".join(RICH_KEYS), found=list(returned))
        if "outputs" not in returned:
            raise port_error(port, case, "it returned no `outputs`", expected="an `outputs` key",
                             found=list(returned))
        return dict(returned)
    return {"outputs": returned}


def _outputs(port: Port, case: Case, value: Any) -> dict[str, np.ndarray]:
    names = case.graph.outputs
    if isinstance(value, dict):
        found = dict(value)
    elif isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise port_error(port, case, f"it returned {len(value)} outputs in a list",
                             expected=f"{len(names)}, in the order {names}", found=len(value))
        found = dict(zip(names, value))
    elif value is None:
        raise port_error(port, case, "it returned None", expected=f"the outputs {names} (an array, a list "
                         "in that order, or a dict by name)")
    else:
        if len(names) != 1:
            raise port_error(port, case, "it returned one array, but the model has several outputs",
                             expected=f"a list in the order {names} or a dict by name", found="one array")
        found = {names[0]: value}
    if set(found) != set(names):
        raise port_error(port, case, "the outputs it returned are not the model's",
                         expected=f"the outputs {names}", found=sorted(map(str, found)),
                         details="  (a dict of outputs is keyed by output name; for layer outputs use "
                                 "{'outputs': ..., 'intermediates': {...}})")
    outputs = {}
    for name in names:
        array = _array(found[name])
        shape = (case.dataset.samples, *case.graph.shapes[name])
        if array.shape != shape:
            raise port_error(port, case, f"output {name!r} has shape {list(array.shape)}",
                             expected=f"{list(shape)} (batch of {case.dataset.samples}, then the output's shape)",
                             found=list(array.shape))
        if array.dtype.kind != "f":
            raise port_error(port, case, f"output {name!r} is {array.dtype}", expected="a float array",
                             found=str(array.dtype))
        outputs[name] = array
    return outputs


def _array(value: Any, dtype: str | None = None) -> np.ndarray:
    """An array as the port returned it; Python numbers and lists in the port's dtype."""
    if isinstance(value, np.ndarray):
        return np.array(value)  # a copy, and a plain array (np.matrix keeps its 2-D rules otherwise)
    if hasattr(value, "__array__") and not isinstance(value, (list, tuple, float, int)):
        return np.array(value)
    return np.asarray(value, dtype=dtype)


def _intermediates(port: Port, case: Case, rich: dict[str, Any], result: RunResult) -> None:
    returned = rich.get("intermediates")
    if not returned:
        result.not_returned["intermediates"] = (
            f"port {port.name} returns no layer outputs (return {{'outputs': ..., 'intermediates': "
            "{'<layer>': array}} to compare them and find the first divergent layer)")
        return
    nodes = [node.name for node in case.graph.nodes]
    unknown = [name for name in returned if name not in nodes]
    if unknown:
        raise port_error(port, case, f"`intermediates` names unknown layers {unknown}",
                         expected="layer (node) names: " + ", ".join(nodes), found=list(returned))
    result.intermediates = {name: _array(returned[name], result.dtype) for name in nodes if name in returned}


def _loss(port: Port, case: Case, rich: dict[str, Any], result: RunResult) -> None:
    if rich.get("loss") is not None:
        result.loss = _array(rich["loss"], result.dtype)
        return
    # Not returned: the reference loss of the port's outputs, in the port's dtype (its
    # forward check then compares the outputs twice, never a loss the port did not compute
    # against one it did).
    targets = {name: _cast(array, result.dtype) for name, array in case.dataset.targets.items()}
    total = np.zeros((), result.dtype)
    for index, loss in enumerate(case.losses):
        spec, _ = resolve_for_reference(loss)
        total = total + spec.weight * spec.forward(result.outputs[case.loss_output(loss)],
                                                   targets[case.loss_target(loss)])
        result.implementations[f"loss:{index}"] = Implementation(
            "reference", f"{spec.describe()} of the harness on the port's outputs: the port returns no loss")
    result.loss = np.asarray(total, dtype=result.dtype)


def _gradients(port: Port, case: Case, rich: dict[str, Any], layout: WeightsLayout, result: RunResult) -> None:
    returned = rich.get("gradients")
    inputs = dict(rich.get("input_gradients") or {})
    if returned is None and not inputs:
        result.not_returned["gradients"] = (
            f"port {port.name} returns no gradients (return {{'outputs': ..., 'gradients': ...}} keyed "
            "like its weights, with 'input:<name>' for the inputs, to compare them)")
        return
    if isinstance(returned, dict):
        inputs.update({key.split(":", 1)[1]: value for key, value in returned.items() if key.startswith("input:")})
        outputs = {key.split(":", 1)[1]: value for key, value in returned.items() if key.startswith("output:")}
        returned = {key: value for key, value in returned.items() if not key.startswith(("input:", "output:"))}
        nodes = [node.name for node in case.graph.nodes]
        unknown_nodes = [name for name in outputs if name not in nodes]
        if unknown_nodes:
            raise port_error(port, case, f"`gradients` names unknown layers {unknown_nodes} (output:<layer>)",
                             expected="layer (node) names: " + ", ".join(nodes), found=sorted(outputs))
        result.output_gradients = {name: _array(value, result.dtype) for name, value in outputs.items()}
    parameters, problems = layout.from_port(case, returned if returned is not None else {}, "gradients")
    unknown = [name for name in inputs if name not in case.float_inputs()]
    problems += [f"gradients: unknown input {name!r} (float inputs: {', '.join(case.float_inputs())})"
                 for name in unknown]
    if problems:
        raise port_error(port, case, "its gradients are not keyed like its weights", details="\n".join(
            "  " + problem for problem in problems))
    trainable = set(case.trainable_parameters())
    result.parameter_gradients = {name: value for name, value in parameters.items() if name in trainable}
    result.input_gradients = {name: _array(value, result.dtype) for name, value in inputs.items()}


def _training(port: Port, case: Case, rich: dict[str, Any], layout: WeightsLayout, result: RunResult) -> None:
    if case.spec.training is None:
        return
    steps = rich.get("training")
    if steps is None:
        result.not_returned["training"] = (
            f"port {port.name} returns no training steps (return {{'outputs': ..., 'training': "
            "[{'loss': ..., 'parameters': ...}, ...]}, one entry per step, to compare them)")
        return
    if not isinstance(steps, (list, tuple)):
        raise port_error(port, case, "`training` is not a list", expected="one {loss, parameters} per step",
                         found=type(steps).__name__)
    trace = TrainingTrace(optimizer=Implementation("port", f"the port's own training loop ({port.source})"))
    trainable = set(case.trainable_parameters())
    for index, step in enumerate(steps, start=1):
        if not isinstance(step, dict) or "loss" not in step or "parameters" not in step:
            raise port_error(port, case, f"training step {index} is not a {{loss, parameters}} dict",
                             expected="{'loss': the batch loss before the update, 'parameters': the weights "
                                      "after it, in the form they came in}",
                             found=sorted(step) if isinstance(step, dict) else type(step).__name__)
        parameters, problems = layout.from_port(case, step["parameters"], f"training step {index} parameters")
        if problems:
            raise port_error(port, case, f"training step {index}: its parameters are not keyed like its "
                             "weights", details="\n".join("  " + problem for problem in problems))
        trace.losses.append(_array(step["loss"], result.dtype))
        trace.parameters.append({name: value for name, value in parameters.items() if name in trainable})
        state, _ = layout.from_port(case, step.get("state") or {}, f"training step {index} state")
        trace.state.append(state)
    result.training = trace


def _metrics(port: Port, case: Case, rich: dict[str, Any], result: RunResult) -> None:
    returned = dict(rich.get("metrics") or {})
    labels = [metric.label for metric in case.metrics]
    unknown = [name for name in returned if name not in labels]
    if unknown:
        raise port_error(port, case, f"`metrics` names unknown metrics {unknown}",
                         expected="the case's metrics: " + (", ".join(labels) or "(none)"), found=list(returned))
    for metric in case.metrics:
        if metric.label in returned:
            result.metrics[metric.label] = np.asarray(returned[metric.label], dtype=np.float64)
            result.implementations[f"metric:{metric.label}"] = Implementation("port", "returned by the port")
            continue
        result.metrics[metric.label] = metric.compute(result.outputs[case.metric_output(metric)],
                                                      case.dataset.targets[case.metric_target(metric)])
        result.implementations[f"metric:{metric.label}"] = Implementation(
            "reference", f"{metric.describe()} of the harness on the port's outputs: the port returns none")


def _state(port: Port, case: Case, rich: dict[str, Any], layout: WeightsLayout, result: RunResult) -> None:
    returned = rich.get("state")
    if not returned:
        return
    state, problems = layout.from_port(case, returned, "state")
    if problems:
        raise port_error(port, case, "its state is not keyed like its weights",
                         details="\n".join("  " + problem for problem in problems))
    result.state = {name: value for name, value in state.items() if name in case.state_parameters()}


def _implementations(port: Port, case: Case, layout: WeightsLayout) -> dict[str, Implementation]:
    detail = f"{port.kind} port {port.source}; weights as {layout.describe()}"
    return {layer: Implementation("port", detail, layout.bindings(case, layer)) for layer in case.graph.layers}


def _cast(array: np.ndarray, dtype: str) -> np.ndarray:
    return array.astype(dtype) if array.dtype.kind == "f" else array
