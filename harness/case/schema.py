"""The case-file format: one pydantic model per section, exported as JSON Schema.

`python -m harness schema` writes `harness/case/case.schema.json` (committed, so editors with a
YAML language server autocomplete case files; a test keeps it in sync). Field descriptions here
are what the editor shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from harness.case.data import DataField
from harness.reference.initializers import InitializerField
from harness.reference.layers.base import LAYERS
from harness.reference.losses import LossField
from harness.reference.metrics import MetricField
from harness.reference.optimizers import OptimizerField
from harness.reference.spec import Spec, by_key

import harness.reference.layers  # noqa: F401  (registers every layer kind)

SCHEMA_FILE = Path(__file__).with_name("case.schema.json")
"""The committed JSON Schema of case files (`python -m harness schema` writes it)."""

NATIVE_FRAMEWORKS = ("keras", "chainer", "torch")
"""The frameworks with a package of their own under harness/backends/ (builders, importer, checkpoints)."""
FRAMEWORKS = ("numpy", *NATIVE_FRAMEWORKS)
"""The default columns: the reference and the three frameworks. A case's backends are the
chosen ones plus its `ports` (Case.backend_names)."""
RUNTIME_SOURCES = {"onnxruntime": "torch", "litert": "keras"}
"""Each shipped runtime -> the framework adapter whose model it exports: the runtime runs that
framework's model, so the case's documented differences of that framework are its own too
(Case.expected_difference)."""
RUNTIMES = tuple(RUNTIME_SOURCES)
"""The shipped runtimes (harness/backends/shipping/): columns on request (`--frameworks`), not by
default, because exporting a case costs seconds where a framework's run costs milliseconds
(docs/shipping.md has the measured times)."""
KERAS_OTHER_BACKENDS = ("keras-torch",)
"""The Keras adapter's model on Keras' other backends, each in a worker process started with
KERAS_BACKEND set (harness/backends/keras_other/): columns on request, like the runtimes (a
worker's start and the per-case pickling cost time; docs/shipping.md has the measured times).
Unlike a runtime, it inherits none of `keras`'s documented differences: another engine runs the
same layers."""
BACKENDS = FRAMEWORKS + RUNTIMES + KERAS_OTHER_BACKENDS
"""Every built-in backend name (harness/backends/__init__.py's BACKEND_CLASSES has one class each)."""
FrameworkName = Literal[BACKENDS]
CHECKS = ("forward", "intermediates", "gradients", "training", "metrics", "known_values")
CheckName = Literal["forward", "intermediates", "gradients", "training", "metrics", "known_values"]
DEFAULT_CHECKS = ("forward", "intermediates", "gradients")
LOSS_CHECKS = ("gradients", "training")
"""Checks that compare what the loss drives: not applicable to a case without one."""
FloatDtype = Literal["float32", "float64"]
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

LayerField = Annotated[Union[tuple(LAYERS.values())], Field(discriminator="type")]  # type: ignore[valid-type]


class TensorSpec(Spec):
    """A model input or a loss target: its shape (without the batch axis), dtype and data."""

    shape: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="shape without the batch axis; may be left out for values and expressions")
    dtype: Literal["float32", "float64", "int32", "int64"] | None = Field(
        default=None, description="default: the case's dtype (int64 for integer data)")
    data: DataField
    seed: int | None = Field(default=None, ge=0,
                             description="seed for this tensor's generator; default: the case's data_seed")


class ModelSpec(Spec):
    """Either `sequential` (a list of layers, each reading the previous one) or `nodes`
    (a graph: each layer names its `inputs`; a `Reuse` node applies an earlier layer again)."""

    sequential: list[LayerField] | None = None
    nodes: list[LayerField] | None = None
    outputs: list[str] | None = Field(default=None, description="graph form: output node names; default the last node")

    @model_validator(mode="after")
    def _one_form(self):
        if (self.sequential is None) == (self.nodes is None):
            raise ValueError("write exactly one of `sequential` (a list of layers) or `nodes` (a graph)")
        if self.sequential is not None and self.outputs is not None:
            raise ValueError("`outputs` belongs to the graph form; a sequential model's output is its last layer")
        return self


class WeightsSpec(Spec):
    """How every parameter gets its value. Parameters are named `<layer name>/<parameter>`
    (see `python -m harness show CASE` for the names and canonical shapes). Either initializers
    and values (`seed`, `defaults`, `parameters`) or a checkpoint `file` holding every parameter."""

    seed: int = Field(default=0, ge=0)
    defaults: dict[str, InitializerField] = Field(
        default_factory=dict, description="initializer per parameter kind, e.g. {kernel: he_normal}")
    parameters: dict[str, InitializerField] = Field(
        default_factory=dict, description="initializer or explicit values per parameter, e.g. {dense/kernel: {values: [[...]]}}")
    file: str | None = Field(
        default=None, min_length=1,
        description="a checkpoint holding every parameter, relative to the case file: a Keras .keras or "
                    ".weights.h5, a torch state_dict (.pt, torch.save), a chainer save_npz .npz, or an .npz "
                    "of canonical `<layer>/<parameter>` arrays; converted with the adapters' own mapping")
    format: Literal["auto", "keras", "torch", "chainer", "npz"] = Field(
        default="auto", description="the checkpoint's format; auto: by the file name (.keras/.h5 keras, "
                                    ".pt/.pth torch; an .npz of canonical names npz, else chainer)")

    @model_validator(mode="after")
    def _file_or_initializers(self):
        if self.file is not None and (self.defaults or self.parameters):
            raise ValueError("`file` gives every parameter: leave out `defaults` and `parameters` "
                             "(or drop `file` to initialize)")
        if self.file is None and self.format != "auto":
            raise ValueError("`format` goes with `file`")
        return self


class Tolerance(Spec):
    """|actual - reference| <= atol + rtol * |reference|, elementwise (as numpy.isclose)."""

    rtol: float = Field(ge=0)
    atol: float = Field(ge=0)
    reason: str = Field(min_length=1, description="why this case needs other figures than the defaults")


class ToleranceOverrides(Spec):
    forward: Tolerance | None = None
    intermediates: Tolerance | None = None
    gradients: Tolerance | None = None
    training: Tolerance | None = None
    metrics: Tolerance | None = Field(
        default=None, description="error metrics (accuracies compare counts exactly); default: the forward tolerance")



class OnnxExport(Spec):
    """How `onnxruntime` exports the case's model (harness/backends/shipping/onnx_runtime.py)."""

    opset: int = Field(
        default=20, ge=18, le=23,
        description="the ONNX opset written: from 18 (the lowest torch 2.13's torchlib writes without "
                    "converting, torch/onnx/_internal/exporter/_constants.py TORCHLIB_OPSET) to 23 (the newest "
                    "ONNX Runtime 1.31 runs); default 20, torch 2.13's default")
    dynamic_batch: bool = Field(
        default=False,
        description="export the batch axis of every input as a symbolic dimension (torch.export.Dim); the "
                    "check then runs the file on two other batch sizes (the first sample alone, then the "
                    "rest) and joins the outputs; default: the batch is fixed at the case's samples")
    tolerance: ToleranceOverrides | None = Field(
        default=None, description="onnxruntime's tolerances for this export, with reasons; default: its own")


class TfliteExport(Spec):
    """How `litert` converts the case's model (harness/backends/shipping/litert.py)."""

    float16_weights: bool = Field(
        default=False,
        description="TFLiteConverter's float16 quantization of the weights (Optimize.DEFAULT with "
                    "supported_types [float16]): weights stored in float16, computed in float32; default: "
                    "float32 weights, no optimization")
    tolerance: ToleranceOverrides | None = Field(
        default=None, description="litert's tolerances for this conversion, with reasons; default: its own")


class ExportOptions(Spec):
    """Options of the shipped artifacts, each a variant of a case (docs/shipping.md, "Export options")."""

    onnx: OnnxExport = Field(default_factory=OnnxExport)
    tflite: TfliteExport = Field(default_factory=TfliteExport)

class ExpectedWhen(Spec):
    """The machine-dependent path under which a difference shows (docs/environment.md): each
    name (a layer of the case, or a setting such as `tensorflow.onednn`) -> the path the
    framework's run must have recorded for it (`native`, `transposes`, `on`, `off`, ...).
    Elsewhere the framework must agree with the reference, as every undocumented one must."""

    execution_paths: dict[str, str] = Field(
        min_length=1, description="name -> path, all of which the run must have taken (results.json, "
                                  "cases[i].frameworks.<name>.execution_paths)")


class ExpectedDifference(Spec):
    """A documented, known difference: reported as `expected-difference` with the reason.

    If the framework agrees after all, the check fails: the documentation is out of date. With
    `when`, the difference is expected only on the execution paths named there."""

    frameworks: list[str] = Field(
        min_length=1, description="numpy, keras, chainer, torch, onnxruntime, litert, keras-torch, or the name of one "
                                  "of the case's ports (onnxruntime and litert also inherit torch's and keras' "
                                  "entries; keras-torch inherits none)")
    checks: list[CheckName] | None = Field(default=None, description="default: every check")
    reason: str = Field(min_length=1)
    when: ExpectedWhen | None = Field(default=None, description="default: on every machine")

    def applies(self, framework: str, check: str, paths: dict[str, str] | None = None) -> bool:
        """Whether this entry expects `framework` to differ on `check`, given the paths its run
        took (name -> path); a `when` is never met without them."""
        if framework not in self.frameworks or (self.checks is not None and check not in self.checks):
            return False
        if self.when is None:
            return True
        return paths is not None and all(paths.get(name) == path for name, path in self.when.execution_paths.items())


class KnownStep(Spec):
    """Known values after one training step: the step's loss (on its batch, before the update)
    and parameters after the update."""

    step: int = Field(ge=1, description="1 for the first step")
    loss: float | None = None
    parameters: dict[str, Any] = Field(default_factory=dict, description="parameter name -> values after the step")


class KnownValues(Spec):
    """Values known from an independent source (a paper, an article, a hand computation),
    checked in every framework. Keys of `gradients` are parameter names or `input:<name>`."""

    source: str = Field(min_length=1, description="where these numbers come from")
    outputs: dict[str, Any] = Field(default_factory=dict)
    loss: float | None = None
    gradients: dict[str, Any] = Field(default_factory=dict)
    steps: list[KnownStep] = Field(default_factory=list, description="training cases: values after given steps")
    metrics: dict[str, float] = Field(default_factory=dict,
                                      description="metric name -> its value (an accuracy as a share, 1.0 for 100 %)")
    atol: float = Field(default=0.0, ge=0, description="absolute precision of the stated values")
    rtol: float = Field(default=0.0, ge=0, description="relative precision of the stated values; a value "
                                                       "passes when |actual - stated| <= atol + rtol * |stated|")

    @model_validator(mode="after")
    def _some_precision(self):
        # A published table states its precision as digits (atol), as a relative error (rtol) or
        # both; stated values with neither would have to match to the last bit.
        if self.atol == 0 and self.rtol == 0:
            raise ValueError("state the precision of the known values: `atol`, `rtol` or both (> 0)")
        return self


class TrainingSpec(Spec):
    """A fixed number of optimizer steps over the case's data, in order, without shuffling.

    Step k uses the k-th slice of `batch_size` samples; after the last slice the next step
    starts again from the first (epochs without shuffling). `samples` must be a multiple of
    `batch_size`. The `forward`, `intermediates` and `gradients` checks still see the whole data
    at the initial weights; `training` compares every step."""

    steps: int = Field(gt=0, description="number of optimizer steps")
    batch_size: int = Field(gt=0, description="samples per step; the data's samples must be a multiple")


WeightsLayout = Literal["canonical", "keras", "torch", "chainer"]


class PortSpec(Spec):
    """A user's implementation of the case's model, run as one more backend (see harness/ports/)."""

    name: str = Field(pattern=IDENTIFIER, description="its column in every result; not a framework's name")
    description: str = ""
    weights_as: WeightsLayout = Field(
        default="canonical",
        description="canonical: {'<layer>/<parameter>': array} as the case names them; keras: the list "
                    "model.get_weights() returns; torch: a state_dict of arrays; chainer: the chain's namedparams")
    dtype: FloatDtype | None = Field(
        default=None, description="what the port computes in (sets its tolerances); default: the case's dtype")
    tolerance: ToleranceOverrides | None = Field(
        default=None, description="this port's own tolerances, with reasons; default: those of its dtype")
    timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False,
                           description="seconds each step may take: a command's build and its run; a Python "
                                       "port's import and each call (in its worker process)")


