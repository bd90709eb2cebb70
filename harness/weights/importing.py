"""`python -m harness import`: a case file, and its weights file beside it, from a saved model.

    python -m harness import model.keras --out cases/mine.yaml
    python -m harness import net.py:Net --weights net.pt --input-shape 2,28,28 --out cases/net.yaml
    python -m harness import mlp.py:MLP --weights mlp.npz --input-shape 784 --out cases/mlp.yaml

The framework's side (reading its model, translating each layer's options into the case's layer
fields, writing the weights in its own format, predicting) lives in the framework's adapter
package (`harness/backends/<framework>/importer.py`) and returns an `ImportedModel`. This
module writes the case: inputs with the model's shapes and seeded data, the model section, a
mean-squared-error loss against seeded targets (so that gradients are compared too), and
`weights: {file, format}` naming the weights file it wrote, which the case then loads through the
adapters' own mapping (harness/weights/checkpoints.py).

Nothing is dropped silently: every layer type the harness has no spec for, and every option of
a layer that its spec cannot express (a regularizer, explicit padding, `return_state`), is one
`ImportProblem`, naming the layer, its type and the reason; the import then fails, or with
`--partial` writes the case up to the first layer with a problem. Last, the case is loaded back
and the NumPy reference's predictions are compared with the framework's own model's on the
case's inputs: an import whose case does not compute what the model computes fails.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends.numpy_reference import run_reference
from harness.case.schema import SCHEMA_FILE
from harness.case.imported_model import ImportedModel, ImportProblem
from harness.common.compare import DEFAULT_TOLERANCES
from harness.common.errors import CaseError
from harness.reference.layers import LAYERS
from harness.weights import cases_from_data, load_cases_from_file
from harness.weights.checkpoints import read_checkpoint
from harness.weights.native_weights import framework_backend


@dataclass
class ImportResult:
    case_file: Path | None
    weights_file: Path | None
    problems: list[ImportProblem]
    differences: dict[str, float] = field(default_factory=dict)
    """Output -> max |reference - the framework's model|."""
    tolerance: tuple[float, float] = (0.0, 0.0)
    ok: bool = False

    def summary(self) -> str:
        lines = problem_summary(self.problems) if self.problems else []
        lines += ["  " + problem.render() for problem in self.problems]
        if self.case_file is None:
            lines.append("no case written (use --partial to write the case up to the first problem)")
            return "\n".join(lines)
        lines.append(f"wrote {self.case_file} and {self.weights_file}")
        for output, difference in self.differences.items():
            lines.append(f"  {output}: reference vs the saved model, max |difference| {difference:.3g}")
        rtol, atol = self.tolerance
        if not self.differences:
            lines.append("partial: not compared with the saved model, whose outputs come after the cut")
            return "\n".join(lines)
        lines.append(("the case computes what the saved model computes" if self.ok else
                      "the case does NOT compute what the saved model computes") +
                     f" (rtol {rtol:g}, atol {atol:g})")
        return "\n".join(lines)


def read_model(model: str, *, state_dict: str | None, input_shapes: list[str] | None) -> ImportedModel:
    """The framework's importer for `model`: a `.keras` file, or a `module.py:Class` with its
    weights: a torch state_dict, or (an `.npz`) a chainer save_npz file."""
    if model.startswith("keras:"):  # keras:module.py:build_model, a Keras model object
        framework_backend("keras")
        from harness.backends.keras.live_import import read_keras_builder  # lazy: keeps keras optional

        file, _, name = model[len("keras:"):].rpartition(":")
        return read_keras_builder(Path(file), name, parse_shapes(input_shapes) if input_shapes else None)
    if model.endswith(".keras"):
        framework_backend("keras")
        from harness.backends.keras.importer import read_keras_model  # lazy: keeps keras optional

        # --input-shape: the sizes a saved Keras input leaves open (shape=(None,)).
        return read_keras_model(Path(model), parse_shapes(input_shapes) if input_shapes else None)
    if ".py:" in model:
        if state_dict is None:
            raise CaseError("a module class needs its weights", field="--weights",
                            expected="torch: the file of torch.save(model.state_dict(), PATH); "
                                     "chainer: the .npz of serializers.save_npz(PATH, chain)")
        if not input_shapes:
            raise CaseError("a module class does not record its input's shape", field="--input-shape",
                            expected="the shape without the batch axis, e.g. --input-shape 2,28,28")
        shapes = parse_shapes(input_shapes)
        file, _, name = model.rpartition(":")
        if state_dict.endswith(".npz"):  # chainer's save_npz
            framework_backend("chainer")
            from harness.backends.chainer.importer import read_chainer_model  # lazy: keeps chainer optional

            return read_chainer_model(Path(file), name, Path(state_dict), shapes)
        framework_backend("torch")
        from harness.backends.torch.importer import read_torch_module  # lazy: keeps torch optional

        return read_torch_module(Path(file), name, Path(state_dict), shapes)
    raise CaseError(f"cannot tell what kind of model {model} is", field="MODEL",
                    expected="a Keras .keras file, or a torch module as path/to/module.py:ClassName "
                             "(with --state-dict and --input-shape)", found=model)


