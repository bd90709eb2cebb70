"""A case ready to run: validated spec, graph, and its data and canonical weights, generated once.

Data and weights are generated in float64, then rounded to the case's dtype. Every backend,
the float64 reference included, receives these rounded values, so the comparison measures how
each framework computes, not how the inputs were rounded.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from harness.case.data import Values, generate
from harness.case.graph import Graph, build_graph
from harness.case.limits import MAX_ELEMENTS
from harness.case.loader import LoadedCase, load_case_data, load_case_file
from harness.case.port import Port
from harness.case.schema import BACKENDS, FRAMEWORKS, RUNTIME_SOURCES, CaseSpec, TensorSpec
from harness.common.errors import CaseError, CaseErrors
from harness.reference.initializers import INITIALIZERS, parameter_rng
from harness.reference.spec import Shape


@dataclass
class Dataset:
    inputs: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    samples: int


@dataclass
class Case:
    loaded: LoadedCase
    graph: Graph
    dataset: Dataset
    weights: dict[str, np.ndarray] = field(repr=False)
    """Canonical weights `<layer>/<parameter>` -> array in the case's dtype."""
    initializer_descriptions: dict[str, str] = field(default_factory=dict)
    ports: list[Port] = field(default_factory=list)
    """The case file's `ports`, then any added on the command line (`with_ports`)."""

    @property
    def spec(self) -> CaseSpec:
        return self.loaded.spec

    @property
    def id(self) -> str:
        return self.loaded.case_id

    @property
    def file(self) -> Path:
        return self.loaded.file

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.spec.dtype)

    @cached_property
    def losses(self) -> list[Any]:
        return self.spec.losses

    def loss_output(self, loss: Any) -> str:
        return loss.output or self.graph.outputs[0]

    def loss_target(self, loss: Any) -> str:
        return loss.target or next(iter(self.dataset.targets))

    def trainable_parameters(self) -> list[str]:
        frozen = {f"{layer}/{parameter}" for layer, spec in self.graph.layers.items()
                  for parameter in spec.non_trainable()}
        return [name for name in self.graph.parameter_shapes if name not in frozen]

    def state_parameters(self) -> list[str]:
        """Non-trainable parameters (moving statistics): compared after the run as state."""
        trainable = set(self.trainable_parameters())
        return [name for name in self.graph.parameter_shapes if name not in trainable]

    def training_batches(self) -> list[Dataset]:
        """The data of each training step, in order: consecutive slices of `batch_size` samples,
        starting again from the first slice after the last (epochs without shuffling)."""
        training = self.spec.training
        if training is None:
            return []
        size, count = training.batch_size, self.dataset.samples // training.batch_size
        batches = []
        for step in range(training.steps):
            rows = slice((step % count) * size, (step % count + 1) * size)
            batches.append(Dataset(inputs={name: array[rows] for name, array in self.dataset.inputs.items()},
                                   targets={name: array[rows] for name, array in self.dataset.targets.items()},
                                   samples=size))
        return batches

    def float_inputs(self) -> list[str]:
        """Inputs with a gradient (integer inputs, such as Embedding indices, have none)."""
        return [name for name, array in self.dataset.inputs.items() if array.dtype.kind == "f"]

    @cached_property
    def metrics(self) -> list[Any]:
        return list(self.spec.metrics)

    def metric_output(self, metric: Any) -> str:
        return metric.output or self.graph.outputs[0]

    def metric_target(self, metric: Any) -> str:
        return metric.target or next(iter(self.dataset.targets))

    def port_names(self) -> list[str]:
        return [port.name for port in self.ports]

    def port(self, name: str) -> Port | None:
        return next((port for port in self.ports if port.name == name), None)

    def backend_names(self, frameworks: list[str] | tuple[str, ...] = FRAMEWORKS) -> list[str]:
        """The columns of this case: the given frameworks, then its ports."""
        return [*frameworks, *self.port_names()]

    def with_ports(self, ports: list[Port]) -> "Case":
        """This case with more ports (from the command line); a name taken by a framework or by
        a port of the case is refused."""
        if not ports:
            return self
        taken = {*BACKENDS, *self.port_names()}
        for port in ports:
            if port.name in taken:
                raise CaseError(f"port name {port.name!r} is taken in case {self.id}", file=str(self.file),
                                field="--port", expected="a name that is neither a framework "
                                f"({', '.join(BACKENDS)}) nor one of the case's ports ({', '.join(self.port_names()) or 'none'})",
                                found=port.name)
            taken.add(port.name)
        return replace(self, ports=[*self.ports, *ports])

    def expected_difference(self, framework: str, check: str, paths: dict[str, str] | None = None):
        """The case's documented difference for this framework and check, if any; an entry with
        `when` only where `paths` (the run's execution paths, name -> path) meet it. A shipped
        runtime without an entry of its own inherits its source framework's (the exported model
        is that framework's model, its defaults included), with the reason saying so."""
        for expectation in self.spec.expected_differences:
            if expectation.applies(framework, check, paths):
                return expectation
        source = RUNTIME_SOURCES.get(framework)
        inherited = self.expected_difference(source, check, paths) if source else None
        if inherited is None:
            return None
        return inherited.model_copy(update={"reason": f"exported from {source}, documented for {source}: "
                                                      f"{inherited.reason}"})


