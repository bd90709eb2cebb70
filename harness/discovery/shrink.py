"""Shrinking a failing case to a minimal one that fails the same way (`python -m harness shrink`).

"The same way" is the failure's signature without the hint (harness/discovery/findings.py): the same
framework, the same check, and the same kind of layer where the divergence starts. The shrinker
edits the case file's content greedily, keeping each edit after which the case still loads, the
float64 reference still runs with finite values, and the framework still fails that way; it
repeats the passes until none changes anything:

1. drop layers (a dropped node's readers read its input instead; targets are refitted to the
   new output shape, and an output activation a loss needs is kept by the loss's own rule);
2. drop training (optimizer, steps, `mode: training`) unless the training check is the one failing;
3. shrink sizes: every integer option above 1 (units, filters, kernel sizes, ...), every input
   axis, the batch, training steps: to 1, to half, minus one;
4. simplify: activations to linear, a loss to mean_squared_error, drawn initializers to the
   layers' defaults, then optional options to their defaults;
5. finally, remove every option written with its default value (the case means the same).

Each candidate costs one run of one framework (and the reference), so shrinking a 10-layer
case takes from tens to a few hundred runs.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from harness.checks.runner import CaseRunner
from harness.common.errors import CaseError
from harness.discovery.findings import CHECK_ORDER, Failure, failure_of
from harness.discovery.generate.cases import check_case, to_yaml
from harness.discovery.generate.shapes import model_shapes
from harness.reference.layers.base import LAYERS
from harness.reference.losses import LOSSES
from harness.weights import cases_from_data

Data = dict[str, Any]


class NotFailing(Exception):
    """The case does not fail in the given framework (and check) to begin with."""


def failure_in(data: Data, framework: str, check: str | None) -> Failure | None:
    """Run one framework on the case (the primary failing check, or `check`) and return its
    failure signature, or None if the case does not load, the reference does not run, or it
    passes."""
    if check_case(data):
        return None
    try:
        (case,) = cases_from_data(data, file=f"<shrinking {data.get('name')}>")
    except CaseError:
        return None
    runner = CaseRunner(case)
    checks = [check] if check else [c for c in CHECK_ORDER if c in runner.checks()]
    for name in checks:
        if name not in runner.checks():
            return None
        failure = failure_of(case, runner.check(framework, name))
        if failure is not None:
            return failure
    return None


@dataclass
class ShrinkResult:
    data: Data
    failure: Failure
    original: Data
    runs: int = 0
    steps: list[str] = field(default_factory=list)
    """The edits kept, in order."""

    def summary(self) -> str:
        before, after = measure(self.original), measure(self.data)
        parts = [f"{key} {before[key]} -> {after[key]}" for key in before if before[key] != after[key]]
        return (f"kept {len(self.steps)} edits of {self.runs} tried; " + (", ".join(parts) or "nothing removed")
                + f"; still fails {self.failure.framework} {self.failure.check} at {self.failure.kind}"
                + (f" ({self.failure.layer})" if self.failure.layer else ""))


def measure(data: Data) -> dict[str, int]:
    """What the summary counts: layers, options written, parameters, input elements, batch,
    training steps, lines of the case file."""
    nodes = _nodes(data)
    options = sum(len([k for k in node if k not in ("type", "name", "inputs")]) for node in nodes)
    try:
        (case,) = _load(data)
        parameters = sum(int(v.size) for v in case.weights.values())
        elements = sum(int(v.size) for v in case.dataset.inputs.values())
    except Exception:  # noqa: BLE001 (a summary of a case that does not load counts nothing)
        parameters = elements = -1
    return {"layers": len(nodes), "options": options, "parameters": parameters, "input elements": elements,
            "samples": int(data.get("samples") or 0),
            "training steps": int((data.get("training") or {}).get("steps", 0)),
            "lines": len(to_yaml(data).splitlines())}


def _load(data: Data):
    return cases_from_data(data, file="<measure>")


def shrink(data: Data, framework: str, check: str | None = None, *,
           echo: Callable[[str], None] | None = None, max_runs: int = 2000) -> ShrinkResult:
    """The smallest case found that fails like `data` does in `framework` (and `check`)."""
    original = copy.deepcopy(data)
    target = failure_in(data, framework, check)
    if target is None:
        raise NotFailing(f"{data.get('name')} does not fail in {framework}"
                         + (f" ({check})" if check else "") + ": nothing to shrink")
    result = ShrinkResult(copy.deepcopy(data), target, original)

    def same(candidate: Data) -> bool:
        result.runs += 1
        found = failure_in(candidate, framework, target.check)
        return found is not None and found.kind == target.kind

    seen: set[str] = set()
    changed = True
    while changed and result.runs < max_runs:
        changed = False
        for name, candidates in PASSES:
            for description, candidate in candidates(result.data, target):
                fingerprint = json.dumps(candidate, sort_keys=True, default=str)
                if fingerprint in seen or result.runs >= max_runs:
                    continue
                seen.add(fingerprint)
                if same(candidate):
                    result.data = candidate
                    result.steps.append(description)
                    changed = True
                    if echo:
                        echo(f"  {name}: {description}")
                    break  # restart this pass on the smaller case
    result.data = without_default_options(result.data)
    result.failure = failure_in(result.data, framework, target.check) or target
    return result


# --- helpers on case content -----------------------------------------------------------------------

def _nodes(data: Data) -> list[dict[str, Any]]:
    model = data["model"]
    return model.get("sequential") or model.get("nodes") or []


def _is_graph(data: Data) -> bool:
    return "nodes" in data["model"]


def refit_targets(data: Data) -> Data | None:
    """The targets reshaped to the model's output, drawn by the loss's own rule; None if the
    model no longer fits together."""
    input_shapes = {name: tuple(t.get("shape") or ()) for name, t in data["inputs"].items()}
    try:
        shapes, outputs = model_shapes(data["model"], input_shapes)
    except (ValueError, KeyError, TypeError, StopIteration):
        return None
    loss = data["loss"]
    if isinstance(loss, list) or len(outputs) != 1 or len(data.get("targets", {})) != 1:
        return data
    spec = LOSSES[loss["type"]].model_validate(loss)
    shape, source = spec.target_data(shapes[outputs[0]], int(data.get("samples") or 1))
    (target,) = data["targets"]
    data["targets"][target] = {"shape": shape, "data": source}
    return data


def _drop_node(data: Data, index: int) -> Data | None:
    data = copy.deepcopy(data)
    nodes = _nodes(data)
    if len(nodes) <= 1:
        return None
    node = nodes.pop(index)
    if _is_graph(data):
        name = node["name"]
        if any(n.get("layer") == name for n in nodes):
            return None  # a Reuse applies this layer: drop the Reuse first
        replacement = node["inputs"][0]
        for other in nodes:
            other["inputs"] = [replacement if source == name else source for source in other["inputs"]]
            if len(set(other["inputs"])) < len(other["inputs"]) and len(other["inputs"]) > 1 \
                    and LAYERS.get(other["type"]) is not None and LAYERS[other["type"]].arity is None:
                pass  # a merge of a tensor with itself is still a merge
        outputs = data["model"].get("outputs")
        if outputs:
            data["model"]["outputs"] = [replacement if o == name else o for o in outputs]
            if any(o in data["inputs"] for o in data["model"]["outputs"]):
                return None
        _prune_unused(data)
    _prune_weights(data)
    return refit_targets(data)


def _prune_unused(data: Data) -> None:
    """Graph form: drop nodes nothing reads and no output names (repeatedly)."""
    nodes = _nodes(data)
    while True:
        outputs = set(data["model"].get("outputs") or [nodes[-1]["name"]])
        read = {source for node in nodes for source in node.get("inputs", [])} | outputs
        read |= {node.get("layer") for node in nodes if node.get("layer")}
        unused = [i for i, node in enumerate(nodes) if node["name"] not in read]
        if not unused or len(nodes) <= 1:
            return
        nodes.pop(unused[-1])


def _prune_weights(data: Data) -> None:
    """Explicit parameters of layers that are gone."""
    names = {node.get("name") for node in _nodes(data)}
    parameters = data.get("weights", {}).get("parameters")
    if parameters:
        for key in [k for k in parameters if k.split("/", 1)[0] not in names]:
            del parameters[key]


# --- the passes --------------------------------------------------------------------------------------

Candidates = Callable[[Data, Failure], Iterator[tuple[str, Data]]]


def drop_layers(data: Data, target: Failure) -> Iterator[tuple[str, Data]]:
    nodes = _nodes(data)
    # Layers after the divergence first: they are the likeliest to be irrelevant.
    for index in reversed(range(len(nodes))):
        candidate = _drop_node(data, index)
        if candidate is not None:
            yield f"drop layer {nodes[index].get('name') or nodes[index]['type']}", candidate


def drop_training(data: Data, target: Failure) -> Iterator[tuple[str, Data]]:
    if target.check != "training" and "optimizer" in data:
        candidate = copy.deepcopy(data)
        candidate.pop("optimizer")
        candidate.pop("training", None)
        candidate["checks"] = [c for c in candidate["checks"] if c != "training"]
        yield "drop training", candidate
    if data.get("training", {}).get("steps", 0) > 1:
        candidate = copy.deepcopy(data)
        candidate["training"]["steps"] = 1
        yield "one training step", candidate
    if data.get("mode") == "training":
        candidate = copy.deepcopy(data)
        candidate.pop("mode")
        yield "inference mode", candidate


def _smaller(value: int) -> list[int]:
    return sorted({v for v in (1, value // 2, value - 1) if 1 <= v < value})


def shrink_sizes(data: Data, target: Failure) -> Iterator[tuple[str, Data]]:
    samples = int(data.get("samples") or 0)
    for value in _smaller(samples):
        candidate = copy.deepcopy(data)
        candidate["samples"] = value
        if "training" in candidate:
            candidate["training"]["batch_size"] = value
        candidate = refit_targets(candidate)
        if candidate is not None:
            yield f"samples {samples} -> {value}", candidate
    for name, tensor in data["inputs"].items():
        for axis, size in enumerate(tensor.get("shape") or []):
            for value in _smaller(size):
                candidate = copy.deepcopy(data)
                candidate["inputs"][name]["shape"][axis] = value
                candidate = refit_targets(candidate)
                if candidate is not None:
                    yield f"input {name} axis {axis}: {size} -> {value}", candidate
    for index, node in enumerate(_nodes(data)):
        for key, value in node.items():
            if key in ("type", "name", "inputs", "layer", "axis", "dims", "target_shape"):
                continue
            values = value if isinstance(value, list) else [value]
            for position, item in enumerate(values):
                if not isinstance(item, int) or isinstance(item, bool) or item <= 1:
                    continue
                for smaller in _smaller(item):
                    candidate = copy.deepcopy(data)
                    place = _nodes(candidate)[index]
                    if isinstance(value, list):
                        place[key][position] = smaller
                    else:
                        place[key] = smaller
                    candidate = refit_targets(candidate)
                    if candidate is not None:
                        yield f"{node.get('name')}.{key} {item} -> {smaller}", candidate


def simplify(data: Data, target: Failure) -> Iterator[tuple[str, Data]]:
    for index, node in enumerate(_nodes(data)):
        for key, value in node.items():
            if isinstance(value, dict) and "name" in value and value.get("name") != "linear" \
                    and key.endswith("activation") and node["type"] != "Activation":
                candidate = copy.deepcopy(data)
                _nodes(candidate)[index][key] = {"name": "linear"}
                yield f"{node.get('name')}.{key} -> linear", candidate
    if data["loss"] != {"type": "mean_squared_error", "reduction": "mean"} and not isinstance(data["loss"], list) \
            and not target.kind.startswith("loss:"):
        candidate = copy.deepcopy(data)
        candidate["loss"] = {"type": "mean_squared_error", "reduction": "mean"}
        candidate = refit_targets(candidate)
        if candidate is not None:
            yield "loss -> mean_squared_error", candidate
    defaults = data.get("weights", {}).get("defaults", {})
    for parameter in list(defaults):
        candidate = copy.deepcopy(data)
        del candidate["weights"]["defaults"][parameter]
        if not candidate["weights"]["defaults"]:
            del candidate["weights"]["defaults"]
        yield f"{parameter} initializer -> the layer's default", candidate
    for index, node in enumerate(_nodes(data)):
        for key, _ in _optional_options(node):
            candidate = copy.deepcopy(data)
            del _nodes(candidate)[index][key]
            candidate = refit_targets(candidate)
            if candidate is not None:
                yield f"{node.get('name')}.{key} -> default", candidate


def _optional_options(node: dict[str, Any]) -> list[tuple[str, Any]]:
    """(key, pydantic field) of each option written in a layer node that its spec does not
    require (type, name and inputs aside): what may go back to its default."""
    cls = LAYERS.get(node["type"])
    if cls is None:
        return []
    return [(key, cls.model_fields[key]) for key in list(node)
            if key in cls.model_fields and not cls.model_fields[key].is_required()
            and key not in ("type", "name", "inputs")]


PASSES: list[tuple[str, Candidates]] = [
    ("drop layers", drop_layers),
    ("drop training", drop_training),
    ("shrink sizes", shrink_sizes),
    ("simplify", simplify),
]


def without_default_options(data: Data) -> Data:
    """Options written with their default value removed (the case means the same)."""
    data = copy.deepcopy(data)
    for node in _nodes(data):
        for key, info in _optional_options(node):
            default = info.get_default(call_default_factory=True)
            if hasattr(default, "model_dump"):
                default = default.model_dump(exclude_defaults=True)
                if node[key] == default or (isinstance(node[key], dict) and node[key].get("name") == default.get("name")
                                            and len(node[key]) == 1):
                    del node[key]
            elif node[key] == default:
                del node[key]
    return data
