"""The NumPy reference: the oracle every framework is compared with.

It walks the case's graph with one `ReferenceLayer` per node (see harness/reference/layers/base.py),
forward in order, backward in reverse, adding up gradients where a tensor feeds several nodes
and where a layer is applied at several places. It runs in float64 by default; the `numpy`
backend runs the same code in the case's dtype, as a hand-written float32 port would.

Its correctness does not rest on the frameworks: tests/test_reference_gradients.py checks every
layer, activation and loss against central finite differences in float64.

A training case (`optimizer` and `training` sections) then takes its steps: each batch through
the same graph code, then the optimizer's reference step from harness/reference/optimizers.py (checked
against hand computations in tests/test_optimizers.py).

A field the case leaves to `framework_default` is computed here with the case's stated
`reference` value (harness/reference/defaultable.py), recorded in the implementations.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar

import numpy as np

from harness.backends.base import Backend, Implementation, RunResult, TrainingTrace
from harness.case import Case
from harness.defaults import resolve_for_reference


def run_reference(case: Case, dtype: str = "float64", *, framework: str = "reference",
                  train: bool = True, backward: bool = True) -> RunResult:
    """The single pass over the whole data at the initial weights, then (`train` and a training
    case) the training steps. Without `backward`, the forward pass alone (outputs, loss,
    intermediates, state, metrics; no gradients, no training): what the forward checks compare,
    for a caller that may not need the rest (case strength, harness/audit/strength.py)."""
    started = time.perf_counter()
    graph = case.graph
    training = case.spec.mode == "training"
    params = {layer: {p: case.weights[f"{layer}/{p}"].astype(dtype) for p in graph.parameters_of(layer)}
              for layer in graph.layers}
    inputs = {name: _cast(array, dtype) for name, array in case.dataset.inputs.items()}
    targets = {name: _cast(array, dtype) for name, array in case.dataset.targets.items()}

    resolved = {layer: resolve_for_reference(spec) for layer, spec in graph.layers.items()}
    applications = {}
    tensors = dict(inputs)
    for node in graph.nodes:
        application = type(node.spec).reference(resolved[node.layer][0], params[node.layer], training=training)
        node.store(tensors, application.forward(*[tensors[name] for name in node.inputs]))
        applications[node.name] = application
        if application.state:
            # A new dict, not an update in place: this application's backward still reads the
            # parameters it ran with, and a later application of the same layer (Reuse) starts
            # from the state this one left, as in the frameworks.
            params[node.layer] = {**params[node.layer], **application.state}

    loss = np.zeros((), dtype=dtype)
    upstream: dict[str, np.ndarray] = {}
    for spec in case.losses:
        spec, _ = resolve_for_reference(spec)
        output = tensors[case.loss_output(spec)]
        target = _loss_target(spec, targets[case.loss_target(spec)], output.dtype)
        loss = loss + spec.weight * spec.forward(output, target)
        _accumulate(upstream, case.loss_output(spec), spec.weight * spec.backward(output, target))

    parameter_gradients = {name: np.zeros(shape, dtype=dtype) for name, shape in graph.parameter_shapes.items()}
    for node in reversed(graph.nodes if backward else ()):
        if not any(name in upstream for name in node.outputs):
            continue  # nothing downstream of this node reaches the loss
        application = applications[node.name]
        # One gradient per output (a recurrent layer's final states too); zeros for an output
        # that reaches no loss.
        douts = [upstream[name] if name in upstream else np.zeros_like(tensors[name]) for name in node.outputs]
        for source, gradient in zip(node.inputs, application.backward(*douts)):
            _accumulate(upstream, source, gradient)
        for parameter, gradient in application.grads.items():
            parameter_gradients[f"{node.layer}/{parameter}"] += gradient

    trainable = case.trainable_parameters()
    result = RunResult(
        framework=framework, dtype=dtype,
        outputs={name: tensors[name] for name in graph.outputs},
        intermediates={node.name: tensors[node.name] for node in graph.nodes},
        loss=np.asarray(loss, dtype=dtype),
        parameter_gradients={name: parameter_gradients[name] for name in trainable} if backward else {},
        input_gradients={name: upstream[name] if name in upstream else np.zeros_like(inputs[name])
                         for name in case.float_inputs()} if backward else {},
        state=_state(case, params),
        implementations={layer: Implementation("reference", type(spec).reference.__name__,
                                               defaults=[d.to_dict() for d in resolved[layer][1]])
                         for layer, spec in graph.layers.items()},
        seconds=time.perf_counter() - started,
    )
    if backward:
        result.output_gradients = {node.name: upstream[node.name] if node.name in upstream
                                   else np.zeros_like(tensors[node.name])
                                   for node in graph.nodes if any(name in upstream for name in node.outputs)}
    result.metrics = reference_metrics(case, result.outputs)
    if train and backward and case.spec.training is not None:
        result.training = train_reference(case, dtype)
    return result


def reference_metrics(case: Case, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The case's metrics (harness/reference/metrics.py) on these outputs, in float64."""
    return {metric.label: metric.compute(outputs[case.metric_output(metric)],
                                         case.dataset.targets[case.metric_target(metric)])
            for metric in case.metrics}


