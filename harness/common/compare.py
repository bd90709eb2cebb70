"""Comparing two tensors: the figures torch.testing.assert_close reports, and a verdict.

An element agrees when |actual - expected| <= atol + rtol * |expected| (numpy.isclose's rule).
Every comparison records the largest absolute and relative error, how many elements are out of
tolerance and where the worst one is, so a failure says how far off and where, not only "no".
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields
from typing import Any, Iterator

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    reason: str = ""


# Default tolerances, by the dtype the framework computes in and by check.
#
# float32 (unit roundoff u = 6e-8): a framework's float32 result differs from the float64
# reference by the rounding of every operation on the way. A dot product of n terms is off by
# about sqrt(n) u times the sum of |terms|, layers compound it, and TF's and torch's vectorised
# transcendental functions are good to a few ulp. Measured on the seed cases
# (`python -m harness run cases/`, results.json `max_abs_error`/`max_rel_error`): forward values
# and intermediates are off by at most 1.4e-6 absolute (the MNIST hidden layer, where a 784-term
# sum cancels to near zero before relu) and 9e-5 relative; gradients by at most 6e-8 absolute
# and 4e-4 relative (on near-zero elements).
# * rtol 1e-4 bounds the relative error of elements that are not near zero; every real
#   difference in the catalogue is larger (leaky slope 0.2 vs 0.3: 50%; BatchNorm eps 1e-3 vs
#   1e-5 on unit-variance data: 5e-4; hard_sigmoid 1/6 vs 0.2: 20%).
# * atol covers elements near zero after cancellation, where relative error means nothing:
#   1e-5 on forward values of order one (torch.testing's float32 atol; 7x the worst seen),
#   1e-7 on gradients, which are smaller because they carry 1/batch (15x the worst seen).
#
# float64 (u = 1.1e-16): the frameworks agree with the reference to about 1e-13 except where
# Keras passes hyper-parameters through float32 (a slope of 0.2 becomes 0.20000000298,
# keras/src/backend/tensorflow/core.py `cast`: tf.cast of a Python float makes a float32 tensor first), a relative error of about 1.5e-8. rtol 1e-7 admits that, nothing larger.
#
# training (the loss of every step and every trainable parameter after it): rounding errors
# are fed back through the weights, so they could grow with the steps; measured on the seed
# training cases (results.json, records of check `training`), they do not, over 5 to 20 steps:
# * float32: parameters off by at most 5e-7 absolute (Keras, MNIST MLP after 20 Adam steps;
#   torch 4e-7, chainer and numpy 2e-7 to 3e-7, flat from step 1; the same case run for 100
#   steps: Keras 6.4e-7, torch 4.4e-7, the others unchanged). With momentum they do grow: the
#   CNN + BatchNormalization case (seed008, SGD, momentum 0.875) goes from 4e-8 after step 1
#   to 6e-7 after step 10, about linearly, so a case much longer than that needs its own
#   tolerance (with its reason). Adam makes this the worst
#   case: an element whose gradient is near zero moves by lr * g / (|g| + epsilon), which
#   turns the gradient's large relative rounding error near zero into up to ~lr * 1e-3. Losses
#   off by at most 2e-6 absolute, 1e-6 relative (Keras). atol 5e-6 is 10x the parameters'
#   worst, for parameters near zero (biases start at zero); rtol 1e-4 as above. A formula
#   difference of epsilon size (1e-7 vs 1e-8) is below float32's noise here: float64 cases
#   (seed006) are where those show.
# * float64, hyper-parameters float32 holds exactly: at most 4.4e-16 absolute, 5.4e-12
#   relative (on a parameter near zero) after 12 steps of any optimizer. Keras with momentum
#   0.9 or beta_1 0.9 instead differs by 3.7e-8 absolute (2.7e-6 relative) after 20 steps,
#   which rtol 1e-7 reports: such a case must choose float32-exact values or say why not.
DEFAULT_TOLERANCES: dict[str, dict[str, Tolerance]] = {
    "float32": {
        "forward": Tolerance(1e-4, 1e-5, "float32 default"),
        "intermediates": Tolerance(1e-4, 1e-5, "float32 default"),
        "gradients": Tolerance(1e-4, 1e-7, "float32 default"),
        "training": Tolerance(1e-4, 5e-6, "float32 default"),
    },
    "float64": {
        "forward": Tolerance(1e-7, 1e-12, "float64 default"),
        "intermediates": Tolerance(1e-7, 1e-12, "float64 default"),
        "gradients": Tolerance(1e-7, 1e-13, "float64 default"),
        "training": Tolerance(1e-7, 1e-12, "float64 default"),
    },
}


@dataclass
class TensorComparison:
    """One tensor of one framework against the reference (or another framework)."""

    tensor: str
    kind: str
    """output, loss, state, intermediate, parameter_gradient, input_gradient, training_loss,
    training_parameter, training_state or known_value."""
    shape: list[int]
    expected_shape: list[int]
    dtype: str
    expected_dtype: str
    rtol: float
    atol: float
    max_abs_error: float = float("nan")
    max_rel_error: float = float("nan")
    mismatched: int = 0
    total: int = 0
    worst_index: list[int] | None = None
    worst_actual: float | None = None
    worst_expected: float | None = None
    passed: bool = False
    note: str = ""
    step: int | None = None
    """Training checks: the optimizer step (1, 2, ...) this tensor belongs to."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tolerance_ratio(self) -> float:
        """Worst |error| / allowed error; at most 1 where the tensor passes."""
        return float(self.extra.get("tolerance_ratio", float("nan")))

    def describe(self) -> str:
        if self.note:
            return f"{self.tensor}: {self.note}"
        text = (f"{self.tensor}: {self.mismatched} of {self.total} elements out of tolerance "
                f"({100 * self.mismatched / max(self.total, 1):.1f}%); greatest absolute difference "
                f"{self.max_abs_error:.3g}, greatest relative difference {self.max_rel_error:.3g}")
        if self.worst_index is not None:
            text += (f"; worst at index {tuple(self.worst_index)}: {self.worst_actual:.9g} vs "
                     f"{self.worst_expected:.9g}")
        return text + f" (allowed: atol {self.atol:g} + rtol {self.rtol:g} * |expected|)"

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: asdict deep-copies every value, which cost
        # more than the comparison itself on the small tensors most cases have (56 us of 97).
        # _finite copies the lists and dicts it walks.
        return {f.name: _finite(getattr(self, f.name)) for f in _FIELDS}


