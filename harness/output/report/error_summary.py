"""What a report picture needs from two arrays, gathered block by block in one pass.

A picture shows a tensor's elementwise errors: a heatmap of |difference| pooled to at most
HEATMAP_MAX_SIDE cells a side (2-D tensors), or a histogram of log10 |difference| (others), and
the few elements furthest out of tolerance. None of these needs every element at once: block
maxima, counts per half-decade and a running top-k are all built block by block from
compare.error_blocks (the same float64 errors and non-finite rule as the verdict). So the report
holds a bounded summary per picture, never a float64 copy of a large tensor, and its size and
writing time stay bounded (tests/test_report.py checks the summary against whole arrays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from harness.common.compare import BLOCK, Tolerance, error_blocks

HEATMAP_MAX_SIDE = 96
"""Longest side of a heatmap in cells: a 128 x 784 MNIST layer becomes 64 x 66 blocks."""
BINS_PER_DECADE = 2
HALF_DECADES = BINS_PER_DECADE * 700
"""Histogram counts are kept per half-decade of |difference| from 1e-350 (below the smallest
subnormal, 4.9e-324) to 1e350 (above the largest double): a fixed grid, so blocks add up."""
WORST_ROWS = 8
"""Elements in a diff view: the ones furthest out of tolerance."""


@dataclass
class Pooled:
    """A 2-D tensor's |difference|, pooled by block maxima."""

    cells: np.ndarray
    block: tuple[int, int]
    """Elements per cell along each axis ((1, 1) when nothing was pooled)."""
    nonfinite: int


@dataclass
class LogCounts:
    """Counts of log10 |difference| per half-decade, within and out of tolerance."""

    within: np.ndarray = field(default_factory=lambda: np.zeros(HALF_DECADES, dtype=np.int64))
    out: np.ndarray = field(default_factory=lambda: np.zeros(HALF_DECADES, dtype=np.int64))
    lowest: float = math.inf
    """The smallest and largest log10 |difference| counted (inf, -inf when none was)."""
    highest: float = -math.inf
    equal: int = 0
    """Elements with no difference at all (not on the log axis)."""
    nonfinite: int = 0

    def add(self, difference: np.ndarray, allowed: np.ndarray) -> None:
        finite = np.isfinite(difference)
        shown = finite & (difference > 0)
        self.equal += int(np.count_nonzero(difference == 0))
        self.nonfinite += int(difference.size - np.count_nonzero(finite))
        if not shown.any():
            return
        # log10 is monotonic: the extreme logs are the logs of the extreme differences.
        self.lowest = min(self.lowest, float(np.log10(np.min(difference, where=shown, initial=np.inf))))
        self.highest = max(self.highest, float(np.log10(np.max(difference, where=shown, initial=0.0))))
        # Zeros land in half-decade 0 and non-finite differences in the last, where no finite
        # positive double can (1e-350, 1e350); they are counted apart above.
        half = half_decades(difference)
        np.add(half, HALF_DECADES // 2, out=half)
        half[~shown] = 0
        cell = half.astype(np.int64) * 2 + (difference > allowed)
        counts = np.bincount(cell, minlength=2 * HALF_DECADES).reshape(HALF_DECADES, 2)
        counts[0] = 0
        self.within += counts[:, 0]
        self.out += counts[:, 1]

    def bars(self, max_decades: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(edges, within, out) as np.histogram gives them for the logs clipped to the range
        [low, high]: whole decades around the data, at most max_decades wide, what lies below
        counted in the first bar."""
        high = math.ceil(self.highest) if self.highest > -math.inf else 0
        low = max(math.floor(self.lowest) if self.lowest < math.inf else -1, high - max_decades)
        low = min(low, high - 1)
        edges = np.linspace(low, high, (high - low) * BINS_PER_DECADE + 1)
        first, bars = low * BINS_PER_DECADE + HALF_DECADES // 2, (high - low) * BINS_PER_DECADE
        return edges, self._fold(self.within, first, bars), self._fold(self.out, first, bars)

    @staticmethod
    def _fold(counts: np.ndarray, first: int, bars: int) -> np.ndarray:
        """counts[first:first + bars], with everything below in the first bar and the top edge
        (log10 d == high exactly) in the last, as np.histogram's closed last bin has it."""
        folded = counts[first:first + bars].copy()
        folded[0] += counts[:first].sum()
        folded[-1] += counts[first + bars:].sum()
        return folded


FLOAT32_NORMAL = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))
AMBIGUOUS = 1e-4
"""How close to a half-decade edge float32's estimate of 2 log10 d may come before np.log10
settles the element: the estimate is off by less than 1e-5 (float32's log, good to an ulp of
a result below 90, and the rounding of d to float32)."""