def train_reference(case: Case, dtype: str = "float64") -> TrainingTrace:
    """Each step: the reference's gradients of the batch loss, then the optimizer's step."""
    started = time.perf_counter()
    optimizer, defaults = resolve_for_reference(case.spec.optimizer)
    trainable = case.trainable_parameters()
    weights = {name: _cast(value, dtype) for name, value in case.weights.items()}
    states = {name: optimizer.initial_state(weights[name]) for name in trainable}
    trace = TrainingTrace(optimizer=Implementation("reference", optimizer.describe(),
                                                   defaults=[d.to_dict() for d in defaults]))
    for t, batch in enumerate(case.training_batches(), start=1):
        result = run_reference(replace(case, dataset=batch, weights=weights), dtype, train=False)
        # Non-trainable state a training-mode pass moved on (BatchNormalization's moving
        # statistics, where the result carries them) goes into the next step, as in a framework.
        weights = {**weights, **getattr(result, "state", {})}
        for name in trainable:
            weights[name] = optimizer.step(weights[name], result.parameter_gradients[name], states[name], t)
        trace.losses.append(result.loss)
        trace.parameters.append({name: weights[name] for name in trainable})
        trace.state.append({name: weights[name] for name in case.state_parameters()})
    trace.seconds = time.perf_counter() - started
    return trace


def _state(case: Case, params: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The non-trainable parameters as the last application of each layer left them."""
    state = {}
    for name in case.state_parameters():
        layer, parameter = name.split("/", 1)
        state[name] = params[layer][parameter]
    return state


def _cast(array: np.ndarray, dtype: str) -> np.ndarray:
    return array.astype(dtype) if array.dtype.kind == "f" else array


def _loss_target(spec, target: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A value loss's targets (mean squared error, hinge, binary crossentropy: everything but
    class indices) in the output's dtype. NumPy promotes float32 - int32 to float64, so integer
    targets made the numpy backend's gradients float64 in a float32 case, which its own dtype
    check then failed (found by a check outside the project; tests/test_loss_edge_cases.py).
    Keras casts y_true to y_pred's dtype the same way."""
    return target if spec.integer_targets else target.astype(dtype, copy=False)


def _accumulate(store: dict[str, np.ndarray], name: str, gradient: np.ndarray) -> None:
    store[name] = store[name] + gradient if name in store else gradient


class NumpyBackend(Backend):
    """The reference code run in the case's dtype: what a hand-written NumPy port computes."""

    name: ClassVar[str] = "numpy"

    def version(self) -> str:
        return np.__version__

    def run(self, case: Case) -> RunResult:
        return run_reference(case, case.spec.dtype, framework=self.name)
