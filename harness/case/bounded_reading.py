"""Reading arrays from files a user was handed: no pickle, and no allocation the model does not
call for.

A checkpoint or weights file is data from someone else (a colleague's repository, a download).
Every reader of the harness therefore

* never unpickles: an `.npy` member whose dtype holds Python objects is refused from its
  header, before its data is read (numpy's own `allow_pickle=False` would refuse it too, but
  only after choosing to read it);
* reads an array's header (shape, dtype) before its data, and reads the data only where the
  shape is the one the model expects (or, for an array the model does not name, while all read
  stay within the limit): any other gets a stand-in of its declared shape that holds no memory
  (`stand_in`), enough to say "shape differs" in the mismatch table;
* checks a zip archive's declared uncompressed sizes before reading any member, and reads a
  member through a stream that stops at the limit, so a deflate bomb (a few MB declaring GB)
  is refused instead of inflated.

The limits scale with the model: ARCHIVE_SLACK plus BYTES_PER_ELEMENT per element the model
expects (float64 weights with room for an optimizer's state); where no model is known (the
`harness import` paths) an archive may inflate to at most RATIO_LIMIT times its size beyond
ARCHIVE_SLACK: weights compress by about 1.1x, a bomb by 1000x.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

ARCHIVE_SLACK = 64 * 2 ** 20
"""Bytes an archive may hold beyond its tensors (a .keras file's config, HDF5's own structure)."""
BYTES_PER_ELEMENT = 32
"""Per element the model expects: float64 (8 bytes) four times (weights, two optimizer moments, spare)."""
RATIO_LIMIT = 100
"""Uncompressed / compressed size beyond which an archive of unknown model is a bomb, not weights."""
CHUNK = 2 ** 20


def model_limit(shapes: Mapping[str, tuple[int, ...]]) -> int:
    """The most bytes a checkpoint of a model with these tensors may inflate to."""
    return ARCHIVE_SLACK + BYTES_PER_ELEMENT * sum(math.prod(shape) for shape in shapes.values())


def ratio_limit(path: Path) -> int:
    """The most bytes an archive of unknown model may inflate to (a missing file: the slack; its
    reader says it is missing)."""
    try:
        return ARCHIVE_SLACK + RATIO_LIMIT * Path(path).stat().st_size
    except OSError:
        return ARCHIVE_SLACK


def check_archive(path: Path, limit: int) -> None:
    """A zip archive's declared uncompressed size against `limit` (ValueError), before reading it."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"it cannot be read as a zip archive: {exc}") from None
    total = sum(member.file_size for member in members)
    if total > limit:
        largest = max(members, key=lambda member: member.file_size)
        raise ValueError(f"its members would inflate to {_size(total)} ({largest.filename}: {_size(largest.file_size)} "
                         f"from {_size(largest.compress_size)}), more than the {_size(limit)} a checkpoint of this "
                         "model can need: refused unread (a deflate bomb, or not this model's file)")


def read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """One member, read in chunks and refused past `limit` bytes whatever its header declares."""
    buffer = io.BytesIO()
    with archive.open(name) as member:
        while chunk := member.read(CHUNK):
            buffer.write(chunk)
            if buffer.tell() > limit:
                raise ValueError(f"its member {name} inflates past {_size(limit)}: refused (a deflate bomb?)")
    return buffer.getvalue()


def stand_in(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array of the declared shape that takes no memory (every element is one zero): what a
    tensor that is not read shows in a mismatch table."""
    try:
        return np.broadcast_to(np.zeros((), dtype=dtype), shape)
    except (ValueError, TypeError):
        return np.broadcast_to(np.zeros((), dtype=np.float64), (0,))


class Budget:
    """Which declared tensors to read: one the model expects, at its shape; one it does not
    name (an extra the adapter folds in, such as chainer's second recurrent bias, or a file's
    stray array), while all read so far stay within the limit. A tensor the model names at
    another shape is never read: its declared shape is all the mismatch table needs."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def allows(self, key: str, shape: tuple[int, ...], dtype: np.dtype,
               expected: Mapping[str, tuple[int, ...]] | None) -> bool:
        if expected is not None and key in expected and tuple(expected[key]) != tuple(shape):
            return False
        size = math.prod(shape) * dtype.itemsize
        if size > self.left:
            return False
        self.left -= size
        return True


def npz_names(path: Path) -> list[str]:
    """The array names of an npz, from its directory only (no member read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [name.removesuffix(".npy") for name in archive.namelist()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"numpy.load cannot read it as an npz file: {exc}") from None


def read_npz(path: Path, expected: Mapping[str, tuple[int, ...]] | None = None, *,
             limit: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of an npz, pickles refused, at most `limit` bytes read (Budget); any other is
    a `stand_in` of its declared shape."""
    limit = ratio_limit(path) if limit is None else limit
    check_archive(path, limit)
    arrays: dict[str, np.ndarray] = {}
    budget = Budget(limit)
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                key = name.removesuffix(".npy")
                with archive.open(name) as member:
                    shape, fortran, dtype = _header(member, key)
                    if budget.allows(key, shape, dtype, expected):
                        arrays[key] = _data(member, key, shape, fortran, dtype)
                    else:
                        arrays[key] = stand_in(shape, dtype)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"numpy.load cannot read it as an npz file: {exc}") from None
    return arrays


def _header(member, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy_format.read_magic(member)
        reader = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"npy format version {version} (this reader knows 1.0 and 2.0)")
        shape, fortran, dtype = reader(member)
    except ValueError as exc:
        raise ValueError(f"tensor {key!r} is not an .npy array: {exc}") from None
    if dtype.hasobject:
        raise ValueError(f"tensor {key!r} holds Python objects (dtype {dtype}): that is a pickle, which the harness "
                         "never loads; save plain numeric arrays")
    return tuple(int(n) for n in shape), bool(fortran), dtype


def _data(member, key: str, shape: tuple[int, ...], fortran: bool, dtype: np.dtype) -> np.ndarray:
    size = math.prod(shape) * dtype.itemsize
    data = member.read(size)
    if len(data) != size:
        raise ValueError(f"tensor {key!r} is cut short: {len(data)} of its {size} bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"
