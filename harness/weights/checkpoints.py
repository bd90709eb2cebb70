"""Checkpoint files: a case's weights read from, and written as, each framework's own file.

    weights: {file: trained.pt, format: torch}     # in a case file; the path is relative to it

Formats, and what reads and writes them (the framework's side lives in its adapter package,
`harness/backends/<framework>/native.py`):

* `keras`: a Keras 3 `.weights.h5` (`model.save_weights`) or `.keras` archive (`model.save`),
  read with h5py; written with Keras' own `model.save_weights`.
* `torch`: a `state_dict` saved with `torch.save`, read with `torch.load(weights_only=True)`
  (no pickled code runs); written with `torch.save` of the state_dict.
* `chainer`: an npz from `chainer.serializers.save_npz`; written in the same layout.
* `npz`: a plain `.npz` in the canonical layout, one array per `<layer>/<parameter>`.
* `auto` (the default): by the file name (`.keras`, `.h5` -> keras; `.pt`, `.pth` -> torch);
  an `.npz` whose names are all canonical parameter names is `npz`, any other `chainer`.

Every file is read as untrusted data (harness/case/bounded_reading.py): no pickle is loaded, an
archive that would inflate past what the model can need is refused unread, and a tensor is
read only where its declared shape is the one the model expects. A file that cannot be read
(damaged, not the format) is a CaseError naming the file and, where known, the tensor.

A framework's file is converted with the one mapping the adapters load weights through
(harness/weights/native_weights.py: the case built in that framework, its `WeightBinding`s and their
transforms), so LSTM/GRU gate orders, torch's second recurrent bias, convolution layouts and
the flatten-order permutations are the adapters' own. A file that does not fit the case's
model raises `WeightsMismatch`: one line per tensor (missing, unexpected, shape expected and
found), naming the file and the case field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.case import bounded_reading
from harness.case.bounded_reading import npz_names
from harness.case import Case
from harness.common.errors import CaseError
from harness.weights.native_weights import (FRAMEWORKS, NativeLayout, TensorProblem, WeightsMismatch, build_native,
                                    layout_of)

FORMATS = (*FRAMEWORKS, "npz")
SUFFIXES = {".keras": "keras", ".h5": "keras", ".pt": "torch", ".pth": "torch"}
EXPORT_SUFFIXES = {"keras": ".weights.h5", "torch": ".pt", "chainer": ".chainer.npz", "npz": ".npz"}
"""The file name ending `export` gives each format (Keras' save_weights requires `.weights.h5`)."""


@dataclass
class Checkpoint:
    """A checkpoint file read against a case: its tensors by native key, and the mapping."""

    path: Path
    format: str
    tensors: dict[str, np.ndarray]
    layout: NativeLayout | None = None
    """None for the canonical npz format."""
    names: dict[str, str] = field(default_factory=dict)
    """Key -> the name in the file where they differ (Keras' positional paths)."""
    problems: list[TensorProblem] = field(default_factory=list)
    """Found while reading, beyond names and shapes (a Keras layer stored under another name)."""
    case_parameters: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """The case's canonical parameters and shapes."""

    def mismatches(self) -> list[TensorProblem]:
        if self.layout is None:
            return self.problems + canonical_problems(self.case_parameters, self.tensors)
        return self.problems + self.layout.problems(self.tensors, self.names)

    def table(self) -> str:
        """Each tensor of the case's model beside what the file holds (`show --weights`)."""
        if self.layout is not None:
            text = self.layout.table(self.tensors, self.names)
        else:
            rows = [("name", "shape", "found", "status")]
            problems = {p.name: p for p in canonical_problems(self.case_parameters, self.tensors)}
            for name, shape in self.case_parameters.items():
                found = str(tuple(self.tensors[name].shape)) if name in self.tensors else ""
                rows.append((name, str(shape), found, problems[name].problem if name in problems else "ok"))
            rows += [(name, "-", str(tuple(np.shape(value))), "not in the case's model")
                     for name, value in self.tensors.items() if name not in self.case_parameters]
            widths = [max(len(row[i]) for row in rows) for i in range(4)]
            text = "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)
        extra = "".join(f"\n{p.render()}" for p in self.problems)
        return f"{self.path} as {self.format} weights:\n{text}{extra}"


def canonical_problems(parameters: dict[str, tuple[int, ...]], tensors: dict[str, np.ndarray]) -> list[TensorProblem]:
    problems = []
    for name, shape in parameters.items():
        if name not in tensors:
            problems.append(TensorProblem(name, "missing", expected=shape))
        elif tuple(tensors[name].shape) != tuple(shape):
            problems.append(TensorProblem(name, "shape differs", tuple(shape), tuple(tensors[name].shape)))
    problems += [TensorProblem(name, "not in the case's model", found=tuple(np.shape(value)))
                 for name, value in tensors.items() if name not in parameters]
    return problems


def case_place(case: Case, field: str) -> dict:
    """file, field and line for a CaseError about `field` of the case (a dotted path)."""
    located, line = case.loaded.locate(tuple(field.split(".")))
    return {"file": str(case.file), "field": located or field, "line": line}


def resolve_format(path: Path, format: str, case: Case) -> str:
    """The format `auto` stands for, from the file name and (npz) its array names."""
    if format != "auto":
        return format
    name = path.name.lower()
    for suffix, found in SUFFIXES.items():
        if name.endswith(suffix):
            return found
    if name.endswith(".npz"):
        try:
            names = set(npz_names(path))
        except ValueError as exc:
            raise CaseError(f"cannot read {path}: {exc}", **case_place(case, "weights.file")) from None
        return "npz" if names and names <= set(case.graph.parameter_shapes) else "chainer"
    raise CaseError(f"cannot tell the format of {path.name} from its name", **case_place(case, "weights.format"),
                    expected="format: keras, torch, chainer or npz "
                    "(or a file ending .keras, .weights.h5, .h5, .pt, .pth, .npz)", found=path.name)


def read_npz(path: Path, expected: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """A canonical npz: pickles refused, each array read only where its shape is the model's
    (harness/case/bounded_reading.py)."""
    return bounded_reading.read_npz(path, expected, limit=bounded_reading.model_limit(expected))


def read_checkpoint(case: Case, path: str | Path, format: str = "auto", *, field: str = "weights.file") -> Checkpoint:
    """The file's tensors, matched against the case's model in the format's framework."""
    path = Path(path)
    where = case_place(case, field)
    if not path.is_file():
        raise CaseError(f"no checkpoint file {path}", **where, hint="the path is relative to the case file")
    format = resolve_format(path, format, case)
    if format not in FORMATS:
        raise CaseError(f"unknown checkpoint format {format!r}", **where, expected=", ".join(FORMATS))
    parameters = {name: tuple(shape) for name, shape in case.graph.parameter_shapes.items()}
    try:
        # Before any reader: an archive that would inflate past what this model can need.
        bounded_reading.check_archive(path, bounded_reading.model_limit(parameters))
        if format == "npz":
            return Checkpoint(path, format, read_npz(path, parameters), case_parameters=parameters)
        backend, built, model = build_native(case, format)
        with backend.session(case):
            layout = layout_of(case, backend, built, model)
            contents = backend.read_checkpoint(str(path), model)
    except ValueError as exc:
        raise CaseError(f"cannot read {path} as a {format} checkpoint: {exc}", **where) from None
    return Checkpoint(path, format, contents.tensors, layout, contents.names,
                      [TensorProblem(name, problem) for name, problem in contents.problems], parameters)


def canonical_weights(case: Case, path: str | Path, format: str = "auto", *,
                      field: str = "weights.file") -> dict[str, np.ndarray]:
    """The case's canonical weights from a checkpoint file, in the case's dtype; WeightsMismatch
    (a CaseError naming the file and field) lists every tensor that does not fit."""
    checkpoint = read_checkpoint(case, path, format, field=field)
    problems = checkpoint.mismatches()
    if problems:
        raise WeightsMismatch(f"{len(problems)} tensor(s) of {checkpoint.path} ({checkpoint.format}) do not fit "
                              f"the model of {case.id!r}", problems, **case_place(case, field))
    if checkpoint.layout is None:
        weights = checkpoint.tensors
    else:
        weights = checkpoint.layout.from_native(checkpoint.tensors, checkpoint.names)
    return {name: np.asarray(weights[name]).astype(case.dtype) for name in case.graph.parameter_shapes}


def weights_from_case_file(case: Case) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """`weights: {file, format}` of a case: the weights and each parameter's description."""
    spec = case.spec.weights
    path = Path(spec.file)
    if not path.is_absolute():
        path = Path(case.file).parent / path
    weights = canonical_weights(case, path, spec.format)
    format = resolve_format(path, spec.format, case)
    return weights, {name: f"from {spec.file} ({format})" for name in weights}


def export_path(case: Case, format: str, out: str | Path) -> Path:
    """`out` itself where it names a file, else `<out>/<case id><suffix>`."""
    out = Path(out)
    if out.is_dir() or not out.suffix:
        return out / f"{case.id}{EXPORT_SUFFIXES[format]}"
    return out


def write_checkpoint(case: Case, format: str, path: str | Path) -> Path:
    """The case's canonical weights written as `format`'s own file, for that framework's own
    loader into the model the adapter builds (Keras `model.load_weights`, torch
    `load_state_dict(strict=True)`, chainer `serializers.load_npz`)."""
    path = Path(path)
    if format not in FORMATS:
        raise CaseError(f"unknown checkpoint format {format!r}", field="--format", expected=", ".join(FORMATS))
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "npz":
        with open(path, "wb") as file:  # a file object: numpy.savez would append .npz to a name
            np.savez(file, **case.weights)
        return path
    if format == "keras" and not path.name.endswith(".weights.h5"):
        raise CaseError(f"Keras writes weights files named *.weights.h5 (model.save_weights), not {path.name}",
                        field="--out", expected="a name ending .weights.h5, or a directory")
    backend, built, model = build_native(case, format)
    with backend.session(case):
        layout = layout_of(case, backend, built, model)
        backend.save_checkpoint(model, layout.to_native(case.weights), str(path))
    return path