WeightsReader = Callable[["Case"], tuple[dict[str, np.ndarray], dict[str, str]]]
"""Reads a case's `weights: {file}` (harness.weights.checkpoints.weights_from_case_file): the
checkpoint layer, above this one, hands it in, so that a Case stays data and loading one never
builds a framework model here. harness.weights.load_cases and friends pass it."""


def load_cases(paths: str | Path | list[str | Path], read_weights: WeightsReader | None = None) -> list[Case]:
    """Every case in the given file or directory, or list of them (directories: their *.yaml,
    sorted)."""
    cases, errors = [], []
    for path in expand_paths(paths):
        try:
            cases.extend(load_cases_from_file(path, read_weights))
        except CaseError as exc:
            errors.extend(exc.errors if isinstance(exc, CaseErrors) else [exc])
    if errors:
        raise CaseErrors(errors)
    return cases


def expand_paths(paths: str | Path | list[str | Path]) -> list[Path]:
    if isinstance(paths, (str, Path)):  # one path, not a sequence of one-letter paths
        paths = [paths]
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")))
        else:
            files.append(path)
    return files


def load_cases_from_file(path: str | Path, read_weights: WeightsReader | None = None) -> list[Case]:
    """The file's cases; a CaseError naming the file for any problem, whatever raised it (the
    resolving steps name their section too), so one bad file never ends a run."""
    try:
        return [resolve(loaded, read_weights) for loaded in load_case_file(path)]
    except CaseError:
        raise
    except Exception as exc:  # noqa: BLE001 -- the last resort; see the docstring
        raise _unexpected(exc, str(path), None) from None


def _unexpected(exc: BaseException, file: str, field: str | None) -> CaseError:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return CaseError(f"the case could not be loaded: {type(exc).__name__}: {text}", file=file, field=field,
                     hint="check this part of the case; if it looks valid, this is a harness bug "
                          "(please report it with the file)")


def cases_from_data(data: dict[str, Any], file: str = "<memory>",
                    read_weights: WeightsReader | None = None) -> list[Case]:
    """Cases from a mapping shaped like a case file (tests and programmatic use)."""
    return [resolve(loaded, read_weights) for loaded in load_case_data(data, file)]


def resolve(loaded: LoadedCase, read_weights: WeightsReader | None = None) -> Case:
    with _section(loaded, "inputs/targets"):
        dataset = build_dataset(loaded)
    input_shapes = {name: array.shape[1:] for name, array in dataset.inputs.items()}
    with _section(loaded, "model"):
        graph = build_graph(loaded, input_shapes)
    settle_whole_number_values(loaded, graph, dataset)
    check_sizes(loaded, graph, dataset.samples)
    with _section(loaded, "weights"):
        weights, descriptions = build_weights(loaded, graph)
    case = Case(loaded=loaded, graph=graph, dataset=dataset, weights=weights,
                initializer_descriptions=descriptions, ports=declared_ports(loaded))
    if loaded.spec.weights.file is not None:
        # The framework's mapping builds the model, so it needs the case; the initializers'
        # weights above are only placeholders until then.
        if read_weights is None:
            raise CaseError("this case reads its weights from a file, and it was loaded without a "
                            "weights reader", file=loaded.file, field="weights.file",
                            hint="load it with harness.weights.load_cases / load_cases_from_file / "
                                 "cases_from_data, which read checkpoint files")
        case.weights, case.initializer_descriptions = read_weights(case)
        for name, array in case.weights.items():
            check_finite(loaded, array, ("weights", "file"), f"parameter {name!r} of the weights file")
    check_losses(case)
    check_training(case)
    check_metrics(case)
    check_expected_differences(case)
    check_known_values(case)
    return case