def parse_shapes(texts: list[str]) -> list[tuple[int, ...]]:
    """`--input-shape 2,28,28` (repeated per input) as shapes without the batch axis."""
    shapes = []
    for text in texts:
        try:
            shapes.append(tuple(int(part) for part in text.split(",") if part.strip()))
        except ValueError:
            raise CaseError("not a shape", field="--input-shape", expected="integers separated by commas",
                            found=text) from None
    return shapes


def case_data(imported: ImportedModel, name: str, weights_file: str, samples: int) -> dict[str, Any]:
    inputs = {}
    for input_name, (shape, dtype) in imported.inputs.items():
        vocabularies = embedding_sizes(imported, input_name)
        if vocabularies and not dtype.startswith("int"):
            # keras.io's guides declare token inputs without a dtype (float32) and let Embedding
            # cast them (keras/src/layers/core/embedding.py `call`: ops.cast(inputs, "int32")):
            # the indices the model reads are int32, and so are the case's.
            dtype = "int32"
        if dtype.startswith("int"):
            data = {"integers": {"low": 0, "high": min(vocabularies or [2])}}
        else:
            data = {"normal": {}}
        inputs[input_name] = {"shape": list(shape), "dtype": dtype, "data": data}
    model: dict[str, Any] = ({"nodes": imported.layers, "outputs": imported.outputs} if imported.graph
                             else {"sequential": imported.layers})
    return {"name": name,
            "description": "; ".join([f"imported from a {imported.framework} model by `python -m harness import`",
                                      *imported.notes]),
            "dtype": imported.dtype, "samples": samples, "inputs": inputs, "model": model,
            "weights": {"file": weights_file, "format": imported.weights_format}}


def embedding_sizes(imported: ImportedModel, input_name: str) -> list[int]:
    """The vocabulary sizes (`input_dim`) of the Embedding layers that read the input directly:
    a graph's nodes that name it, or a sequential model's first layer."""
    if imported.graph:
        readers = [layer for layer in imported.layers if input_name in layer.get("inputs", [])]
    else:
        readers = imported.layers[:1]
    return [layer["input_dim"] for layer in readers if layer.get("type") == "Embedding"]


