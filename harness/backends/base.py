"""The contract between the harness and a backend, and the run loop shared by the frameworks.

A backend turns a `Case` into a `RunResult`: every model output, every node's output, the loss,
and the gradients w.r.t. every trainable parameter (in the canonical layout) and every float
input. The three framework backends share `FrameworkBackend.run`; each supplies:

* registries of builders (`layer_builders`, `activation_builders`, `loss_builders`), one per
  layer kind, activation and loss, in modules of its own package;
* a handful of primitives: make a tensor, read one back, assign a parameter, differentiate.

A builder gets the layer's spec and a `BuildContext` and returns a `BuiltLayer`: a callable on
native tensors plus one `WeightBinding` per canonical parameter. A builder that cannot express a
spec raises `Unsupported(reason)`: the case is then reported as skipped for that framework,
with the reason, never as a pass.

Training cases (an `optimizer` and a `training` section) go on with the same built model: the
weights are loaded again, an optimizer from `optimizer_builders` is set up on the native objects
of the trainable bindings only (never on non-trainable state such as BatchNormalization's moving
statistics), and each step differentiates the batch loss and applies the native update. The
trace holds the loss and every trainable parameter after each step, read back through the
bindings. A training that cannot be expressed or fails is recorded in the trace, so the
single-pass checks of the same run still count.

Before a builder sees a spec, every field the case wrote as `framework_default` is replaced by
this framework's own default, as the adapter's `default_readers` find it (harness/defaults/), and
the value used is recorded in the layer's `Implementation.defaults`.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable

import numpy as np

from harness.backends.framework_registry import FrameworkRegistry
from harness.backends.layout import Transform
from harness.case import Case
from harness.defaults import DefaultContext, DefaultUnavailable, ResolvedDefault, resolve_for_framework
from harness.common.errors import Unsupported  # noqa: F401  (adapters import it from here)
from harness.reference.spec import Shape, Spec


@dataclass
class WeightBinding:
    """Where one canonical parameter lives in the framework, and how its layout differs.

    A parameter may be spread over several native tensors (torch's GRU keeps Keras' bias
    (2, 3u) as bias_ih and bias_hh; chainer's NStep links keep one tensor per gate): then it has
    one binding per tensor, and each transform's `from_native` returns the full canonical shape
    with zeros outside its part, so that the parts add up to the parameter.
    """

    parameter: str
    """Canonical parameter name within the layer, e.g. `kernel`."""
    native: Any
    """The framework's parameter object."""
    native_name: str
    """Its name in the framework, e.g. `Linear.weight`."""
    transform: Transform
    key: str = ""
    """The tensor's name in the framework's own model of the whole case (`NativeModel`), as
    that framework's tools name it: a state_dict key (`hidden.weight`), a Keras variable path
    (`hidden/kernel`), a chainer npz key (`hidden/W`). Filled in by `FrameworkBackend.build_native`."""


@dataclass
class HeldTensor:
    """A tensor of a framework's layer that no canonical parameter sets: held at a fixed value.

    torch's recurrent modules have a second bias the adapter holds at zero (Keras has one);
    torch's BatchNorm counts its batches; chainer's BatchNormalization keeps a count `N`. Each
    builder declares them, so that a checkpoint's every tensor is accounted for
    (harness/weights/native_weights.py). A checkpoint's value of a held tensor is

    * added into a canonical parameter through `fold`'s transform, where the layer computes with
      the sum (torch's bias_hh_l0 and bias_ih_l0 of an LSTM: the gates see their sum);
    * else, with `must_equal`, required to equal the held value: another value would compute
      something the case's layer does not (chainer's LayerNormalization.beta with center false);
    * else unused by the layer, and ignored for `reason` (torch's num_batches_tracked).
    """

    name: str
    """Its name within the layer's module, as the framework names it (`bias_hh_l0`, `N`,
    `0/b1`)."""
    native: Any
    """The framework's tensor, or None where the adapter removed it from the layer (an
    unmodified layer, as a checkpoint may come from, still has it)."""
    reason: str
    fold: WeightBinding | None = None
    must_equal: bool = True
    key: str = ""
    """Its name in the framework's model of the whole case, like `WeightBinding.key`."""

    @property
    def removed(self) -> bool:
        return self.native is None


@dataclass
class NativeModel:
    """The case as one model of the framework, each layer's module a child under the layer's
    name: a torch nn.Module tree, a keras Model, a chainer Chain. Checkpoints are read from and
    written to it with the framework's own naming (harness/weights/native_weights.py)."""

    container: Any
    tensors: dict[str, Any]
    """Key -> the framework's tensor, in the framework's own order (state_dict order, the order
    of `model.get_weights()`, chainer's namedparams then persistent values)."""


@dataclass
class CheckpointContents:
    """What a framework's checkpoint file holds, named by `WeightBinding.key`."""

    tensors: dict[str, np.ndarray]
    names: dict[str, str] = field(default_factory=dict)
    """Key -> the name in the file, where it differs (Keras' `layers/dense_1/vars/0`)."""
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(name in the file, problem) found while reading, beyond names and shapes (a Keras layer
    stored under another name than the case's)."""


@dataclass
class BuiltLayer:
    call: Callable[..., Any]
    bindings: list[WeightBinding] = field(default_factory=list)
    implementation: str = "native"
    """`native` (the framework's own layer) or `composite` (built from its primitives)."""
    detail: str = ""
    """The native class, or what the composite is made of and why."""
    module: Any = None
    defaults: list[ResolvedDefault] = field(default_factory=list)
    """The framework defaults this layer was built with, where the case asked for them."""
    held: list[HeldTensor] = field(default_factory=list)
    """Tensors of `module` that no canonical parameter sets (see HeldTensor)."""


@dataclass
class BuildContext:
    layer_name: str
    input_shapes: list[Shape]
    dtype: str
    training: bool
    backend: "FrameworkBackend"

    def activation(self, spec: Any) -> tuple[Callable[[Any], Any], str, str]:
        """The framework's version of an activation: (callable, implementation, detail)."""
        return self.backend.build_activation(spec)

    def cell_activations(self, spec: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any] | None, str]:
        """A recurrent layer's (activation, recurrent_activation or None for SimpleRNN, their
        description), for a cell built from the framework's primitives."""
        act, _, act_detail = self.activation(spec.activation)
        gate_spec = getattr(spec, "recurrent_activation", None)
        if gate_spec is None:
            return act, None, f"activation {act_detail}"
        gate, _, gate_detail = self.activation(gate_spec)
        return act, gate, f"activation {act_detail}, recurrent_activation {gate_detail}"


@dataclass
class Implementation:
    """How one layer, activation or loss was realised in a framework (for the report)."""

    implementation: str
    detail: str
    bindings: list[dict[str, Any]] = field(default_factory=list)
    defaults: list[dict[str, Any]] = field(default_factory=list)
    """Fields the case left to `framework_default`: the value used and where it was read."""


@dataclass
class BuiltOptimizer:
    """A framework's optimizer, ready to step: `apply(gradients)` updates the parameters it was
    built on from their gradients (native tensors, in the same order; None means zero)."""

    apply: Callable[[list[Any]], None]
    implementation: str = "native"
    """`native` (the framework's optimizer, possibly reparametrised) or `composite`."""
    detail: str = ""
    """The native class and every reparametrisation, or what the composite is and why."""
    defaults: list[ResolvedDefault] = field(default_factory=list)
    """The framework defaults it was built with, where the case asked for them."""


@dataclass
class TrainingTrace:
    """The loss of each step (on its batch, before the update) and every trainable parameter
    after it, in the canonical layout; or why there is none."""

    losses: list[np.ndarray] = field(default_factory=list)
    parameters: list[dict[str, np.ndarray]] = field(default_factory=list)
    state: list[dict[str, np.ndarray]] = field(default_factory=list)
    """Every non-trainable parameter after each step (BatchNormalization's moving statistics in
    training mode: the momentum convention shows here, not in the trainable parameters)."""
    optimizer: Implementation | None = None
    status: str = "ran"
    """`ran`, `skipped` (the optimizer cannot be expressed) or `error`, with `reason`."""
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class ExecutionPath:
    """One decision of an adapter, or of the framework under it, that depends on the machine,
    as this run took it: the same case may compute differently on the next machine, so the
    report and results.json say which way it went, and an `expected_differences` entry may be
    conditional on it (`when: {execution_paths: {<name>: <path>}}`)."""

    name: str
    """What was decided: a layer's name (`conv`) or a setting (`tensorflow.onednn`)."""
    path: str
    """The way taken, one short word a case can name: `native`, `transposes`, `on`, `off`, ..."""
    description: str
    """For people: "Conv2D channels_first native (oneDNN)"."""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path, "description": self.description}