class PythonPort(PortSpec):
    """A Python function `function(inputs, weights, **optional)`, in a file given relative to the
    case file: `path/to/file.py:function`."""

    python: str = Field(pattern=r"^.+\.py:[A-Za-z_][A-Za-z0-9_]*$", description="FILE.py:FUNCTION, relative to the case file")


class CommandPort(PortSpec):
    """An external program: inputs and weights written as .npz, outputs read back from .npz.
    Run in the case file's directory; `{inputs}`, `{weights}`, `{targets}`, `{outputs}`,
    `{workdir}` (a fresh temporary directory) and `{python}` (this Python) are replaced."""

    command: list[str] = Field(min_length=1, description='e.g. ["./port", "{inputs}", "{weights}", "{outputs}"]')
    build: list[str] | None = Field(
        default=None, description="run once before the command (same placeholders), e.g. a compiler call; "
                                  "a program not found on PATH skips the port with that reason")


PORT_KINDS = {"python": "python_port", "command": "command_port"}
"""The key that says a port's kind -> its union tag (not a key, so error paths skip it)."""


def _port_kind(value: Any) -> str | None:
    key = by_key(*PORT_KINDS)(value)
    return PORT_KINDS.get(key) if key else None


PortField = Annotated[
    Union[Annotated[PythonPort, Tag("python_port")], Annotated[CommandPort, Tag("command_port")]],
    Discriminator(_port_kind, custom_error_type="port_kind",
                  custom_error_message="a port has exactly one of `python: FILE.py:FUNCTION` or `command: [...]`"),
]


