"""What torch's and chainer's Bidirectional composites share (no framework imported here).

Both build the wrapped layer twice with their own registered builder (the forward spec and
the backward one, go_backwards negated: `Bidirectional.directions()`), hold the two modules
in one container under the names `forward_layer` and `backward_layer` (Keras' attribute names;
`forward` itself is a method of nn.Module and chainer.Link), and merge the outputs as Keras'
wrapper does (keras/src/layers/rnn/bidirectional.py): with return_sequences the backward
output is flipped back to forward time first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from harness.backends.base import BuiltLayer, HeldTensor, WeightBinding

DIRECTIONS = ("forward", "backward")
"""The prefixes of the canonical parameter names: `forward/kernel`, `backward/kernel`."""
CHILDREN = {"forward": "forward_layer", "backward": "backward_layer"}
"""The two modules' names in the container."""


def merged(spec, forward: Callable, backward: Callable, flip: Callable, concat: Callable) -> Callable:
    """The wrapper's call: `flip(y)` reverses the time axis, `concat(a, b)` joins the last."""
    merge = {"concat": concat, "sum": lambda y, r: y + r, "mul": lambda y, r: y * r,
             "ave": lambda y, r: (y + r) / 2}[spec.merge_mode]

    def call(x):
        y, y_rev = forward(x), backward(x)
        if spec.layer.return_sequences:
            y_rev = flip(y_rev)
        return merge(y, y_rev)

    return call


def build_directions(builders: dict, spec, ctx) -> tuple[BuiltLayer, BuiltLayer]:
    build = builders[spec.layer.type]
    return tuple(build(part, ctx) for part in spec.directions())  # type: ignore[return-value]


def binding_in(binding: WeightBinding | None, direction: str, separator: str) -> WeightBinding | None:
    """A direction's binding as the wrapper names it: `forward/kernel` <- `forward_layer.<native>`."""
    if binding is None:
        return None
    return replace(binding, parameter=f"{direction}/{binding.parameter}",
                   native_name=f"{CHILDREN[direction]}{separator}{binding.native_name}")


def combined(parts: tuple[BuiltLayer, BuiltLayer], separator: str) -> tuple[list[WeightBinding], list[HeldTensor]]:
    """Both directions' bindings and held tensors, renamed into the container (`separator`:
    torch's `.` in state_dict keys, chainer's `/` in parameter paths)."""
    bindings: list[WeightBinding] = []
    held: list[HeldTensor] = []
    for direction, part in zip(DIRECTIONS, parts):
        bindings += [binding_in(b, direction, separator) for b in part.bindings]
        held += [replace(h, name=f"{CHILDREN[direction]}{separator}{h.name}", fold=binding_in(h.fold, direction, separator))
                 for h in part.held]
    return bindings, held


def describe(spec, parts: tuple[BuiltLayer, BuiltLayer], container: str, why: str) -> tuple[str, str]:
    implementation = "composite"
    detail = (f"{container} of forward: {parts[0].detail}; backward: {parts[1].detail}; "
              f"merge_mode {spec.merge_mode}{', backward output flipped back in time' if spec.layer.return_sequences else ''}"
              f": {why}")
    return implementation, detail


__all__ = ["DIRECTIONS", "merged", "build_directions", "combined", "describe"]
