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

Both are drawn from a bounded summary (error_summary.py: block maxima, counts per half-decade),
which the report gathers block by block; `heatmap` and `histogram` summarise whole arrays the
same way.
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from harness.output.report.error_summary import HEATMAP_MAX_SIDE, LogCounts, Pooled, block_max, heatmap_block

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
    block = heatmap_block(difference.shape)
    pooled = block_max(np.where(np.isnan(difference), np.inf, difference), block)  # NaN shows as inf
    return heatmap_of(Pooled(pooled, block,
                             int(difference.size - np.count_nonzero(np.isfinite(difference)))))


def heatmap_of(pooled: Pooled) -> Heatmap:
    """The heatmap of differences already pooled into at most HEATMAP_MAX_SIDE cells a side."""
    cells = pooled.cells
    finite = np.isfinite(cells)
    maximum = float(cells[finite].max()) if finite.any() else 0.0
    scaled = np.zeros(cells.shape) if maximum == 0 else np.where(finite, cells, 0) / maximum
    indices = np.where(finite, np.rint(scaled * (LEVELS - 1)), LEVELS).astype(np.uint8)
    rows, columns = indices.shape
    cell = max(1, min(MAX_CELL, DISPLAY_WIDTH // columns, DISPLAY_HEIGHT // rows))
    return Heatmap(uri=data_uri(png(indices, PALETTE)), rows=rows, columns=columns,
                   block=(int(pooled.block[0]), int(pooled.block[1])), display_width=columns * cell,
                   display_height=rows * cell, maximum=maximum, nonfinite=pooled.nonfinite)


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
    counts = LogCounts()
    counts.add(difference.ravel(), allowed.ravel())
    return histogram_of(counts)


def histogram_of(counts: LogCounts) -> Histogram:
    """The histogram of counts gathered per half-decade (LogCounts), MAX_DECADES at most."""
    edges, within, out = counts.bars(MAX_DECADES)
    return Histogram(svg=_histogram_svg(edges, within, out), equal=counts.equal, nonfinite=counts.nonfinite)


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