_FIELDS = fields(TensorComparison)


def elementwise_errors(actual: np.ndarray, expected: np.ndarray,
                       tolerance: Tolerance) -> tuple[np.ndarray, np.ndarray]:
    """(|actual - expected|, atol + rtol * |expected|) per element, in float64.

    The same non-finite rule everywhere (the verdict, the report's pictures): equal infinities
    and NaN against NaN count as no difference; any other non-finite value, on either side, as an
    infinite one with nothing allowed (atol + rtol * |inf| would otherwise allow anything).

    This is the rule written out on whole arrays, for small tensors and for tests; compare() and
    the report apply the same rule block by block (`error_blocks`).
    """
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf, 0 * inf: NaN, settled by the non-finite rule below
        difference = np.abs(a - e)
        allowed = tolerance.atol + tolerance.rtol * np.abs(e)
    if np.isfinite(difference).all():  # the usual case: no infinities or NaN on either side
        return difference, allowed
    nonfinite = ~np.isfinite(a) | ~np.isfinite(e)
    both_same_nonfinite = nonfinite & ((a == e) | (np.isnan(a) & np.isnan(e)))
    return (np.where(both_same_nonfinite, 0.0, np.where(nonfinite, np.inf, difference)),
            np.where(nonfinite, 0.0, allowed))