@contextmanager
def _section(loaded: LoadedCase, field: str) -> Iterator[None]:
    """An exception other than CaseError while building `field` becomes a CaseError there."""
    try:
        yield
    except CaseError:
        raise
    except Exception as exc:  # noqa: BLE001 -- bad input must not end the run with a traceback
        raise _unexpected(exc, str(loaded.file), field) from None


def check_sizes(loaded: LoadedCase, graph: Graph, samples: int) -> None:
    """Parameters and every layer's output for the batch, counted before anything is made.

    The data was counted as it was made (build_dataset); a Dense of 10^6 units over 10^6
    inputs is 10^12 parameters, refused here instead of a MemoryError traceback."""
    parameters = sum(math.prod(shape) for shape in graph.parameter_shapes.values())
    _check_elements(loaded, parameters, ("weights",), "the model's parameters")
    activations = samples * sum(math.prod(shape) for shape in graph.shapes.values())
    _check_elements(loaded, activations, ("model",), f"the layers' outputs for {samples} samples")


def settle_whole_number_values(loaded: LoadedCase, graph: Graph, dataset: Dataset) -> None:
    """`values: [[1, 2]]` with no `dtype`: NumPy makes int64, which is right for an Embedding's
    indices and wrong for a Dense layer's input (issue 27: it ran as int64). An input becomes
    floats in the case's dtype unless a layer it feeds takes integers (Layer.input_data); a
    target cannot be told apart (class indices or values?), so the case must say."""
    spec = loaded.spec
    for name, tensor in spec.inputs.items():
        if tensor.dtype is None and isinstance(tensor.data, Values) and dataset.inputs[name].dtype.kind in "iu":
            consumers = [node for node in graph.nodes if name in node.inputs]
            if not any(node.spec.input_data() is not None for node in consumers):
                dataset.inputs[name] = dataset.inputs[name].astype(spec.dtype)
    for name, tensor in spec.targets.items():
        if tensor.dtype is None and isinstance(tensor.data, Values) and dataset.targets[name].dtype.kind in "iu":
            raise loaded.error(f"target {name!r} is written in whole numbers only: class indices or "
                               "values?", ("targets", name, "data"),
                               hint="declare `dtype: int64` for class indices, or write the values "
                                    "with a point (1.0) for floats")


def check_finite(loaded: LoadedCase, values: Any, path: tuple[Any, ...], what: str) -> None:
    """NaN and inf in data or weights are refused unless the case says it tests them
    (`nonfinite: REASON`): NaN compares equal to NaN, so a model whose weights are all NaN would
    agree with itself on every backend and pass every check."""
    array = np.asarray(values)
    if loaded.spec.nonfinite is not None or array.dtype.kind != "f":
        return
    finite = np.isfinite(array)
    if not finite.all():
        count = int(array.size - np.count_nonzero(finite))
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise loaded.error(f"{what} is not finite: {count} of {array.size} values are NaN or inf "
                           f"(the first at index {first})", path,
                           hint="a case that tests non-finite values says why with `nonfinite: REASON` "
                                "(its NaN agreement is then reported as such); otherwise fix the data")


def _check_elements(loaded: LoadedCase, count: int, path: tuple[Any, ...], what: str) -> None:
    if count > MAX_ELEMENTS.value():
        raise loaded.error(f"{what} would hold {count:,} elements", path, hint=MAX_ELEMENTS.hint())


def declared_ports(loaded: LoadedCase) -> list[Port]:
    """The case file's ports, their paths relative to its directory; names must be new."""
    ports, taken = [], set(BACKENDS)
    for index, spec in enumerate(loaded.spec.ports):
        if spec.name in taken:
            raise loaded.error(f"port name {spec.name!r} is already taken", ("ports", index, "name"),
                               expected="a name that is neither a framework (" + ", ".join(BACKENDS)
                               + ") nor another port's", found=spec.name)
        taken.add(spec.name)
        ports.append(Port(spec=spec, directory=Path(loaded.file).resolve().parent))
    return ports


