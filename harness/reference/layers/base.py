"""What a layer kind is made of: its spec, its canonical weights, and its NumPy reference.

A layer kind lives in one module under `harness/reference/layers/`:

* a `LayerSpec` subclass, registered with `@LAYERS.register`: the fields a case file may set,
  the output shape, and the canonical parameter shapes. Its docstring states the formula and the
  canonical layout of each parameter. The canonical layout is Keras's wherever Keras has the
  layer, so a Keras user can paste weights; each adapter documents how it converts.
* a `ReferenceLayer` subclass, named by the spec's `reference` attribute: one application of the
  layer in NumPy. `forward(*inputs)` keeps what `backward` needs; `backward(dy)` returns the
  gradients w.r.t. the inputs and leaves the parameter gradients in `self.grads`. A layer with
  state (BatchNormalization's moving statistics in training mode) puts the new values of its
  non-trainable parameters in `self.state` and leaves `params` alone, so that the same `params`
  can be run again (finite differences) and give the same result.

A layer used at two places in a graph gets one `ReferenceLayer` object per application; the
reference hands each the parameters as the previous application left them (state included) and
adds up their `grads`.
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from harness.reference.spec import Registry, Shape, Spec

LAYERS = Registry("layer type", "type")


class ReferenceLayer:
    """One application of a layer in the NumPy reference."""

    def __init__(self, spec: "LayerSpec", params: dict[str, np.ndarray], *,
                 training: bool = False) -> None:
        self.spec = spec
        self.params = params
        self.training = training
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        """New values of non-trainable parameters after this application (never written into
        `params` in place)."""

    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, ...]:
        raise NotImplementedError


class LayerSpec(Spec):
    """Fields common to every layer in a case file."""

    type: str
    name: str | None = Field(default=None, description="unique layer name; defaults like Keras: dense, dense_1, ...")
    inputs: list[str] | None = Field(
        default=None, description="graph form only: names of the model inputs or nodes this layer reads")

    arity: ClassVar[int | None] = 1
    """Number of inputs; None means two or more (merge layers)."""
    reference: ClassVar[type[ReferenceLayer]]

    def input_count(self) -> int | None:
        """How many inputs this layer takes; None means two or more. The class's `arity`,
        unless a field changes it (a recurrent layer with `initial_state` reads its states)."""
        return type(self).arity

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        """Output shape (no batch axis) given the input shapes; raise ValueError if impossible."""
        (shape,) = input_shapes
        return shape

    def further_outputs(self, input_shapes: list[Shape]) -> dict[str, Shape]:
        """Outputs beside the main one, by name, with their shapes (no batch axis). A node's
        further output `h` is the tensor `<node>.h` of the graph (harness/case/graph.py); the
        reference's `forward` then returns (main, *further) and its `backward` takes one
        gradient per output, in that order (zeros for one that reaches no loss). A recurrent
        layer with `return_state` has them (its final states); most layers have none."""
        return {}

    def activation_rank(self, output_shape: Shape) -> int:
        """The rank (with the batch axis) of what this layer's activations act on: its output,
        unless the layer applies them elsewhere (a recurrent cell, per step)."""
        return len(output_shape) + 1

    def parameter_shapes(self, input_shapes: list[Shape]) -> dict[str, Shape]:
        """Canonical shape of each parameter, in the order the summary lists them."""
        return {}

    def default_initializers(self) -> dict[str, str]:
        """Initializer per parameter when the case does not name one (Keras's defaults)."""
        return {}

    def initialize(self, parameter: str, initializer: Any, shape: Shape,
                   rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A parameter's initial value and its description, from the case's initializer.

        Keras lets a layer wrap its initializer (LSTM's unit_forget_bias sets the forget gate's
        bias block to 1), so the layer has the last word here.
        """
        return initializer.generate(shape, rng), initializer.describe()

    def input_data(self) -> dict[str, Any] | None:
        """The `data` a model input must draw from to feed this layer, where not every float
        will do (Embedding: integer indices in [0, input_dim)); None for float inputs. The case
        generator (harness/discovery/generate/) reads it, so a new layer kind states it here."""
        return None

    def non_trainable(self) -> frozenset[str]:
        """Parameters that are state, not trained (BatchNorm's moving statistics)."""
        return frozenset()

    def describe(self) -> str:
        """One line of the settings that matter, for summaries and reports."""
        fields = self.model_dump(exclude={"type", "name", "inputs"}, exclude_defaults=False)
        parts = []
        for key, value in fields.items():
            if isinstance(value, dict) and "name" in value:
                value = getattr(self, key).describe()
            elif isinstance(value, dict) and "framework_default" in value:
                value = str(getattr(self, key))  # "framework default (reference 0.2)"
            parts.append(f"{key}={value}")
        return ", ".join(parts)

    @classmethod
    def type_name(cls) -> str:
        return cls.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]

    @classmethod
    def default_name_stem(cls) -> str:
        """Keras's naming: Dense -> dense, GlobalAveragePooling2D -> global_average_pooling2d."""
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", cls.type_name()).lower()


def flat_features(shape: Shape) -> int:
    # Python's integers, not int64: a hostile size (units: 99999999999999999999999) would overflow
    # NumPy's product before the element limit (harness/case/limits.py) can refuse it by name.
    return math.prod(shape)