BLOCK = 1 << 17
"""Elements per block when comparing large tensors. Every figure is a maximum, a count or the
first index of a maximum, so it can be found block by block; a block's float64 temporaries
(1 MiB each) stay near the processor, where the same NumPy passes over whole arrays would
allocate, and fault in, eight bytes per element several times over. Measured on a 4096 x 784
float32 tensor against a float64 one (benchmarks/scaling.py's largest MLP input gradient,
2 cores, 2026-12-04): whole arrays 100 ms; blocks of 2^11 elements 159 ms (the per-block
Python work dominates), 2^14 36 ms, 2^16 22 ms, 2^17 17 ms, 2^18 no faster."""


@dataclass
class Figures:
    """What compare() reports about two arrays of the same shape (flat indices)."""

    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    mismatched: int = 0
    worst: int = 0
    """Flat index of the first element with the largest |difference| / allowed."""
    max_ratio: float = -1.0
    all_finite: bool = True
    """Every |difference| was finite, so the expected array holds no infinity or NaN (one there
    makes the difference inf or NaN whatever the actual value): compare() need not count them."""

    def merge(self, start: int, largest: float, relative: float, ratio: float, worst: int,
              mismatched: int) -> None:
        """One block's figures into the whole array's (`start`: the block's first flat index)."""
        self.max_abs_error = max(self.max_abs_error, largest)
        # A NaN relative error (inf against inf) stays NaN once there, as np.max keeps it.
        if self.max_rel_error == self.max_rel_error and not relative <= self.max_rel_error:
            self.max_rel_error = relative
        self.mismatched += mismatched
        if ratio > self.max_ratio:  # strictly: the first element of the largest ratio wins
            self.max_ratio, self.worst = ratio, start + worst


