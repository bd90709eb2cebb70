"""The per-gate view of a recurrent layer's difference: a failed gradients or training check of
an LSTM or GRU says, per parameter, how far each gate block is from tolerance.

Gate blocks sit side by side along a recurrent parameter's last axis, `units` columns each, in
the layer's canonical order (harness/reference/layers/recurrent.py: LSTM [i, f, c, o], GRU [z, r, h]). A
mistake in one gate (a port's forget gate read from the wrong block, a wrong activation in the
candidate) shows as those blocks out of tolerance and the others within: the table says which.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from harness.common.compare import Tolerance

KINDS = ("parameter_gradient", "training_parameter")


def gate_ratios(actual: np.ndarray, expected: np.ndarray, gates: tuple[str, ...],
                tolerance: Tolerance) -> dict[str, float]:
    """Gate -> the block's largest |difference| over the allowed difference (<= 1: within)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    allowed = tolerance.atol + tolerance.rtol * np.abs(expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(actual - expected) / np.where(allowed > 0, allowed, np.finfo(np.float64).tiny)
    blocks = np.split(ratio, len(gates), axis=-1)
    return {gate: float(np.nanmax(block)) if block.size else 0.0 for gate, block in zip(gates, blocks)}


def gate_rows(case: Any, pairs: Iterator[Any], tolerance: Tolerance) -> list[dict[str, Any]]:
    """One row per recurrent parameter of the pairs out of tolerance somewhere (a training check:
    its first such step only): `{"layer", "parameter", "step", "gates": {gate: ratio}, "text":
    "lstm/kernel: i 0.02, f 41 (out), c 38 (out), o 0.5"}`. The text goes in the check's message;
    the figures make the case page's per-gate table (harness/output/report/gate_section.py)."""
    rows, seen = [], set()
    for pair in pairs:
        if pair.kind not in KINDS or pair.actual is None or pair.expected is None:
            continue
        layer, _, parameter = pair.name.removeprefix("grad:").split("@")[0].partition("/")
        spec = case.graph.layers.get(layer)
        gates = getattr(spec, "gates", ())
        if len(gates) < 2 or (layer, parameter) in seen or np.shape(pair.actual) != np.shape(pair.expected) \
                or np.shape(pair.actual)[-1] % len(gates):
            continue
        ratios = gate_ratios(pair.actual, pair.expected, gates, tolerance)
        if max(ratios.values()) <= 1:
            continue
        seen.add((layer, parameter))
        step = f" (step {pair.step})" if pair.step is not None else ""
        text = f"{layer}/{parameter}{step}: " + ", ".join(
            f"{gate} {ratio:.3g}" + (" (out)" if ratio > 1 else "") for gate, ratio in ratios.items())
        rows.append({"layer": layer, "parameter": parameter, "step": pair.step,
                     "gates": {gate: _finite(ratio) for gate, ratio in ratios.items()}, "text": text})
    return rows


def _finite(ratio: float) -> float | None:
    """JSON has no inf or NaN: None stands for a block with a non-finite difference."""
    return float(ratio) if np.isfinite(ratio) else None
