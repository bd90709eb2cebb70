"""The layout steps torch's and chainer's windowed layers (convolutions, poolings) share.

Both frameworks take only (batch, channels, *spatial) and pad symmetrically. The harness keeps
every tensor between layers in the case's own layout, so for a channels_last case each windowed
layer moves the channel axis to position 1, runs, and moves it back; and where TF's 'same' rule
gives two different sides (the odd cell goes at the end, harness/layers/windows.py) the input is
padded explicitly and the layer runs with padding 0. What is framework-neutral lives here; each
backend subclasses `WindowLayout` with its own axis move and pad (its conv.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.layers import windows as win


@dataclass
class WindowLayout:
    """How a windowed layer's input reaches the native (batch, channels, *spatial), and back."""

    data_format: str
    pads: tuple[tuple[int, int], ...]
    pad_value: float = 0.0

    MOVE_STEP: ClassVar[str]
    """The reason for the axis moves, in the framework's terms (for `steps`)."""
    PAD_STEP: ClassVar[str]
    """The reason for the explicit pad, in the framework's terms (for `steps`)."""

    @classmethod
    def of(cls, spec, ctx, pad_value: float = 0.0) -> "WindowLayout":
        spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
        return cls(spec.data_format, spec.paddings(spatial), pad_value)

    @property
    def symmetric(self) -> bool:
        return all(before == after for before, after in self.pads)

    @property
    def native_pads(self) -> tuple[int, ...]:
        """What the layer's own padding argument gets: the pads if symmetric, else 0 (the input
        is then padded explicitly by `enter`)."""
        return tuple(before for before, _ in self.pads) if self.symmetric else (0,) * len(self.pads)

    def enter(self, x: Any) -> Any:
        raise NotImplementedError

    def leave(self, y: Any) -> Any:
        raise NotImplementedError

    def steps(self) -> list[str]:
        """Why this is not the bare native layer; empty if it is. Stated without the sizes, so
        the support table lists each reason once (results.json has the layer's settings)."""
        reasons = []
        if self.data_format == "channels_last":
            reasons.append(self.MOVE_STEP)
        if not self.symmetric:
            reasons.append(self.PAD_STEP)
        return reasons


def describe(native: str, layout: WindowLayout, activation: tuple[str, str] = ("native", "")) -> tuple[str, str]:
    """(implementation, detail) for a windowed layer; the activation's (implementation, detail)
    is named only where it is itself a composite, the only case that needs a reason."""
    steps = layout.steps()
    kind, activation_detail = activation
    then = f", then {activation_detail}" if kind == "composite" else ""
    if not steps:
        return kind, native + then
    return "composite", native + " " + "; ".join(steps) + then
