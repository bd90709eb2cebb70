"""Drawing a model whose shapes fit by construction.

Each layer is drawn against the shapes it will read: its options come from its schema
(options.py), and it is kept only if the spec's own `output_shape` and `parameter_shapes`
accept those shapes (and its activations the rank), exactly the checks the case loader makes
(harness/case/graph.py). So a model is built one fitting layer at a time, never repaired after.

Structure: a model is built around one *focus* kind. An input shape the focus accepts is found
first; then layers that keep the focus possible are drawn before it, the focus itself, and any
fitting layers after it. In the graph form a layer may read any earlier tensor, merges (kinds
with `arity` None) join two tensors of one shape (a second one is made by a shape-preserving
layer where none exists), and `Reuse` applies an earlier layer with parameters again to a tensor
of the shape it read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from harness.reference.activations import ActivationSpec
from harness.discovery.generate.distribution import Distribution
from harness.discovery.generate.options import CannotDraw, DrawContext, draw_spec
from harness.reference.layers.base import LAYERS, LayerSpec

REUSE = "Reuse"
"""The graph form's reuse node: a graph construct registered beside the layer kinds."""

TRIES = 12
"""Draws of one kind's options against given shapes before the kind is taken not to fit."""


class Rejected(Exception):
    """A model or case that cannot be made to fit, with the reason."""


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    integer: bool = False


@dataclass
class Layer:
    config: dict[str, Any]
    """The node as the case file writes it (type, name, options; `inputs` in the graph form)."""
    spec: LayerSpec
    inputs: list[str]
    input_shapes: list[tuple[int, ...]]
    output: Tensor


@dataclass
class DrawnModel:
    inputs: list[Tensor]
    layers: list[Layer] = field(default_factory=list)
    graph: bool = False

    @property
    def output(self) -> Tensor:
        return self.layers[-1].output

    def tensors(self) -> list[Tensor]:
        return [*self.inputs, *(layer.output for layer in self.layers)]

    def model_section(self) -> dict[str, Any]:
        if self.graph:
            return {"nodes": [layer.config for layer in self.layers], "outputs": [self.output.name]}
        return {"sequential": [{k: v for k, v in layer.config.items() if k != "inputs"} for layer in self.layers]}


def copies(kind: str) -> int:
    """How many times a kind of fixed arity reads its one source tensor: 1, or 3 for
    ScaledDotProductAttention, drawn as self-attention (query = key = value)."""
    return LAYERS[kind].arity or 1


def fit_layer(kind: str, input_shapes: list[tuple[int, ...]], context: DrawContext,
              rng: np.random.Generator, limit: int, tries: int = TRIES) -> tuple[dict, LayerSpec, tuple] | None:
    """Options for `kind` that fit these input shapes, with the spec and its output shape."""
    cls = LAYERS[kind]
    context.input_shapes = input_shapes
    for _ in range(tries):
        try:
            config = {"type": kind, **draw_spec(cls, context, rng)}
            spec = cls.model_validate(config)
            output = tuple(spec.output_shape([tuple(s) for s in input_shapes]))
            spec.parameter_shapes([tuple(s) for s in input_shapes])
            for name in cls.model_fields:
                value = getattr(spec, name)
                if isinstance(value, ActivationSpec):
                    value.check_rank(spec.activation_rank(output))
        except (ValidationError, ValueError, CannotDraw, TypeError, ZeroDivisionError, IndexError):
            continue
        if output and min(output) >= 1 and math.prod(output) <= limit:
            return config, spec, output
    return None