@dataclass
class RunResult:
    framework: str
    dtype: str
    outputs: dict[str, np.ndarray]
    intermediates: dict[str, np.ndarray]
    loss: np.ndarray
    parameter_gradients: dict[str, np.ndarray]
    input_gradients: dict[str, np.ndarray]
    state: dict[str, np.ndarray] = field(default_factory=dict)
    """Every non-trainable parameter (BatchNormalization's moving statistics) after the run, in
    the canonical layout: what a training-mode forward pass left behind, or the loaded values
    unchanged in inference mode."""
    implementations: dict[str, Implementation] = field(default_factory=dict)
    """Layer name (or `loss:<index>`) -> how it was built."""
    seconds: float = 0.0
    training: TrainingTrace | None = None
    """Training cases only: the per-step trace."""
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    """The case's metrics (harness/reference/metrics.py) on the single pass, by label: the share of right
    predictions for accuracies, the mean error otherwise."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Check -> why this backend has no tensors for it (a framework without a metric): the check
    is skipped with that reason, never passed."""
    not_returned: dict[str, str] = field(default_factory=dict)
    """Check -> why a port has no tensors for it: it returns less (no gradients, no layer
    outputs). The check is `not-returned`, never passed, and counted apart from `skipped`: the
    port passes what it returns ("forward only"), and nothing of it was left out by the harness."""
    output_gradients: dict[str, np.ndarray] = field(default_factory=dict)
    """Node -> d loss / d its output, where the backend gives them (the reference does; a port
    may return them as `gradients: {"output:<layer>": ...}`): the gradients check compares them
    and the backward localisation (harness/diagnosis/backward.py) reads them."""
    check_errors: dict[str, str] = field(default_factory=dict)
    """Check -> why what a port returned for it cannot be judged (float64 gradients from a
    float32 port): the check is an `error` with that reason and the fix."""
    execution_paths: list[ExecutionPath] = field(default_factory=list)
    """The machine-dependent decisions this run took (`Backend.execution_paths`, filled in by
    the runner for every backend alike)."""

    @property
    def training_seconds(self) -> float:
        """The training steps' time (0 where the run took none)."""
        return self.training.seconds if self.training is not None else 0.0


