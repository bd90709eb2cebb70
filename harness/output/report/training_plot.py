"""The per-step divergence plot of a training case, as inline SVG (no plotting library).

Two panels side by side (three with moving statistics), one line per framework, log scale: the loss difference and the
largest parameter difference from the reference, step by step. Lines that stay flat near the
float's rounding level mean the frameworks train identically; lines that climb mean the
difference feeds on itself.

Input is what results.json holds per training case, `cases[i]["training"]["divergence"]`
(built by harness/output/results.py `training_divergence`): framework -> {"steps": [...], "loss":
[...], "parameters": [...], "state": [...]}, absolute differences, None where nothing was
compared. A third panel, the moving statistics, appears where a case has them.

    from harness.output.report.training_plot import divergence_svg
    svg = divergence_svg(case["training"]["divergence"], title=case["id"])
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

COLOURS = {"numpy": "#7f7f7f", "keras": "#d62728", "chainer": "#2ca02c", "torch": "#ff7f0e"}
OTHER_COLOURS = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2")
PANELS = (("loss", "|loss - reference loss|"), ("parameters", "max |parameter - reference|"))
STATE_PANEL = ("state", "max |moving statistic - ref.|")
"""Drawn only for cases with non-trainable state (BatchNormalization in training mode)."""
WIDTH, HEIGHT = 330, 210
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 24, 34


def divergence_svg(divergence: dict[str, dict[str, Any]], *, title: str = "") -> str:
    """An <svg> element: loss and largest parameter difference per step, per framework, log
    scale. Exact zeros are drawn on the bottom edge, a decade below the smallest non-zero value;
    a framework with no numbers is left out. Returns "" if there is nothing to draw."""
    frameworks = [name for name, series in divergence.items() if _values(series, "loss") or
                  _values(series, "parameters")]
    if not frameworks:
        return ""
    colours = {name: COLOURS.get(name, OTHER_COLOURS[i % len(OTHER_COLOURS)]) for i, name in enumerate(frameworks)}
    panels = PANELS + ((STATE_PANEL,) if any(_values(divergence[name], "state") for name in frameworks) else ())
    legend_height = 18
    total_width, total_height = WIDTH * len(panels), HEIGHT + legend_height + (18 if title else 0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{total_height}" '
             f'viewBox="0 0 {total_width} {total_height}" font-family="sans-serif" font-size="10" '
             f'role="img" aria-label="{escape(title or "training divergence")}">']
    top = 0
    if title:
        parts.append(f'<text x="4" y="13" font-size="12" font-weight="bold">{escape(title)}</text>')
        top = 18
    for index, (key, label) in enumerate(panels):
        parts.append(_panel(divergence, frameworks, colours, key, label, WIDTH * index, top))
    legend_y = top + HEIGHT + 12
    x = LEFT
    for name in frameworks:
        parts.append(f'<line x1="{x}" y1="{legend_y - 3}" x2="{x + 16}" y2="{legend_y - 3}" '
                     f'stroke="{colours[name]}" stroke-width="2"/>')
        parts.append(f'<text x="{x + 20}" y="{legend_y}">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    parts.append(f'<text x="{x + 10}" y="{legend_y}" fill="#555">(0 drawn at the bottom edge)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _values(series: dict[str, Any], key: str) -> list[tuple[int, float]]:
    """(step, value) pairs with a finite number."""
    pairs = []
    for step, value in zip(series.get("steps", []), series.get(key, [])):
        number = _number(value)
        if number is not None and math.isfinite(number):
            pairs.append((step, abs(number)))
    return pairs


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _panel(divergence, frameworks, colours, key: str, label: str, x0: float, y0: float) -> str:
    lines = {name: _values(divergence[name], key) for name in frameworks}
    points = [p for pairs in lines.values() for p in pairs]
    parts = [f'<g transform="translate({x0},{y0})">',
             f'<text x="{LEFT}" y="12" font-weight="bold">{escape(label)}</text>']
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    if not points:
        parts.append(f'<text x="{LEFT + 8}" y="{TOP + plot_h / 2}" fill="#555">nothing compared</text></g>')
        return "".join(parts)
    steps = [step for step, _ in points]
    first, last = min(steps), max(steps)
    positive = [v for _, v in points if v > 0]
    low = math.floor(math.log10(min(positive))) if positive else -17
    low -= 1 if len(positive) < len(points) else 0
    high = max(math.ceil(math.log10(max(positive))) if positive else low + 1, low + 1)
    zero = 10.0 ** low  # where an exact zero is drawn
    lines = {name: [(step, value if value > 0 else zero) for step, value in pairs] for name, pairs in lines.items()}

    def sx(step: float) -> float:
        return LEFT + (plot_w * (step - first) / (last - first) if last > first else plot_w / 2)

    def sy(value: float) -> float:
        return TOP + plot_h * (high - math.log10(value)) / (high - low)

    stride = max(1, math.ceil((high - low) / 6))
    for decade in range(low, high + 1, stride):
        y = sy(10.0 ** decade)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">1e{decade}</text>')
    for step in sorted(set(_ticks(first, last))):
        parts.append(f'<text x="{sx(step):.1f}" y="{TOP + plot_h + 12}" text-anchor="middle">{step}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h + 26}" text-anchor="middle">step</text>')
    for name in frameworks:
        pairs = lines[name]
        if not pairs:
            continue
        path = " ".join(f"{sx(step):.1f},{sy(value):.1f}" for step, value in pairs)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colours[name]}" stroke-width="1.5">'
                     f'<title>{escape(name)}</title></polyline>')
        for step, value in pairs:
            parts.append(f'<circle cx="{sx(step):.1f}" cy="{sy(value):.1f}" r="2" fill="{colours[name]}">'
                         f'<title>{escape(name)} step {step}: {value:.3g}</title></circle>')
    parts.append("</g>")
    return "".join(parts)


def _ticks(first: int, last: int) -> list[int]:
    """At most about eight step labels, always the first and the last."""
    stride = max(1, math.ceil((last - first) / 8))
    return [*range(first, last + 1, stride), last]