class ModelDrawer:
    """Draws one model for one case."""

    def __init__(self, distribution: Distribution, rng: np.random.Generator) -> None:
        self.distribution = distribution
        self.rng = rng
        kinds = distribution.kinds or tuple(sorted(LAYERS))
        self.kinds = [k for k in kinds if k in LAYERS]
        self.context = DrawContext(max_units=distribution.max_units, activations=distribution.activations,
                                   coincidence_probability=distribution.coincidence_probability)
        self.counter: dict[str, int] = {}

    # --- names ---------------------------------------------------------------------------------
    def name(self, kind: str) -> str:
        stem = LAYERS[kind].default_name_stem()
        count = self.counter.get(stem, 0)
        self.counter[stem] = count + 1
        return f"{stem}_{count}"

    # --- the model -----------------------------------------------------------------------------
    def draw(self, focus: str, graph: bool) -> DrawnModel:
        low, high = self.distribution.depth
        depth = int(self.rng.integers(low, high + 1))
        if focus == REUSE or LAYERS[focus].arity is None:
            graph = True
        model = DrawnModel(inputs=[self.input_for(focus)], graph=graph)
        if model.inputs[0].integer:
            before = 0
        else:
            before = int(self.rng.integers(0, depth))
        for _ in range(before):
            self.add_any(model, keep_fitting=focus)
        if not self.add(model, focus):
            raise Rejected(f"the focus kind {focus} fits none of the drawn shapes")
        while len(model.layers) < depth:
            if not self.add_any(model):
                break
        return model

    def input_for(self, focus: str) -> Tensor:
        """A model input of a shape the focus kind accepts (integer indices where it reads them)."""
        limit = self.distribution.max_elements
        highest = self.highest_input_rank(focus)
        for _ in range(40):
            rank = int(self.rng.integers(1, highest + 1))
            shape = tuple(int(self.rng.integers(1, self.distribution.max_size + 1)) for _ in range(rank))
            shape = self.coincide(shape)
            if focus == REUSE or LAYERS[focus].arity is None:
                return Tensor("x", shape)
            fitted = fit_layer(focus, [shape] * copies(focus), self.context, self.rng, limit, tries=3)
            if fitted is not None:
                return Tensor("x", shape, integer=reads_indices(focus))
        raise Rejected(f"no input shape of rank 1 to {highest} fits {focus}")

    @staticmethod
    def highest_input_rank(focus: str) -> int:
        """3 (a sequence or an image, without the batch), or one more than a windowed layer's
        spatial rank (Conv3D and the 3-D poolings take (depth, height, width, channels)); only
        those foci draw rank 4, so every other focus draws its shapes as before."""
        spatial = 0 if focus == REUSE else getattr(LAYERS[focus], "rank", 0)
        return max(3, spatial + 1)

    def coincide(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """With the distribution's coincidence probability, the last axis made as long as another
        one (a sequence whose steps equal its features, an image as wide as it has channels)."""
        probability = self.distribution.coincidence_probability
        if len(shape) < 2 or probability <= 0 or self.rng.random() >= probability:
            return shape
        other = int(self.rng.integers(len(shape) - 1))
        return (*shape[:-1], shape[other])

    def add_any(self, model: DrawnModel, keep_fitting: str | None = None) -> bool:
        """One more layer of any single-input kind (and, in the graph form, sometimes a merge or
        a Reuse); `keep_fitting`: only a layer after which that kind still fits."""
        for _ in range(8):
            kind = self.kinds[int(self.rng.integers(len(self.kinds)))]
            if kind == REUSE or LAYERS[kind].arity is None:
                if not model.graph or keep_fitting is not None:
                    continue
            if self.add(model, kind, keep_fitting=keep_fitting):
                return True
        return False

    def add(self, model: DrawnModel, kind: str, keep_fitting: str | None = None) -> bool:
        if kind == REUSE:
            return self.add_reuse(model)
        if LAYERS[kind].arity is None:
            return self.add_merge(model, kind)
        source = self.pick_source(model, kind)
        if source is None:
            return False
        fitted = fit_layer(kind, [source.shape] * copies(kind), self.context, self.rng,
                           self.distribution.max_elements)
        if fitted is None:
            return False
        config, spec, output = fitted
        if keep_fitting is not None and keep_fitting != REUSE and LAYERS[keep_fitting].arity is not None:
            if fit_layer(keep_fitting, [output] * copies(keep_fitting), self.context, self.rng,
                         self.distribution.max_elements) is None:
                return False
        self.append(model, config, spec, [source] * copies(kind), output)
        return True

    def pick_source(self, model: DrawnModel, kind: str) -> Tensor | None:
        """The tensor the next layer reads: the last one (sequential), mostly the last one in the
        graph form; integer inputs only feed layers that read indices, and only they."""
        tensors = model.tensors()
        candidates = [tensors[-1]]
        if model.graph and len(tensors) > 1 and self.rng.random() < 0.3:
            candidates = [tensors[int(self.rng.integers(len(tensors)))]]
        source = candidates[0]
        if source.integer != reads_indices(kind):
            return None
        return source

    def append(self, model: DrawnModel, config: dict, spec: LayerSpec, sources: list[Tensor],
               output: tuple[int, ...], layer_name: str | None = None) -> Tensor:
        name = self.name(config["type"])
        node = {"type": config["type"], "name": name, **{k: v for k, v in config.items() if k != "type"}}
        node["inputs"] = [s.name for s in sources]
        tensor = Tensor(name, tuple(output))
        model.layers.append(Layer(node, spec, [s.name for s in sources], [s.shape for s in sources], tensor))
        return tensor

    def add_merge(self, model: DrawnModel, kind: str) -> bool:
        """Join the last tensor with another of its shape (made by a shape-preserving layer where
        no earlier tensor has it)."""
        first = model.tensors()[-1]
        if first.integer:
            return False
        partners = [t for t in model.tensors()[:-1] if t.shape == first.shape and not t.integer]
        if partners:
            second = partners[int(self.rng.integers(len(partners)))]
        else:
            second = self.same_shape_branch(model, first)
            if second is None:
                return False
        self.context.input_shapes = [first.shape, second.shape]
        fitted = fit_layer(kind, [first.shape, second.shape], self.context, self.rng,
                           self.distribution.max_elements)
        if fitted is None:
            return False
        config, spec, output = fitted
        self.append(model, config, spec, [first, second], output)
        return True

    def same_shape_branch(self, model: DrawnModel, source: Tensor, with_parameters: bool = False) -> Tensor | None:
        for _ in range(30):
            kind = self.kinds[int(self.rng.integers(len(self.kinds)))]
            if kind == REUSE or LAYERS[kind].arity is None or reads_indices(kind):
                continue
            fitted = fit_layer(kind, [source.shape], self.context, self.rng, self.distribution.max_elements,
                               tries=4)
            if fitted is None or fitted[2] != source.shape:
                continue
            if with_parameters and not fitted[1].parameter_shapes([source.shape]):
                continue
            config, spec, output = fitted
            return self.append(model, config, spec, [source], output)
        return None

    def add_reuse(self, model: DrawnModel) -> bool:
        """Apply an earlier layer with parameters again to a tensor of the shape it read; where
        none fits, first add a shape-preserving layer with parameters to reuse."""
        last = model.tensors()[-1]
        if last.integer:
            return False
        reusable = [layer for layer in model.layers if layer.config["type"] != REUSE
                    and len(layer.inputs) == 1 and layer.input_shapes[0] == last.shape
                    and layer.spec.parameter_shapes(layer.input_shapes)]
        if not reusable:
            made = self.same_shape_branch(model, last, with_parameters=True)
            if made is None:
                return False
            reusable = [model.layers[-1]]
            last = made
        target = reusable[int(self.rng.integers(len(reusable)))]
        name = self.name(REUSE)
        config = {"type": REUSE, "name": name, "layer": target.config["name"], "inputs": [last.name]}
        tensor = Tensor(name, target.output.shape)
        model.layers.append(Layer(config, target.spec, [last.name], [last.shape], tensor))
        return True


def reads_indices(kind: str) -> bool:
    """Whether `kind` reads integer indices: its spec states the data it needs (`input_data`)."""
    if kind == REUSE:
        return False
    return LAYERS[kind].input_data is not LayerSpec.input_data