def with_targets(data: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """One seeded target and a mean-squared-error loss per output."""
    names = {output: "target" if len(shapes) == 1 else "target_" + re.sub(r"\W", "_", output) for output in shapes}
    data["targets"] = {names[output]: {"shape": list(shape), "data": {"normal": {}}} for output, shape in shapes.items()}
    losses = [{"type": "mean_squared_error", "reduction": "mean", "output": output, "target": names[output]}
              for output in shapes]
    data["loss"] = losses[0] if len(losses) == 1 else losses
    if len(losses) == 1:
        del losses[0]["output"], losses[0]["target"]
    return data


def refused_by_specs(imported: ImportedModel) -> list[ImportProblem]:
    """A translated layer the harness's own spec refuses (pydantic's first message per layer)."""
    from pydantic import ValidationError


    flagged = {problem.layer for problem in imported.problems}
    problems = []
    for layer in imported.layers:
        if layer["type"] not in LAYERS or layer.get("name") in flagged:
            continue
        try:
            LAYERS[layer["type"]].model_validate(layer)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            problems.append(ImportProblem(layer["name"], layer["type"],
                                          f"the harness's {layer['type']} refuses it: {where}: {error['msg']}"))
    return problems


def cut_weights(data: dict[str, Any], full: Path, format: str, out: Path) -> Path:
    """`--partial`: the saved model's file holds the layers after the cut too, which the cut
    case's model does not have. Its tensors for the layers kept, converted through the mapping
    as the case would load them, become a canonical `.npz` beside the case (the full file stays)."""
    placeholder = {**data, "weights": {"seed": 0}}
    (case,) = cases_from_data(placeholder, file=str(out))
    checkpoint = read_checkpoint(case, full, format)
    known = set(checkpoint.layout.keys())
    kept = {key: value for key, value in checkpoint.tensors.items() if key in known}
    canonical = checkpoint.layout.from_native(kept, checkpoint.names)
    path = full.with_name(out.stem + ".partial.npz")
    with open(path, "wb") as file:
        np.savez(file, **canonical)
    data["weights"] = {"file": path.name, "format": "npz"}
    return path


def truncate(imported: ImportedModel, problems: list[ImportProblem]) -> None:
    """`--partial`: keep what can be checked. A sequential model keeps the layers before the
    first one with a problem. A graph keeps every node that neither has a problem nor reads
    (through its inputs, or as a Reuse of its layer) one that is dropped; the kept nodes that
    nothing kept reads become the outputs, beside the model's own outputs that survive, and the
    model inputs no kept node reads are left out."""
    bad = {problem.layer for problem in problems}
    if imported.graph:
        _truncate_graph(imported, bad)
        return
    keep = []
    for layer in imported.layers:
        if layer.get("name") in bad:
            break
        keep.append(layer)
    if not keep:
        raise CaseError("--partial: the first layer already has a problem; nothing to write", field="--partial")
    imported.layers = keep
    imported.outputs = [keep[-1]["name"]]


def _truncate_graph(imported: ImportedModel, bad: set[str]) -> None:
    dropped: set[str] = set()
    for node in imported.layers:  # the importers list nodes in the order they run
        reads = set(node.get("inputs", [])) | ({node["layer"]} if node.get("type") == "Reuse" else set())
        if node["name"] in bad or reads & dropped:
            dropped.add(node["name"])
    keep = [node for node in imported.layers if node["name"] not in dropped]
    if not keep:
        raise CaseError("--partial: every node reads one with a problem; nothing to write", field="--partial")
    read = {name for node in keep for name in node.get("inputs", [])}
    outputs = [name for name in imported.outputs if name not in dropped]
    outputs += [node["name"] for node in keep if node["name"] not in read and node["name"] not in outputs]
    imported.layers, imported.outputs = keep, outputs
    imported.inputs = {name: spec for name, spec in imported.inputs.items() if name in read}


def problem_summary(problems: list[ImportProblem]) -> list[str]:
    """The problems grouped by layer type, most first, then every line: a model with 52 refused
    layers reads as "DepthwiseConv2D x 17 (...)" before the details."""
    by_type: dict[str, list[ImportProblem]] = {}
    for problem in problems:
        by_type.setdefault(problem.type, []).append(problem)
    layers = len({problem.layer for problem in problems})
    lines = [f"{len(problems)} problem(s) in {layers} layer(s) the harness cannot express; by type:"]
    for kind, group in sorted(by_type.items(), key=lambda item: (-len(item[1]), item[0])):
        reasons = sorted({problem.reason for problem in group})
        shown = "; ".join(reasons[:2]) + (f"; and {len(reasons) - 2} other reason(s)" if len(reasons) > 2 else "")
        lines.append(f"  {kind} x {len(group)}: {shown}")
    lines.append("each:")
    return lines


def import_model(model: str, out: Path, *, state_dict: str | None = None, input_shapes: list[str] | None = None,
                 samples: int = 4, partial: bool = False) -> ImportResult:
    imported = read_model(model, state_dict=state_dict, input_shapes=input_shapes)
    return write_imported(imported, out, samples=samples, partial=partial)


def import_keras_object(model, out: Path, *, input_shapes: list[tuple[int, ...]] | None = None,
                        samples: int = 4, partial: bool = False) -> ImportResult:
    """A keras.Model object (not a saved file) as a case at `out`: its subclassed layers expanded
    through their `call` and its weights read from the layer objects into a canonical .npz
    (harness/backends/keras/live_import.py). For models whose `.keras` file cannot be loaded
    back, as keras.io's Transformer classifier's."""
    framework_backend("keras")
    from harness.backends.keras.live_import import read_keras_object  # lazy: keeps keras optional

    return write_imported(read_keras_object(model, input_shapes), Path(out), samples=samples, partial=partial)


def write_imported(imported: ImportedModel, out: Path, *, samples: int = 4, partial: bool = False) -> ImportResult:
    """The imported model written as a case and its weights, checked against the reference."""
    problems = imported.problems + refused_by_specs(imported)
    if problems and not partial:
        return ImportResult(None, None, problems)
    if problems:
        truncate(imported, problems)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".import-") as staging:
        # Everything is written and loaded back here first, under the final names, and moved
        # beside `out` only once the case loads: a refused case leaves no file behind.
        staged = Path(staging) / out.name
        cut = (imported.write_cut_weights(staged.parent / out.stem, imported.outputs)
               if problems and imported.graph and imported.write_cut_weights else None)
        weights = cut or imported.write_weights(staged.parent / out.stem)
        data = with_targets(case_data(imported, case_name(out), weights.name, samples), output_shapes(imported))
        schema = os.path.relpath(SCHEMA_FILE, out.parent.resolve())
        if problems and cut is None:
            weights = cut_weights(data, weights, imported.weights_format, staged)
        staged.write_text(f"# yaml-language-server: $schema={schema}\n" + dump_yaml(data))
        (case,) = load_cases_from_file(staged)
        for file in Path(staging).iterdir():
            os.replace(file, out.parent / file.name)
    weights = out.parent / weights.name
    (case,) = load_cases_from_file(out)
    reference = run_reference(case, train=False).outputs
    if partial and problems:
        predicted = {}
    else:
        predicted = imported.predict(dict(case.dataset.inputs))
    tolerance = DEFAULT_TOLERANCES[case.spec.dtype]["forward"]
    differences = {output: float(np.max(np.abs(reference[output] - np.asarray(predicted[output], np.float64))))
                   for output in predicted}
    ok = all(np.allclose(np.asarray(predicted[output], np.float64), reference[output],
                         rtol=tolerance.rtol, atol=tolerance.atol) for output in predicted)
    return ImportResult(out, weights, problems, differences, (tolerance.rtol, tolerance.atol), ok)


