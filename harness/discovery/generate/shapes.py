"""Shapes of a model section (as a case file writes it), from each spec's own `output_shape`.

The shrinker needs the output shape of a model it has just edited, before the case is whole
again (its targets must be refitted to that shape), so this walks the layer configs as the case
loader does (harness/case/graph.py) without the rest of the case.
"""

from __future__ import annotations

from typing import Any

from harness.reference.layers.base import LAYERS


def model_shapes(model: dict[str, Any], input_shapes: dict[str, tuple[int, ...]]) -> tuple[dict, list[str]]:
    """(tensor name -> shape, output names). Raises ValueError where a layer does not fit."""
    shapes = {name: tuple(shape) for name, shape in input_shapes.items()}
    specs: dict[str, Any] = {}
    nodes = model.get("sequential") or model.get("nodes") or []
    previous = next(iter(input_shapes))
    counters: dict[str, int] = {}
    for config in nodes:
        kind = config["type"]
        name = config.get("name") or _default_name(kind, counters)
        inputs = config.get("inputs") or [previous]
        if kind == "Reuse":
            spec = specs[config["layer"]]
        else:
            spec = LAYERS[kind].model_validate({k: v for k, v in config.items() if k not in ("inputs",)})
            specs[name] = spec
        shapes[name] = tuple(spec.output_shape([shapes[i] for i in inputs]))
        previous = name
    outputs = model.get("outputs") or [previous]
    return shapes, list(outputs)


def _default_name(kind: str, counters: dict[str, int]) -> str:
    stem = LAYERS[kind].default_name_stem()
    count = counters.get(stem, 0)
    counters[stem] = count + 1
    return stem if count == 0 else f"{stem}_{count}"