def check_expected_differences(case: Case) -> None:
    known = case.backend_names(BACKENDS)
    for index, expectation in enumerate(case.spec.expected_differences):
        for position, name in enumerate(expectation.frameworks):
            if name not in known:
                raise case.loaded.error(f"unknown framework or port {name!r}",
                                        ("expected_differences", index, "frameworks", position),
                                        expected="one of " + ", ".join(known), found=name)
        for name in (expectation.when.execution_paths if expectation.when else {}):
            # A setting's name has a dot (`tensorflow.onednn`); any other name is a layer's.
            if "." not in name and name not in case.graph.layers:
                raise case.loaded.error(f"unknown layer {name!r} in the condition",
                                        ("expected_differences", index, "when", "execution_paths", name),
                                        expected="a layer of the case (" + ", ".join(case.graph.layers)
                                        + ") or a setting such as tensorflow.onednn", found=name,
                                        hint="the names are those of results.json's execution_paths")


def check_metrics(case: Case) -> None:
    loaded, graph, targets = case.loaded, case.graph, case.dataset.targets
    seen: set[str] = set()
    for index, metric in enumerate(case.metrics):
        path = ("metrics", index)
        if metric.label in seen:
            raise loaded.error(f"metric name {metric.label!r} is used twice", (*path, "name"),
                               hint="give each metric of the same type its own `name`")
        seen.add(metric.label)
        output, target = _output_and_target(case, metric, path, "metric", case.metric_output, case.metric_target)
        output_shape, target_shape = graph.shapes[output], targets[target].shape[1:]
        indices = (output_shape[:-1], (*output_shape[:-1], 1))
        if metric.integer_targets:
            allowed, wanted = indices, f"{list(output_shape[:-1])} (class indices)"
        elif metric.type == "top_k_accuracy":
            allowed = (*indices, output_shape)
            wanted = f"{list(output_shape[:-1])} (class indices) or {list(output_shape)} (one-hot)"
        else:
            allowed, wanted = (output_shape,), str(list(output_shape))
        if tuple(target_shape) not in allowed:
            raise loaded.error(f"target {target!r} has shape {list(target_shape)}, output {output!r} has "
                               f"{list(output_shape)}", path, expected=f"target shape {wanted}")


def build_dataset(loaded: LoadedCase) -> Dataset:
    spec = loaded.spec
    samples = spec.samples or _samples_from_values(spec)
    if samples is None:
        raise loaded.error("cannot tell the batch size", ("samples",),
                           hint="set `samples:` or give some tensor literal `values`")
    _check_elements(loaded, _generated_elements(spec, samples), ("samples",),
                    f"the generated inputs and targets for {samples:,} samples")
    scope: dict[str, np.ndarray] = {}
    inputs = {name: _tensor(loaded, "inputs", name, tensor, samples, scope)
              for name, tensor in spec.inputs.items()}
    targets = {name: _tensor(loaded, "targets", name, tensor, samples, scope)
               for name, tensor in spec.targets.items()}
    return Dataset(inputs=inputs, targets=targets, samples=samples)


def _samples_from_values(spec: CaseSpec) -> int | None:
    for tensor in [*spec.inputs.values(), *spec.targets.values()]:
        values = getattr(tensor.data, "values", None)
        if values is not None:
            return len(values)
    return None


def _generated_elements(spec: CaseSpec, samples: int) -> int:
    """What the seeded generators will make, from the shapes alone (literal values were counted
    as YAML values; an expression limits its own arrays)."""
    total = 0
    for tensor in [*spec.inputs.values(), *spec.targets.values()]:
        one_hot = getattr(tensor.data, "one_hot", None)
        if one_hot is not None:
            total += one_hot.classes ** 2  # the identity its rows are taken from
        shape = tensor.shape if tensor.shape is not None else ([one_hot.classes] if one_hot else None)
        if shape is not None and tensor.data.needs_shape():
            total += samples * math.prod(shape)
    return total