class CaseSpec(Spec):
    """One network with its data, weights, loss and checks."""

    name: str = Field(pattern=IDENTIFIER)
    description: str = ""
    dtype: FloatDtype = Field(default="float32", description="dtype the frameworks run in; the reference always runs float64")
    samples: int | None = Field(default=None, gt=0, description="batch size; default: the length of literal `values`")
    data_seed: int = Field(default=0, ge=0)
    mode: Literal["inference", "training"] = Field(
        default="inference", description="layer mode for BatchNormalization/Dropout")
    inputs: dict[Annotated[str, Field(pattern=IDENTIFIER)], TensorSpec] = Field(min_length=1)
    targets: dict[Annotated[str, Field(pattern=IDENTIFIER)], TensorSpec] = Field(default_factory=dict)
    model: ModelSpec
    weights: WeightsSpec = Field(default_factory=WeightsSpec)
    loss: Union[LossField, list[LossField], None] = Field(  # type: ignore[valid-type]
        default=None,
        description="the loss (or losses) and its target; may be left out of a case that checks only "
                    "forward values: gradients and training are then not applicable")
    checks: list[CheckName] = Field(
        default_factory=lambda: list(DEFAULT_CHECKS),
        description="default: forward, intermediates, gradients (and metrics, where the case lists metrics); "
                    "without a loss: forward, intermediates")
    metrics: list[MetricField] = Field(  # type: ignore[valid-type]
        default_factory=list, description="metrics besides the loss, compared by the `metrics` check")
    ports: list[PortField] = Field(  # type: ignore[valid-type]
        default_factory=list, description="your own implementations of this model, each run as one more backend")
    tolerance: ToleranceOverrides = Field(default_factory=ToleranceOverrides)
    export: ExportOptions = Field(
        default_factory=ExportOptions,
        description="how the shipped runtimes' artifacts are made: ONNX opset and batch axis, TFLite float16 "
                    "weights (each with its own tolerances)")
    expected_differences: list[ExpectedDifference] = Field(default_factory=list)
    expect: KnownValues | None = None
    optimizer: OptimizerField | None = Field(  # type: ignore[valid-type]
        default=None, description="training cases: the optimizer and its hyper-parameters (see docs/layouts-and-semantics.md, Training checks)")
    training: TrainingSpec | None = Field(default=None, description="training cases: steps and batch size")
    nonfinite: str | None = Field(
        default=None, min_length=1,
        description="why this case feeds NaN or inf on purpose (literal values, expressions, weights); "
                    "without it they are refused. Agreement on non-finite values is reported as "
                    "'NaN agrees', never as a plain pass")

    @model_validator(mode="after")
    def _training_complete(self):
        wants_check = "training" in self.checks
        if (self.optimizer is None) != (self.training is None):
            missing = "optimizer" if self.optimizer is None else "training"
            raise ValueError(f"a training case needs both `optimizer` and `training`; `{missing}` is missing")
        if wants_check and self.training is None:
            raise ValueError("the `training` check needs `optimizer` and `training` sections")
        if self.training is not None and not wants_check:
            raise ValueError("a case with `training` must list the `training` check in `checks`")
        return self

    @model_validator(mode="after")
    def _loss_for_what_needs_one(self):
        # A forward-only case may leave the loss out (issue 27): its default checks are then the
        # ones that need no loss; gradients it lists explicitly are reported not applicable.
        if self.loss is not None:
            return self
        if self.optimizer is not None or self.training is not None:
            raise ValueError("a training case needs a `loss`: the optimizer follows its gradients")
        if "checks" not in self.model_fields_set:
            self.checks = [check for check in self.checks if check not in LOSS_CHECKS]
        return self

    @model_validator(mode="after")
    def _metrics_checked(self):
        if self.metrics and "metrics" not in self.checks:
            if "checks" in self.model_fields_set:
                raise ValueError("a case with `metrics` must list the `metrics` check in `checks`")
            self.checks = [*self.checks, "metrics"]
        if "metrics" in self.checks and not self.metrics:
            raise ValueError("the `metrics` check needs a `metrics` section")
        return self

    @property
    def losses(self) -> list[Any]:
        if self.loss is None:
            return []
        return self.loss if isinstance(self.loss, list) else [self.loss]