def flat_operands(actual: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays flattened (views where they are contiguous), as floating-point numbers: the
    float64 arithmetic then casts block by block, exactly as a whole-array astype would."""
    def flat(array: np.ndarray) -> np.ndarray:
        array = array.reshape(-1)
        return array if array.dtype.kind == "f" else array.astype(np.float64)
    return flat(actual), flat(expected)


class Scratch:
    """One block's float64 buffers (|difference|, allowed, a quotient), reused block to block."""

    def __init__(self, size: int) -> None:
        self.difference, self.allowed, self.quotient = np.empty(size), np.empty(size), np.empty(size)

    def view(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.difference[:size], self.allowed[:size], self.quotient[:size]


def _blocks(actual: np.ndarray, expected: np.ndarray, block: int | None):
    """(start, actual block, expected block, scratch buffers) over the flattened arrays."""
    a, e = flat_operands(actual, expected)
    block = block or BLOCK
    scratch = Scratch(min(block, a.size))
    for start in range(0, a.size, block):
        a_block, e_block = a[start:start + block], e[start:start + block]
        yield start, a_block, e_block, scratch.view(a_block.size)


def _difference(a_block: np.ndarray, e_block: np.ndarray, difference: np.ndarray) -> float:
    """|a - e| into `difference` in float64 (the subtraction casts its operands, exactly as
    astype would); returns its largest element: 0 for identical blocks, not finite where the
    block holds an infinity or NaN (call under np.errstate(all="ignore"))."""
    np.subtract(a_block, e_block, out=difference, dtype=np.float64)
    np.abs(difference, out=difference)
    return float(difference.max())


def _allowed(e_block: np.ndarray, tolerance: Tolerance, allowed: np.ndarray) -> np.ndarray:
    """atol + rtol * |e| into `allowed`, in float64 (|e| is left there first: see the callers)."""
    np.abs(e_block, out=allowed, dtype=np.float64)
    np.multiply(allowed, tolerance.rtol, out=allowed)
    np.add(allowed, tolerance.atol, out=allowed)
    return allowed


def error_blocks(actual: np.ndarray, expected: np.ndarray, tolerance: Tolerance,
                 block: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(flat start, |difference|, allowed) for each block of `block` elements of the flattened
    arrays, in float64, with elementwise_errors' non-finite rule: what the report summarises
    without holding whole float64 arrays. The arrays yielded are overwritten by the next block:
    copy what you keep."""
    for start, a_block, e_block, (difference, allowed, _) in _blocks(actual, expected, block):
        with np.errstate(all="ignore"):
            finite = np.isfinite(_difference(a_block, e_block, difference))
            _allowed(e_block, tolerance, allowed)
        if not finite:  # the non-finite rule decides
            difference[...], allowed[...] = elementwise_errors(a_block, e_block, tolerance)
        yield start, difference, allowed


def error_figures(actual: np.ndarray, expected: np.ndarray, tolerance: Tolerance,
                  block: int | None = None) -> Figures:
    """compare()'s figures, block by block: the same numbers as elementwise_errors on the whole
    arrays followed by whole-array maxima, counts and argmax (tests/test_compare.py checks this
    against that straightforward computation on random arrays with zeros, infinities and NaN).

    Per block, with d = |difference|, x = |expected| and a = allowed, in float64:
    * the largest d first: 0 means the block is identical in both arrays (every figure 0, no
      more arithmetic: a Flatten of the input, which every framework computes exactly); not
      finite means an infinity or NaN on either side, and the block is computed as on whole
      arrays (the non-finite rule, np.where, np.max keeping the NaN relative error of inf
      against inf);
    * relative error d / x and tolerance ratio d / a, where d = 0 counts as 0: with every
      value finite the only NaN is 0 / 0, which np.fmax.reduce skips (a block of nothing but
      0 / 0 has maximum 0);
    * out of tolerance: d > a. Division rounds monotonically and d > a makes d / a at least
      1 + 2^-52 (inf for a = 0), so a block whose largest ratio is at most 1 has none and is
      not counted element by element.
    Seven passes over a block in the usual case (subtract, abs, max; |e| and the quotient for
    the relative error; rtol * |e| + atol and the quotient for the ratio), each within the
    processor's cache.
    """
    figures = Figures()
    with np.errstate(all="ignore"):
        for start, a_block, e_block, (difference, allowed, quotient) in _blocks(actual, expected, block):
            largest = _difference(a_block, e_block, difference)
            if largest == 0.0:
                figures.merge(start, 0.0, 0.0, 0.0, 0, 0)
                continue
            if not np.isfinite(largest):
                figures.all_finite = False
                figures.merge(start, *_nonfinite_block(a_block, e_block, tolerance))
                continue
            np.abs(e_block, out=allowed, dtype=np.float64)
            relative = _largest_quotient(difference, allowed, quotient)
            np.multiply(allowed, tolerance.rtol, out=allowed)
            np.add(allowed, tolerance.atol, out=allowed)
            ratio = _largest_quotient(difference, allowed, quotient)
            worst = int(np.argmax(quotient == ratio)) if ratio > 0 and ratio > figures.max_ratio else 0
            mismatched = int(np.count_nonzero(difference > allowed)) if ratio > 1 else 0
            figures.merge(start, largest, relative, ratio, worst, mismatched)
    return figures


def _largest_quotient(numerator: np.ndarray, denominator: np.ndarray, out: np.ndarray) -> float:
    """max(numerator / denominator) over finite, non-negative operands, 0 / 0 counted as 0;
    the quotients are left in `out`."""
    np.divide(numerator, denominator, out=out)
    largest = float(np.fmax.reduce(out))
    return 0.0 if largest != largest else largest


def _nonfinite_block(actual: np.ndarray, expected: np.ndarray,
                     tolerance: Tolerance) -> tuple[float, float, float, int, int]:
    """(largest difference, relative error, ratio, worst, mismatched) of a block holding
    infinities or NaN, written as compare() always did it on whole arrays."""
    difference, allowed = elementwise_errors(actual, expected, tolerance)
    relative = np.where(difference == 0, 0.0, difference / np.abs(expected.astype(np.float64)))
    ratio = np.where(difference == 0, 0.0, difference / allowed)
    worst = int(np.argmax(ratio))
    return (float(difference.max()), float(relative.max()), float(ratio[worst]), worst,
            int(np.count_nonzero(difference > allowed)))


def memory_order(array: np.ndarray) -> tuple[int, ...]:
    """The axes of `array` in the order its memory holds them: the transpose that makes it
    C-contiguous where it is a transposed contiguous array, the identity otherwise.

    The reference computes windowed layers in channels_last memory and hands channels_first
    views out (harness/reference/layers/windows.py `from_channels_last`), and frameworks return
    either layout. Flattening such a view in C order copies it, and that copy cost more than
    the comparison (MobileNetV2 at 224x224: 2.7 s of 11.6 s). compare() flattens both arrays in
    the expected array's memory order instead: a view of the expected array always, of the
    actual one where it is laid out alike (a copy, as before, where not). Every figure is a
    maximum or a count, the same in any order; the worst element is the first of the largest
    ratio in that memory order (C order for a C-contiguous expected array, as before)."""
    if array.flags.c_contiguous or array.ndim < 2:
        return tuple(range(array.ndim))
    order = tuple(sorted(range(array.ndim), key=lambda axis: -array.strides[axis]))
    return order if array.transpose(order).flags.c_contiguous else tuple(range(array.ndim))


def compare(tensor: str, kind: str, actual: Any, expected: Any, tolerance: Tolerance, *,
            expected_dtype: str | None = None, step: int | None = None) -> TensorComparison:
    actual, expected = np.asarray(actual), np.asarray(expected)
    dtype = _name(actual.dtype)
    result = TensorComparison(
        tensor=tensor, kind=kind, shape=list(actual.shape), expected_shape=list(expected.shape),
        dtype=dtype, expected_dtype=expected_dtype or _name(expected.dtype),
        rtol=tolerance.rtol, atol=tolerance.atol, total=int(expected.size), step=step)
    if actual.shape != expected.shape:
        result.note = f"shape {list(actual.shape)}, expected {list(expected.shape)}"
        return result
    if expected_dtype is not None and dtype != expected_dtype:
        result.note = f"dtype {actual.dtype}, expected {expected_dtype}"
        return result
    if expected.size == 0:
        result.passed = True
        return result
    order = memory_order(expected)
    figures = error_figures(actual.transpose(order), expected.transpose(order), tolerance)
    # figures.worst is a flat index in that order: its position in the transposed shape, then
    # each transposed axis's index put back at the axis it came from.
    moved = np.unravel_index(figures.worst, [expected.shape[axis] for axis in order])
    worst = tuple(moved[order.index(axis)] for axis in range(expected.ndim))
    result.max_abs_error = figures.max_abs_error
    result.max_rel_error = figures.max_rel_error
    result.mismatched = figures.mismatched
    result.worst_index = [int(i) for i in worst]
    result.worst_actual = float(actual[worst])
    result.worst_expected = float(expected[worst])
    result.passed = result.mismatched == 0
    result.extra["tolerance_ratio"] = figures.max_ratio
    if expected.dtype.kind == "f" and not figures.all_finite:
        nonfinite = int(expected.size - np.count_nonzero(np.isfinite(expected)))
        if nonfinite:  # agreement there is NaN matching NaN: the verdict says so (runner._judge)
            result.extra["nonfinite_expected"] = nonfinite
    return result


@functools.lru_cache(maxsize=None)
def _name(dtype: np.dtype) -> str:
    """str(dtype), remembered: NumPy builds the name anew each time (7 us, a tenth of
    comparing a small tensor)."""
    return str(dtype)


def _finite(value: Any) -> Any:
    """JSON has no inf or nan: write them as strings so results.json stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
