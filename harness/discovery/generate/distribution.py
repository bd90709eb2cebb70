"""What the case generator draws, and how often: the distribution, stated and tunable.

`python -m harness generate` and `campaign` take these as options (`--kinds`, `--depth`,
`--graph`, `--training`, ...); `Distribution.describe()` prints them, and docs/discovery.md states the
defaults. Every registered layer kind, activation, loss and optimizer is in the distribution
unless a subset is named.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Distribution:
    kinds: tuple[str, ...] | None = None
    """Layer kinds to draw (None: every registered kind). Each case is built around one focus
    kind, taken in turn from a seeded shuffle of these, so every kind is the focus of about
    count / len(kinds) cases; the other layers are drawn uniformly from the same kinds."""
    activations: tuple[str, ...] | None = None
    """Activations a layer's `activation` field may draw (None: every registered one)."""
    losses: tuple[str, ...] | None = None
    optimizers: tuple[str, ...] | None = None
    depth: tuple[int, int] = (1, 5)
    """Fewest and most layers drawn per model, before an output activation a loss may need."""
    graph_probability: float = 0.3
    """Share of models in the graph form (merges, Reuse, two branches); the rest sequential."""
    training_probability: float = 0.25
    """Share of training cases (an optimizer and 1 to `max_steps` steps)."""
    training_mode_probability: float = 0.2
    """Share of cases with `mode: training` (BatchNormalization's batch statistics, Dropout)."""
    float64_probability: float = 0.2
    """Share of float64 cases; the rest are float32."""
    max_units: int = 6
    """Largest units/filters/output_dim drawn."""
    max_size: int = 6
    """Largest input axis drawn (inputs are 1 to 3 axes without the batch axis)."""
    max_elements: int = 256
    """Largest number of elements per sample of any tensor in a model."""
    samples: tuple[int, int] = (2, 6)
    max_steps: int = 3
    coincidence_probability: float = 0.25
    """Share of draws that make two axes the same length on purpose: a layer's units, filters or
    output_dim taken from one of its input's axis lengths (width = filters of a channels_first
    convolution, time steps = units of a recurrent layer), an input with two equal axes, the
    samples equal to the input's last axis (batch = features). A framework that confuses an axis
    with another of the same length is invisible otherwise (Keras 3.15.1's ops.add on
    TensorFlow adds a channels_first bias along the last axis when its length is the number of
    channels: cases/discovered_keras_channels_first_bias.yaml). 0 draws what earlier versions drew."""

    def describe(self) -> str:
        lines = []
        for item in fields(self):
            value = getattr(self, item.name)
            shown = "every registered one" if value is None else (
                f"{value[0]} to {value[1]}" if isinstance(value, tuple) and item.name in
                ("depth", "samples") else ", ".join(value) if isinstance(value, tuple) else value)
            lines.append(f"  {item.name}: {shown}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {key: (list(value) if isinstance(value, tuple) else value) for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "Distribution":
        return cls(**{key: (tuple(value) if isinstance(value, list) else value) for key, value in data.items()})


def parse_range(text: str) -> tuple[int, int]:
    """`3` or `1-5` -> (low, high)."""
    low, _, high = text.partition("-")
    first, last = int(low), int(high or low)
    if first < 1 or last < first:
        raise ValueError(f"expected N or LOW-HIGH with 1 <= LOW <= HIGH, got {text!r}")
    return first, last