def half_decades(difference: np.ndarray) -> np.ndarray:
    """floor(2 log10 d) per element, exactly as np.log10 in float64 gives it (the bin edges of a
    histogram of log10 d with two bins per decade are the multiples of 1/2, which 2 log10 d
    reaches exactly). float64's log10 costs about 12 ns an element here, float32's log 2 ns: the
    float32 estimate decides every element not within AMBIGUOUS of an edge, np.log10 the rest
    and the differences outside float32's normal range. Meaningless where d is 0 or not finite."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        estimate = np.log(difference.astype(np.float32))
        estimate *= np.float32(BINS_PER_DECADE / np.log(10.0))
        half = np.floor(estimate)
        unsure = (estimate - half < AMBIGUOUS) | (half + 1 - estimate < AMBIGUOUS)
        unsure |= (difference < FLOAT32_NORMAL[0]) | (difference > FLOAT32_NORMAL[1])
        exact = np.floor(np.log10(difference[unsure]) * BINS_PER_DECADE)
    half = half.astype(np.float64)
    half[unsure] = exact
    return half


@dataclass
class WorstElements:
    """The `count` elements furthest out of tolerance: by |difference| / allowed (0 where the
    difference is 0, NaN as inf), then by |difference|, then the later element first, which is
    the order of `np.lexsort((difference, ratio))[::-1]` over the whole tensor."""

    count: int = WORST_ROWS
    ratio: np.ndarray = field(default_factory=lambda: np.zeros(0))
    difference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    allowed: np.ndarray = field(default_factory=lambda: np.zeros(0))
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Flat indices, best first."""

    def add(self, start: int, difference: np.ndarray, allowed: np.ndarray) -> None:
        if difference.size == 0:
            return
        ratio = np.zeros(difference.shape)
        with np.errstate(divide="ignore", invalid="ignore"):  # d > 0 against 0 allowed: inf
            np.divide(difference, allowed, out=ratio, where=difference != 0)
        if np.isnan(ratio.max()):  # not from compare.error_blocks, but from arrays given whole
            np.nan_to_num(ratio, copy=False, nan=np.inf)
        candidates = np.arange(ratio.size)
        if len(self.index) == self.count:  # only what reaches the count-th kept so far can enter
            candidates = np.flatnonzero(ratio >= self.ratio[-1])
            if candidates.size == 0:
                return
        if candidates.size > self.count:
            candidates = candidates[_top(ratio[candidates], difference[candidates], self.count)]
        self._keep(np.concatenate([self.ratio, ratio[candidates]]),
                   np.concatenate([self.difference, difference[candidates]]),
                   np.concatenate([self.allowed, allowed[candidates]]),
                   np.concatenate([self.index, start + candidates]))

    def _keep(self, ratio, difference, allowed, index) -> None:
        order = np.lexsort((index, difference, ratio))[::-1][:self.count]
        self.ratio, self.difference, self.allowed, self.index = (
            ratio[order], difference[order], allowed[order], index[order])


def _top(ratio: np.ndarray, difference: np.ndarray, count: int) -> np.ndarray:
    """Indices (ascending) of the block's first `count` elements by (ratio, difference, index),
    all descending, in linear time: np.partition finds the count-th ratio, and ties at it are
    settled by difference and then by the larger index, without sorting the block."""
    if ratio.size <= count:
        return np.arange(ratio.size)
    cut = np.partition(ratio, ratio.size - count)[ratio.size - count]
    above = np.flatnonzero(ratio > cut)
    tied = np.flatnonzero(ratio == cut)
    need = count - above.size
    if tied.size > need:
        tied_difference = difference[tied]
        cut_difference = np.partition(tied_difference, tied.size - need)[tied.size - need]
        larger = tied[tied_difference > cut_difference]
        equal = tied[tied_difference == cut_difference]
        tied = np.concatenate([larger, equal[equal.size - (need - larger.size):]])
    return np.sort(np.concatenate([above, tied]))


@dataclass
class ErrorSummary:
    """A picture's material: the pooled heatmap (2-D tensors) or the histogram counts (others),
    and the worst elements."""

    shape: tuple[int, ...]
    pooled: Pooled | None
    counts: LogCounts | None
    worst: WorstElements


def heatmap_block(shape: tuple[int, int]) -> tuple[int, int]:
    return tuple(max(1, math.ceil(side / HEATMAP_MAX_SIDE)) for side in shape)  # type: ignore[return-value]


def summarize(actual: np.ndarray, expected: np.ndarray, tolerance: Tolerance,
              worst: int = WORST_ROWS) -> ErrorSummary:
    """One pass over the two arrays (compare.error_blocks) gathering the picture's material.

    A 2-D tensor (after dropping axes of length 1) is read in bands of whole heatmap rows, so
    each band pools into whole cells."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    kept = [side for side in expected.shape if side != 1]
    summary = ErrorSummary(tuple(expected.shape), None, None, WorstElements(worst))
    if len(kept) == 2:
        rows, columns = kept
        block = heatmap_block((rows, columns))
        band = block[0] * columns
        band *= max(1, BLOCK // band)
        cells = np.full((math.ceil(rows / block[0]), math.ceil(columns / block[1])), -np.inf)
        nonfinite = 0
        for start, difference, allowed in error_blocks(actual, expected, tolerance, band):
            first_row = start // columns // block[0]
            pooled = block_max(difference.reshape(-1, columns), block)
            cells[first_row:first_row + len(pooled)] = pooled
            nonfinite += int(difference.size - np.count_nonzero(np.isfinite(difference)))
            summary.worst.add(start, difference, allowed)
        summary.pooled = Pooled(cells, block, nonfinite)
        return summary
    summary.counts = LogCounts()
    for start, difference, allowed in error_blocks(actual, expected, tolerance):
        summary.counts.add(difference, allowed)
        summary.worst.add(start, difference, allowed)
    return summary


def block_max(array: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """Max over non-overlapping blocks of a 2-D array, the last ones cut short at the edges.
    The differences compare.error_blocks gives hold no NaN (the non-finite rule makes it inf)."""
    if block == (1, 1):
        return array
    for axis, size in enumerate(block):
        array = np.maximum.reduceat(array, np.arange(0, array.shape[axis], size), axis=axis)
    return array