def _tensor(loaded: LoadedCase, section: str, name: str, tensor: TensorSpec, samples: int,
            scope: dict[str, np.ndarray]) -> np.ndarray:
    path = (section, name)
    shape: Shape | None = tuple(tensor.shape) if tensor.shape is not None else None
    if shape is None and tensor.data.needs_shape():
        raise loaded.error("this generator needs a `shape`", (*path, "shape"),
                           expected="the shape without the batch axis, e.g. [28, 28]")
    seed = tensor.seed if tensor.seed is not None else loaded.spec.data_seed
    try:
        array = generate(tensor.data, name=name, samples=samples, shape=shape, seed=seed, scope=scope)
    except ValueError as exc:
        raise loaded.error(str(exc), (*path, "data"), hint=getattr(exc, "hint", None)) from None
    if array.ndim == 0 or array.shape[0] != samples:
        raise loaded.error(f"{section[:-1]} {name!r} has {array.shape[0] if array.ndim else 'no'} samples",
                           (*path, "data"), expected=f"{samples} (the batch size)", found=list(array.shape))
    if shape is not None and array.shape[1:] != shape:
        raise loaded.error(f"{section[:-1]} {name!r} has shape {list(array.shape[1:])} per sample",
                           (*path, "shape"), expected=list(shape), found=list(array.shape[1:]))
    check_finite(loaded, array, (*path, "data"), f"{section[:-1]} {name!r}")
    dtype = tensor.dtype or ("int64" if array.dtype.kind in "iu" else loaded.spec.dtype)
    array = array.astype(dtype)
    scope[name] = array.astype(np.float64) if array.dtype.kind == "f" else array
    return array


def build_weights(loaded: LoadedCase, graph: Graph) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    spec = loaded.spec.weights
    unknown = sorted(set(spec.parameters) - set(graph.parameter_shapes))
    if unknown:
        raise loaded.error(f"no parameter named {unknown[0]!r}", ("weights", "parameters", unknown[0]),
                           expected="one of " + ", ".join(graph.parameter_shapes),
                           hint="`python -m harness show CASE` lists the parameter names")
    weights, descriptions = {}, {}
    for name, shape in graph.parameter_shapes.items():
        layer, parameter = name.split("/", 1)
        # A wrapper's parameter (Bidirectional's forward/kernel) takes the default of its last part.
        initializer = (spec.parameters.get(name) or spec.defaults.get(parameter)
                       or spec.defaults.get(parameter.rsplit("/", 1)[-1]))
        if initializer is None:
            default = graph.layers[layer].default_initializers().get(parameter, "zeros")
            initializer = _named_initializer(default)
        try:
            values, descriptions[name] = graph.layers[layer].initialize(
                parameter, initializer, shape, parameter_rng(spec.seed, name))
        except ValueError as exc:
            raise loaded.error(f"{name}: {exc}", ("weights", "parameters", name)) from None
        check_finite(loaded, values, ("weights", "parameters", name), f"parameter {name!r}")
        weights[name] = np.asarray(values, dtype=np.float64).astype(loaded.spec.dtype)
    return weights, descriptions


def _named_initializer(name: str):
    return INITIALIZERS[name](initializer=name)


def _output_and_target(case: Case, spec: Any, path: tuple[Any, ...], what: str,
                       output_of: Callable[[Any], str], target_of: Callable[[Any], str]) -> tuple[str, str]:
    """The output and target a loss or metric (`what`) reads, each named or the only one there
    is; a CaseError at its field where it must be named or names none of the case's."""
    loaded, graph, targets = case.loaded, case.graph, case.dataset.targets
    if spec.output is None and len(graph.outputs) > 1:
        raise loaded.error(f"the model has several outputs: name the one this {what} reads",
                           (*path, "output"), expected="one of " + ", ".join(graph.outputs))
    if spec.target is None and len(targets) != 1:
        raise loaded.error(f"name the target this {what} compares with", (*path, "target"),
                           expected="one of " + (", ".join(targets) or "(no targets declared)"),
                           hint=None if targets else "declare the target under `targets:`, e.g. "
                           "`targets: {t: {shape: [...], data: {normal: {}}}}` with the output's shape "
                           "(without the batch axis); every case's loss needs one, even a forward-only case's")
    output, target = output_of(spec), target_of(spec)
    if output not in graph.outputs:
        raise loaded.error(f"unknown output {output!r}", (*path, "output"),
                           expected="one of " + ", ".join(graph.outputs))
    if target not in targets:
        raise loaded.error(f"unknown target {target!r}", (*path, "target"),
                           expected="one of " + ", ".join(targets))
    return output, target


def check_losses(case: Case) -> None:
    loaded, graph, targets = case.loaded, case.graph, case.dataset.targets
    many = isinstance(case.spec.loss, list)
    for index, loss in enumerate(case.losses):
        path = ("loss", index) if many else ("loss",)
        output, target = _output_and_target(case, loss, path, "loss", case.loss_output, case.loss_target)
        output_shape, target_shape = graph.shapes[output], targets[target].shape[1:]
        wanted = output_shape[:-1] if loss.integer_targets else output_shape
        if target_shape != wanted and not (loss.integer_targets and target_shape == (*wanted, 1)):
            raise loaded.error(f"target {target!r} has shape {list(target_shape)}, output "
                               f"{output!r} has {list(output_shape)}", (*path,),
                               expected=f"target shape {list(wanted)}" + (
                                   " (class indices)" if loss.integer_targets else ""))
        if loss.integer_targets:
            _check_labels(case, loss, target, output_shape[-1])


