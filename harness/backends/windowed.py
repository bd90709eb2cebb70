"""The layout steps torch's and chainer's windowed layers (convolutions, poolings) share.

Both frameworks take only (batch, channels, *spatial) and pad symmetrically. The harness keeps
every tensor between layers in the case's own layout, so for a channels_last case each windowed
layer moves the channel axis to position 1, runs, and moves it back; and where TF's 'same' rule
gives two different sides (the odd cell goes at the end, harness/reference/layers/windows.py) the input is
padded explicitly and the layer runs with padding 0. What is framework-neutral lives here; each
backend subclasses `WindowLayout` with its own axis move and pad (its conv.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.reference.layers import windows as win


@dataclass
class WindowLayout:
    """How a windowed layer's input reaches the native (batch, channels, *spatial), and back."""

    data_format: str
    pads: tuple[tuple[int, int], ...]
    pad_value: float = 0.0
    explicit: bool = False
    """Pad with `enter` even where the pads are symmetric: the native layer cannot take them
    (torch's pooling allows at most half the window)."""

    MOVE_STEP: ClassVar[str]
    """The reason for the axis moves, in the framework's terms (for `steps`)."""
    PAD_STEP: ClassVar[str]
    """The reason for the explicit pad, in the framework's terms (for `steps`)."""
    FORCED_PAD_STEP: ClassVar[str] = ""
    """The reason where the sides are equal but `explicit` (the native layer cannot take them)."""

    @classmethod
    def of(cls, spec, ctx, pad_value: float = 0.0, pads=None, explicit: bool = False) -> "WindowLayout":
        """The layout of `spec` on its input; `pads` (default: all of spec.paddings) are those
        the native layer or `enter` applies."""
        spatial, _ = win.split_channels(ctx.input_shapes[0], spec.data_format)
        return cls(spec.data_format, spec.paddings(spatial) if pads is None else pads, pad_value, explicit)

    @property
    def symmetric(self) -> bool:
        """Whether the native layer's own (symmetric) padding does the padding."""
        return not self.explicit and all(before == after for before, after in self.pads)

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
            even = all(before == after for before, after in self.pads)
            reasons.append(self.FORCED_PAD_STEP if even and self.FORCED_PAD_STEP else self.PAD_STEP)
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


@dataclass(frozen=True)
class TransposePlan:
    """How torch's and chainer's transposed convolutions give a case's output window
    (harness/reference/layers/transpose.py `extent`): both crop `pads` cells from both ends of the full
    output and may add `output_padding` cells at the end (torch's output_padding, chainer's
    outsize), below max(stride, dilation) for torch and below the stride for chainer. Where the
    window crops more at the end than at the start (TF's 'same' with an odd total), the layer
    runs with the smaller crop and the output is sliced; `trim` cells per axis are cut from the end.
    """

    pads: tuple[int, ...]
    output_padding: tuple[int, ...]
    trim: tuple[int, ...]

    @classmethod
    def of(cls, spec, spatial: tuple[int, ...]) -> "TransposePlan":
        pads, extra, trim = [], [], []
        for (before, size), full in zip(spec.extents(spatial), spec.full_sizes(spatial)):
            after = full - before - size  # negative: cells past the full output
            pads.append(before)
            extra.append(max(before - after, 0))
            trim.append(max(after - before, 0))
        return cls(tuple(pads), tuple(extra), tuple(trim))

    @property
    def sliced(self) -> bool:
        return any(self.trim)

    def window(self, rank: int) -> tuple[slice, ...]:
        """The index of the case's window in the native (batch, channels, *spatial) output."""
        return (slice(None), slice(None), *(slice(0, -t if t else None) for t in self.trim[:rank]))

    def steps(self) -> list[str]:
        return ["then sliced: the output window crops one cell more at the end (TF's 'same'), the native "
                "padding crops both ends alike"] if self.sliced else []