class Backend:
    """Anything that can run a case: the three frameworks and the NumPy reference."""

    name: ClassVar[str]

    def unavailable_reason(self) -> str | None:
        """None if usable here, else why not (e.g. the framework is not installed)."""
        return None

    def version(self) -> str:
        return ""

    def limit_threads(self, count: int) -> None:
        """Run on at most `count` threads where the framework lets a process say so (campaign
        workers, one per core); a no-op where it has no such setting."""

    def execution_paths(self, case: Case) -> list[ExecutionPath]:
        """Every decision this backend takes for `case` that depends on the machine (a kernel
        the CPU build refuses, a compiler, a library's switch, thread counts). One place per
        backend, so that the builders and the report cannot disagree: a builder that decides
        reads the same function this returns from. None by default (the NumPy reference and
        ports compute the same everywhere, as far as the harness decides anything)."""
        return []

    def run(self, case: Case) -> RunResult:
        raise NotImplementedError


class FrameworkBackend(Backend):
    """Keras, chainer and torch: build natively, load canonical weights, differentiate."""

    registry: ClassVar[FrameworkRegistry]
    """The framework package's one REGISTRY (its registry.py), filled by its family modules:
    the builders below, import translations, reproducer templates, defaults readers."""

    @property
    def layer_builders(self) -> dict[str, Callable[[Any, BuildContext], BuiltLayer]]:
        return self.registry.layers

    @property
    def activation_builders(self) -> dict[str, Callable[[Any], tuple[Callable, str, str]]]:
        return self.registry.activations

    @property
    def loss_builders(self) -> dict[str, Callable[[Any, str], tuple[Callable, str, str]]]:
        """Loss builders take the loss spec and the case's dtype (Keras losses compute in
        keras.config.floatx() unless told otherwise)."""
        return self.registry.losses

    @property
    def metric_builders(self) -> dict[str, Callable[[Any, str], tuple[Callable, str, str]]]:
        """Metric builders take the metric spec and the case's dtype and return (callable(y, t) ->
        the metric as a native scalar, native|composite, detail), like the loss builders."""
        return self.registry.metrics

    @property
    def optimizer_builders(self) -> dict[str, Callable[[Any, list[Any], str], BuiltOptimizer]]:
        """Optimizer builders take the optimizer spec, the native trainable parameters and the
        case's dtype."""
        return self.registry.optimizers

    @property
    def default_readers(self) -> dict[str, Callable[[DefaultContext], list]]:
        """`<spec tag>.<field>` -> reader of this framework's default (harness/defaults/)."""
        return self.registry.defaults

    # --- primitives each framework supplies -------------------------------------------------
    def session(self, case: Case) -> contextlib.AbstractContextManager:
        """Framework-wide settings for one run (dtype, train/inference mode)."""
        return contextlib.nullcontext()

    def tensor(self, array: np.ndarray, *, requires_grad: bool) -> Any:
        raise NotImplementedError

    def to_numpy(self, tensor: Any) -> np.ndarray:
        raise NotImplementedError

    def assign(self, native: Any, array: np.ndarray) -> None:
        raise NotImplementedError

    def read(self, native: Any) -> np.ndarray:
        return self.to_numpy(native)

    def differentiate(self, compute: Callable[[], tuple[Any, dict[str, Any]]], inputs: list[Any],
                      parameters: list[Any]) -> tuple[Any, dict[str, Any], list[Any], list[Any]]:
        """Run `compute` (-> loss, tensors) recording, then return (loss, tensors, d loss/d
        inputs, d loss/d parameters); a gradient that does not exist is None."""
        raise NotImplementedError

    def add(self, a: Any, b: Any) -> Any:
        return a + b

    def scale(self, a: Any, factor: float) -> Any:
        return a * factor

    # --- the shared run loop ------------------------------------------------------------------
    def resolve_defaults(self, spec: Spec, context: DefaultContext = DefaultContext()
                         ) -> tuple[Any, list[ResolvedDefault]]:
        """The spec with each `framework_default` replaced by this framework's default."""
        try:
            return resolve_for_framework(spec, self.default_readers, self.name, context)
        except DefaultUnavailable as exc:
            raise Unsupported(str(exc)) from None

    def build_activation(self, spec: Any) -> tuple[Callable, str, str]:
        builder = self.activation_builders.get(spec.name)
        if builder is None:
            raise Unsupported(f"{self.name} adapter has no activation {spec.name!r}")
        spec, _ = self.resolve_defaults(spec)  # a no-op for specs resolved with their layer
        return builder(spec)

    def build_layer(self, case: Case, layer: str) -> BuiltLayer:
        spec = case.graph.layers[layer]
        builder = self.layer_builders.get(spec.type)
        if builder is None:
            raise Unsupported(f"the {self.name} adapter has no builder for layer type {spec.type}")
        input_shapes = case.graph.layer_input_shapes[layer]
        # An activation acts on its layer's output, so defaults that depend on the rank (torch's
        # softmax axis) are read for the output's rank.
        spec, defaults = self.resolve_defaults(
            spec, DefaultContext(rank=1 + len(spec.output_shape(input_shapes))))
        context = BuildContext(layer_name=layer, input_shapes=input_shapes,
                               dtype=case.spec.dtype, training=case.spec.mode == "training",
                               backend=self)
        built = builder(spec, context)
        built.defaults = defaults
        return built

    def build_loss(self, loss: Any, dtype: str) -> tuple[Callable, str, str]:
        builder = self.loss_builders.get(loss.type)
        if builder is None:
            raise Unsupported(f"the {self.name} adapter has no loss {loss.type!r}")
        return builder(loss, dtype)

    def build(self, case: Case) -> tuple[dict[str, BuiltLayer], dict[str, Implementation]]:
        built = {layer: self.build_layer(case, layer) for layer in case.graph.layers}
        implementations = {
            layer: Implementation(layer_built.implementation, layer_built.detail, [
                {"parameter": f"{layer}/{b.parameter}", "native_name": b.native_name,
                 "native_shape": list(np.shape(self.read(b.native))), "transform": b.transform.description}
                for b in layer_built.bindings], [d.to_dict() for d in layer_built.defaults])
            for layer, layer_built in built.items()}
        return built, implementations

    # --- the case as one model of the framework (checkpoints, export, ports' weights) ------
    key_separator: ClassVar[str] = "/"
    """Between a layer's name and a tensor's name within its module, in `WeightBinding.key`."""

    def native_model(self, built: dict[str, BuiltLayer]) -> NativeModel:
        """Each layer's module placed under the layer's name in one model of the framework."""
        raise NotImplementedError

    def build_native(self, case: Case) -> tuple[dict[str, BuiltLayer], NativeModel]:
        """The case built as `run` builds it, its layers placed in one model of the framework,
        and every binding's and held tensor's `key` filled in from that model's own names."""
        built, _ = self.build(case)
        model = self.native_model(built)
        keys = {id(native): key for key, native in model.tensors.items()}
        for layer, layer_built in built.items():
            for binding in layer_built.bindings:
                if id(binding.native) not in keys:
                    raise RuntimeError(f"the {self.name} adapter's {binding.native_name} of layer {layer!r} "
                                       "is not a tensor of the layer's module")
                binding.key = keys[id(binding.native)]
            for held in layer_built.held:
                held.key = f"{layer}{self.key_separator}{held.name}"
                if held.fold is not None:
                    held.fold.key = held.key
        return built, model

    def save_checkpoint(self, model: NativeModel, tensors: dict[str, np.ndarray], path: str) -> None:
        """Write named tensors (`NativeLayout.to_native`'s) to `path` as the framework saves
        this model, for its own loader."""
        raise NotImplementedError

    def read_checkpoint(self, path: str, model: NativeModel) -> "CheckpointContents":
        """A checkpoint file's tensors by `WeightBinding.key`, read as the framework saves them."""
        raise NotImplementedError

    def load_weights(self, case: Case, built: dict[str, BuiltLayer]) -> None:
        expected = set(case.graph.parameter_shapes)
        for layer, layer_built in built.items():
            for binding in layer_built.bindings:
                name = f"{layer}/{binding.parameter}"
                expected.discard(name)
                self.assign(binding.native, binding.transform.to_native(case.weights[name]))
        if expected:
            raise RuntimeError(f"{self.name} adapter bound no native parameter for {sorted(expected)}")

    def forward(self, case: Case, built: dict[str, BuiltLayer], inputs: dict[str, Any]) -> dict[str, Any]:
        tensors = dict(inputs)
        for node in case.graph.nodes:
            node.store(tensors, built[node.layer].call(*[tensors[name] for name in node.inputs]))
        return tensors

    def total_loss(self, case: Case, losses: list[tuple[Any, Callable]], tensors: dict[str, Any],
                   targets: dict[str, Any]) -> Any:
        total = None
        for loss, function in losses:
            term = function(tensors[case.loss_output(loss)], targets[case.loss_target(loss)])
            term = term if loss.weight == 1.0 else self.scale(term, loss.weight)
            total = term if total is None else self.add(total, term)
        return total

    def run(self, case: Case) -> RunResult:
        with self.session(case):
            built, implementations = self.build(case)
            losses = []
            for index, loss in enumerate(case.losses):
                resolved, defaults = self.resolve_defaults(loss)
                function, implementation, detail = self.build_loss(resolved, case.spec.dtype)
                losses.append((resolved, function))
                implementations[f"loss:{index}"] = Implementation(
                    implementation, detail, defaults=[d.to_dict() for d in defaults])
            self.load_weights(case, built)
            result = self.run_built(case, built, losses, implementations)
            self.add_metrics(case, result)
            if case.spec.training is not None:
                result.training = self.train(case, built, losses)
            return result

    def run_built(self, case: Case, built: dict[str, BuiltLayer], losses, implementations) -> RunResult:
        float_inputs = case.float_inputs()
        inputs = {name: self.tensor(array, requires_grad=name in float_inputs)
                  for name, array in case.dataset.inputs.items()}
        targets = {name: self.tensor(array, requires_grad=False)
                   for name, array in case.dataset.targets.items()}
        trainable = set(case.trainable_parameters())
        bindings = [(layer, b) for layer, layer_built in built.items() for b in layer_built.bindings
                    if f"{layer}/{b.parameter}" in trainable]
        state_bindings = [(layer, b) for layer, layer_built in built.items() for b in layer_built.bindings
                          if f"{layer}/{b.parameter}" in case.state_parameters()]

        def compute():
            tensors = self.forward(case, built, inputs)
            return self.total_loss(case, losses, tensors, targets), tensors

        if not losses:  # a forward-only case: nothing to differentiate (runner.without_loss)
            tensors = self.forward(case, built, inputs)
            loss, input_grads, parameter_grads = None, [None] * len(float_inputs), [None] * len(bindings)
        else:
            loss, tensors, input_grads, parameter_grads = self.differentiate(
                compute, [inputs[name] for name in float_inputs], [b.native for _, b in bindings])
        parameter_gradients = add_parts(
            (f"{layer}/{binding.parameter}",
             np.zeros(case.graph.parameter_shapes[f"{layer}/{binding.parameter}"], dtype=case.dtype)
             if gradient is None else binding.transform.from_native(self.to_numpy(gradient)))
            for (layer, binding), gradient in zip(bindings, parameter_grads))
        return RunResult(
            framework=self.name, dtype=case.spec.dtype,
            outputs={name: self.to_numpy(tensors[name]) for name in case.graph.outputs},
            intermediates={node.name: self.to_numpy(tensors[node.name]) for node in case.graph.nodes},
            # Without a loss, a 0 that no check compares (backends/tensor_pairs.py leaves it out).
            loss=np.asarray(self.to_numpy(loss)) if loss is not None else np.zeros((), dtype=case.dtype),
            parameter_gradients=parameter_gradients,
            input_gradients={name: (np.zeros_like(case.dataset.inputs[name]) if g is None
                                    else self.to_numpy(g))
                             for name, g in zip(float_inputs, input_grads)},
            # Read back through the same bindings (and inverse transforms) as the weights went in.
            state=add_parts((f"{layer}/{b.parameter}", b.transform.from_native(np.array(self.read(b.native))))
                            for layer, b in state_bindings),
            implementations=implementations,
        )


    # --- metrics ----------------------------------------------------------------------------
    def build_metric(self, metric: Any, dtype: str) -> tuple[Callable, str, str]:
        builder = self.metric_builders.get(metric.type)
        if builder is None:
            raise Unsupported(f"the {self.name} adapter has no metric {metric.type!r}")
        return builder(metric, dtype)

    def add_metrics(self, case: Case, result: RunResult) -> None:
        """The case's metrics with this framework's own functions, on the outputs of the single
        pass (the metrics have no gradient, so they are computed outside the recorded pass, on
        the same values). One the framework cannot compute makes the `metrics` check skip."""
        if not case.metrics:
            return
        targets = {name: self.tensor(array, requires_grad=False) for name, array in case.dataset.targets.items()}
        try:
            for metric in case.metrics:
                function, implementation, detail = self.build_metric(metric, case.spec.dtype)
                output = self.tensor(result.outputs[case.metric_output(metric)], requires_grad=False)
                value = function(output, targets[case.metric_target(metric)])
                result.metrics[metric.label] = np.asarray(self.to_numpy(value), dtype=np.float64)
                result.implementations[f"metric:{metric.label}"] = Implementation(implementation, detail)
        except Unsupported as exc:
            result.unavailable["metrics"] = str(exc)

    # --- training ---------------------------------------------------------------------------
    def build_optimizer(self, spec: Any, parameters: list[Any], dtype: str) -> BuiltOptimizer:
        builder = self.optimizer_builders.get(spec.type)
        if builder is None:
            raise Unsupported(f"the {self.name} adapter has no optimizer {spec.type!r}")
        if not parameters:
            # A model without trainable parameters trains by doing nothing, as the reference
            # does; torch.optim refuses an empty parameter list ("optimizer got an empty
            # parameter list"), so no framework's optimizer is built for it.
            return BuiltOptimizer(apply=lambda gradients: None, implementation="native",
                                  detail="no trainable parameters: nothing to update")
        spec, defaults = self.resolve_defaults(spec)
        built = builder(spec, parameters, dtype)
        built.defaults = defaults
        return built

    def train(self, case: Case, built: dict[str, BuiltLayer], losses) -> TrainingTrace:
        """The training steps on the already built model, from freshly loaded weights."""
        started = time.perf_counter()
        try:
            trace = self.train_built(case, built, losses)
        except Unsupported as exc:
            trace = TrainingTrace(status="skipped", reason=str(exc))
        except Exception as exc:  # a failing optimizer is the training check's error, not the run's
            trace = TrainingTrace(status="error", reason=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        trace.seconds = time.perf_counter() - started
        return trace

    def train_built(self, case: Case, built: dict[str, BuiltLayer], losses) -> TrainingTrace:
        # The single pass before may have changed state (moving statistics in training mode).
        self.load_weights(case, built)
        trainable = set(case.trainable_parameters())
        bindings = [(f"{layer}/{b.parameter}", b) for layer, layer_built in built.items()
                    for b in layer_built.bindings if f"{layer}/{b.parameter}" in trainable]
        natives = [binding.native for _, binding in bindings]
        state_bindings = [(f"{layer}/{b.parameter}", b) for layer, layer_built in built.items()
                          for b in layer_built.bindings if f"{layer}/{b.parameter}" in case.state_parameters()]
        optimizer = self.build_optimizer(case.spec.optimizer, natives, case.spec.dtype)
        trace = TrainingTrace(optimizer=Implementation(optimizer.implementation, optimizer.detail,
                                                       defaults=[d.to_dict() for d in optimizer.defaults]))
        for batch in case.training_batches():
            inputs = {name: self.tensor(array, requires_grad=False) for name, array in batch.inputs.items()}
            targets = {name: self.tensor(array, requires_grad=False) for name, array in batch.targets.items()}

            def compute():
                tensors = self.forward(case, built, inputs)
                return self.total_loss(case, losses, tensors, targets), tensors

            loss, _, _, gradients = self.differentiate(compute, [], natives)
            optimizer.apply(gradients)
            trace.losses.append(np.array(self.to_numpy(loss)))
            # Copies (add_parts copies): torch's and chainer's arrays share memory with the live
            # parameter.
            trace.parameters.append(add_parts((name, binding.transform.from_native(self.read(binding.native)))
                                              for name, binding in bindings))
            trace.state.append(add_parts((name, binding.transform.from_native(np.array(self.read(binding.native))))
                                         for name, binding in state_bindings))
        return trace


def add_parts(parts: Iterable[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Canonical parameters from (name, part) pairs, one per weight binding.

    A parameter spread over several native tensors (torch's GRU biases, chainer's one tensor per
    gate) has one binding per tensor, whose from_native fills its part of the canonical shape
    and leaves zeros elsewhere: the parameter is the sum of its parts. Values, gradients and
    state are all read back this way. The result is a fresh array even for a single part.
    """
    total: dict[str, np.ndarray] = {}
    for name, part in parts:
        total[name] = total[name] + part if name in total else np.array(part)
    return total