def case_name(out: Path) -> str:
    """The case's name from the file's: a case name is an identifier (`lstm-text.yaml` ->
    `lstm_text`; one that starts with a digit gets `case_` before it)."""
    name = re.sub(r"\W", "_", out.stem, flags=re.ASCII) or "case"
    return f"case_{name}" if name[0].isdigit() else name


def output_shapes(imported: ImportedModel) -> dict[str, tuple[int, ...]]:
    """Each output's shape (no batch axis), from the layer specs' own `output_shape`."""
    shapes = {name: tuple(shape) for name, (shape, _) in imported.inputs.items()}
    specs = {}
    previous = next(iter(shapes))
    for layer in imported.layers:
        if layer["type"] == "Reuse":
            spec = specs[layer["layer"]]
        else:
            spec = specs[layer["name"]] = LAYERS[layer["type"]].model_validate(layer)
        sources = layer.get("inputs") or [previous]
        input_shapes = [shapes[source] for source in sources]
        shapes[layer["name"]] = tuple(spec.output_shape(input_shapes))
        # A layer's further outputs (a recurrent layer's final states, `<layer>.h`) are tensors too.
        shapes.update({f"{layer['name']}.{name}": tuple(shape)
                       for name, shape in spec.further_outputs(input_shapes).items()})
        previous = layer["name"]
    return {output: shapes[output] for output in imported.outputs}


def dump_yaml(data: dict[str, Any]) -> str:
    """Block style, with flow style for short leaves (shapes, data generators, one-line layers)."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def convert(value, depth=0):
        if isinstance(value, dict):
            node = CommentedMap((k, convert(v, depth + 1)) for k, v in value.items())
            if all(not isinstance(v, (dict, list)) or _short(v) for v in value.values()) and depth >= 2:
                node.fa.set_flow_style()
            return node
        if isinstance(value, (list, tuple)):
            node = CommentedSeq(convert(v, depth + 1) for v in value)
            if all(not isinstance(v, (dict, list)) for v in value):
                node.fa.set_flow_style()
            return node
        if isinstance(value, np.generic):
            return value.item()
        return value

    yaml = YAML(typ="rt")
    yaml.width = 110
    stream = io.StringIO()
    yaml.dump(convert(data), stream)
    return stream.getvalue()


def _short(value) -> bool:
    return len(repr(value)) < 60