def _check_labels(case: Case, loss: Any, target: str, classes: int) -> None:
    """Class indices must name a class. A label outside 0..classes-1 has no reference value,
    and the frameworks disagree on it: torch and Keras raise, chainer silently drops a row
    labelled -1 (its default ignore_label), and indexing from the end (NumPy, keras.ops.
    take_along_axis, chainer's select_item) would take -1 for the last class. So it is an error
    of the case unless the loss declares it as its `ignore_label` (cases/sparse_ignore_label.yaml)."""
    labels = case.dataset.targets[target]
    bad = (labels < 0) | (labels >= classes)
    if getattr(loss, "ignore_label", None) is not None:
        bad &= labels != loss.ignore_label
    if bad.any():
        found = sorted({int(label) for label in labels[bad]})
        raise case.loaded.error(
            f"target {target!r} holds labels outside the {classes} classes: {found[:5]}", ("targets", target),
            expected=f"class indices 0..{classes - 1}",
            hint="to skip those positions, as chainer does with -1, declare the label on the loss: "
                 f"`ignore_label: {found[0]}` (loss 0 and no gradient there, counted in `mean`)")


def check_training(case: Case) -> None:
    training = case.spec.training
    if training is None:
        return
    if case.dataset.samples % training.batch_size:
        raise case.loaded.error(
            f"{case.dataset.samples} samples do not split into batches of {training.batch_size}",
            ("training", "batch_size"), expected=f"a divisor of samples ({case.dataset.samples})",
            found=training.batch_size, hint="change `samples` or `training.batch_size`")


def check_known_values(case: Case) -> None:
    expect = case.spec.expect
    if expect is None:
        return
    _check_known_steps(case, expect)
    metric_names = [metric.label for metric in case.metrics]
    for name in expect.metrics:
        if name not in metric_names:
            raise case.loaded.error(f"unknown metric {name!r}", ("expect", "metrics", name),
                                    expected="one of the case's metrics: " + (", ".join(metric_names) or "(none)"))
    for name, values in expect.outputs.items():
        if name not in case.graph.outputs:
            raise case.loaded.error(f"unknown output {name!r}", ("expect", "outputs", name),
                                    expected="one of " + ", ".join(case.graph.outputs))
        _check_known_shape(case, ("expect", "outputs", name), values,
                           (case.dataset.samples, *case.graph.shapes[name]))
    for name, values in expect.gradients.items():
        if name.startswith("input:"):
            input_name = name.split(":", 1)[1]
            shape = case.dataset.inputs.get(input_name, np.empty(0)).shape
            if input_name not in case.dataset.inputs:
                raise case.loaded.error(f"unknown input {input_name!r}", ("expect", "gradients", name))
        elif name in case.graph.parameter_shapes:
            shape = case.graph.parameter_shapes[name]
        else:
            raise case.loaded.error(f"unknown gradient {name!r}", ("expect", "gradients", name),
                                    expected="a parameter (" + ", ".join(case.graph.parameter_shapes)
                                    + ") or input:<name>")
        _check_known_shape(case, ("expect", "gradients", name), values, tuple(shape))


def _check_known_steps(case: Case, expect) -> None:
    steps = case.spec.training.steps if case.spec.training is not None else 0
    trainable = case.trainable_parameters()
    for index, known in enumerate(expect.steps):
        path = ("expect", "steps", index)
        if known.step > steps:
            raise case.loaded.error(f"step {known.step} is not trained", (*path, "step"),
                                    expected=f"a step from 1 to {steps} (training.steps)" if steps
                                    else "a `training` section: only training cases have steps")
        for name, values in known.parameters.items():
            if name not in trainable:
                raise case.loaded.error(f"unknown trainable parameter {name!r}", (*path, "parameters", name),
                                        expected="one of " + ", ".join(trainable))
            _check_known_shape(case, (*path, "parameters", name), values, case.graph.parameter_shapes[name])


def _check_known_shape(case: Case, path, values, shape) -> None:
    found = np.asarray(values).shape
    if found != tuple(shape):
        raise case.loaded.error(f"expected values have shape {list(found)}", path, expected=list(shape))
