"""Pictures of where two tensors differ, embedded in the page: PNG heatmaps and SVG histograms.

Both are written with the standard library and NumPy only (no matplotlib: a hand-written PNG
is about a fifth of the size and byte-identical from run to run, and nothing is imported at
report time). Text inside an SVG is numbers and fixed words only, so nothing from a case
file ever reaches it unescaped.

* 2-D tensors (after dropping axes of length 1) get a heatmap of |actual - expected|: one pixel
  per element, or per block of elements (the block's largest difference, so the worst element
  always shows) when a side is longer than HEATMAP_MAX_SIDE.
* Other tensors with more than one element get a histogram of log10 |difference|, each bar
  split into elements within tolerance and elements out of it.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

HEATMAP_MAX_SIDE = 96
"""Longest side of a heatmap in cells: a 128 x 784 MNIST layer becomes 64 x 66 blocks."""
DISPLAY_WIDTH, DISPLAY_HEIGHT, MAX_CELL = 320, 240, 32
"""Display box in CSS pixels: cells are scaled up by a whole factor to fit, at most MAX_CELL."""

# viridis at five stops (matplotlib's values), interpolated linearly: dark = equal, bright =
# the largest difference. The last palette entry marks non-finite differences.
VIRIDIS_STOPS = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)),
                 (0.75, (94, 201, 98)), (1.0, (253, 231, 37)))
NONFINITE_COLOUR = (255, 0, 255)
LEVELS = 255
"""Palette indices 0..254 carry the scale, 255 is NONFINITE_COLOUR."""


def _palette() -> list[tuple[int, int, int]]:
    colours = []
    for level in range(LEVELS):
        x = level / (LEVELS - 1)
        for (x0, c0), (x1, c1) in zip(VIRIDIS_STOPS, VIRIDIS_STOPS[1:]):
            if x <= x1:
                t = (x - x0) / (x1 - x0)
                colours.append(tuple(round(a + t * (b - a)) for a, b in zip(c0, c1)))
                break
    return colours + [NONFINITE_COLOUR]


PALETTE = _palette()
COLOUR_BAR_CSS = "linear-gradient(to right, " + ", ".join(
    f"rgb{colour} {100 * x:.0f}%" for x, colour in VIRIDIS_STOPS) + ")"


def png(indices: np.ndarray, palette: list[tuple[int, int, int]]) -> bytes:
    """An 8-bit indexed PNG (colour type 3) of a 2-D array of palette indices."""
    height, width = indices.shape
    rows = np.zeros((height, width + 1), dtype=np.uint8)  # each scanline: filter byte 0, pixels
    rows[:, 1:] = indices

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", bytes(v for colour in palette for v in colour))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + chunk(b"IEND", b""))


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64," + base64.b64encode(data).decode("ascii")


@dataclass
class Heatmap:
    uri: str
    rows: int
    columns: int
    """Cells in the picture."""
    block: tuple[int, int]
    """Elements per cell along each axis ((1, 1) when nothing was pooled)."""
    display_width: int
    display_height: int
    maximum: float
    """The difference shown brightest (the largest finite one)."""
    nonfinite: int
    """Elements whose difference is not finite (drawn in NONFINITE_COLOUR)."""
    colour_bar: str = COLOUR_BAR_CSS


def heatmap(difference: np.ndarray) -> Heatmap:
    """A heatmap of a 2-D array of non-negative differences, pooled by block maxima."""
    block = tuple(max(1, math.ceil(side / HEATMAP_MAX_SIDE)) for side in difference.shape)
    pooled = _block_max(difference, block)
    finite = np.isfinite(pooled)
    maximum = float(pooled[finite].max()) if finite.any() else 0.0
    scaled = np.zeros(pooled.shape) if maximum == 0 else np.where(finite, pooled, 0) / maximum
    indices = np.where(finite, np.rint(scaled * (LEVELS - 1)), LEVELS).astype(np.uint8)
    rows, columns = indices.shape
    cell = max(1, min(MAX_CELL, DISPLAY_WIDTH // columns, DISPLAY_HEIGHT // rows))
    return Heatmap(uri=data_uri(png(indices, PALETTE)), rows=rows, columns=columns,
                   block=(int(block[0]), int(block[1])), display_width=columns * cell,
                   display_height=rows * cell, maximum=maximum,
                   nonfinite=int((~np.isfinite(difference)).sum()))


def _block_max(array: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """Max over non-overlapping blocks; the array is padded with -inf to whole blocks."""
    if block == (1, 1):
        return array
    rows, columns = (math.ceil(side / b) for side, b in zip(array.shape, block))
    padded = np.full((rows * block[0], columns * block[1]), -np.inf)
    padded[:array.shape[0], :array.shape[1]] = np.where(np.isnan(array), np.inf, array)
    return padded.reshape(rows, block[0], columns, block[1]).max(axis=(1, 3))


@dataclass
class Histogram:
    svg: str
    """A complete <svg> element (numbers and fixed words only)."""
    equal: int
    """Elements with no difference at all (not on the log axis)."""
    nonfinite: int


HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT, HISTOGRAM_MARGIN = 320, 130, 22
BINS_PER_DECADE = 2
MAX_DECADES = 14
"""Differences more than MAX_DECADES below the largest are counted in the first bar."""
WITHIN_COLOUR, OUT_COLOUR = "#6a8fc7", "#d0453a"


def histogram(difference: np.ndarray, allowed: np.ndarray) -> Histogram:
    """Counts of log10 |difference|, each bar split into within and out of tolerance."""
    difference, allowed = difference.ravel(), allowed.ravel()
    nonfinite = ~np.isfinite(difference)
    shown = (difference > 0) & ~nonfinite
    logs = np.log10(difference[shown]) if shown.any() else np.zeros(0)
    out = (difference > allowed)[shown]
    high = math.ceil(logs.max()) if logs.size else 0
    low = max(math.floor(logs.min()) if logs.size else -1, high - MAX_DECADES)
    low = min(low, high - 1)
    edges = np.linspace(low, high, (high - low) * BINS_PER_DECADE + 1)
    clipped = np.clip(logs, low, high)
    within_counts, _ = np.histogram(clipped[~out], bins=edges)
    out_counts, _ = np.histogram(clipped[out], bins=edges)
    return Histogram(svg=_histogram_svg(edges, within_counts, out_counts),
                     equal=int((difference == 0).sum()), nonfinite=int(nonfinite.sum()))


def _histogram_svg(edges: np.ndarray, within: np.ndarray, out: np.ndarray) -> str:
    width, height, margin = HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT, HISTOGRAM_MARGIN
    plot_width, plot_height = width - 2 * margin, height - 2 * margin
    tallest = max(int((within + out).max()), 1)
    bar = plot_width / len(within)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" class="histogram">',
             f'<line x1="{margin}" y1="{height - margin}" x2="{width - margin}" '
             f'y2="{height - margin}" stroke="#888"/>']
    for index, (w, o) in enumerate(zip(within, out)):
        x = margin + index * bar
        for count, base, colour in ((w, 0, WITHIN_COLOUR), (o, w, OUT_COLOUR)):
            if count:
                h = plot_height * count / tallest
                y = height - margin - plot_height * base / tallest - h
                parts.append(f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" '
                             f'height="{h:.1f}" fill="{colour}"><title>{int(count)}</title></rect>')
    first, last = int(edges[0]), int(edges[-1])
    step = 1 if last - first <= 8 else 2  # labels of 14 decades would overlap
    for decade in range(last, first - 1, -step):
        x = margin + (decade - edges[0]) * BINS_PER_DECADE * bar
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="9" text-anchor="middle">'
                     f'1e{decade}</text>')
    parts.append(f'<text x="{margin}" y="{margin - 8}" font-size="9">tallest bar: {tallest} elements</text>')
    parts.append("</svg>")
    return "".join(parts)