class VariantSpec(Spec):
    """A named variant: its top-level keys replace the file's keys of the same name."""

    model_config = {**Spec.model_config, "extra": "allow"}
    name: str = Field(pattern=IDENTIFIER)


def json_schema() -> dict[str, Any]:
    """JSON Schema for a case file: a single case, or shared keys plus `variants`."""
    case = CaseSpec.model_json_schema(ref_template="#/$defs/{model}")
    definitions = case.pop("$defs", {})
    definitions["CaseSpec"] = case
    variant_properties = {key: {"$ref": f"#/$defs/CaseSpec/properties/{key}"} for key in case["properties"]}
    variant = {
        "type": "object",
        "description": VariantSpec.__doc__,
        "properties": variant_properties,
        "required": ["name"],
        "additionalProperties": False,
    }
    with_variants = {
        "type": "object",
        "description": "Shared keys, then `variants`: each variant is a full case once its keys are laid over these.",
        "properties": {**variant_properties, "variants": {"type": "array", "items": variant, "minItems": 1}},
        "required": ["name", "variants"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.invalid/nn-equivalence-harness/case.schema.json",
        "title": "Cross-framework equivalence case",
        "anyOf": [{"$ref": "#/$defs/CaseSpec"}, with_variants],
        "$defs": definitions,
    }
