"""An on-disk copy of the defaults table, so that a run does not read every default again.

Reading the table runs probes in every framework; torch's optimizer probes alone import
torch._dynamo (torch.optim.Optimizer's constructor does), about 1.8 s, which a run without
training cases would otherwise pay for the table only. The table is a function of the installed
frameworks' versions and of the harness's reader and probe code, so the copy is keyed by exactly
those: a different version or an edited reader gives another key and the table is read afresh.

Where: `$HARNESS_CACHE_DIR`, else `$XDG_CACHE_HOME/cross-framework-harness`, else
`~/.cache/cross-framework-harness`. A copy that cannot be read or written is ignored: the cache
only ever saves time, never changes what the table says (results.json notes `cache` either way).
`python -m harness defaults` always reads afresh.

A run looks its copy up before importing any framework (`installed_versions` asks the installed
distributions' metadata), so that on a miss the table can be read in a background process while
the run goes on (harness/defaults/background.py). A table in which a framework failed to import
is never kept: the same versions may import next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

HARNESS_ROOT = Path(__file__).resolve().parent.parent
READER_SOURCES = ("defaults/*.py", "reference/*.py", "reference/layers/*.py", "backends/*/*.py",
                  "backends/*/defaults/*.py")
"""The code the table's content depends on, besides the frameworks themselves."""
DISTRIBUTIONS = {"keras": ("keras", "tensorflow", "tensorflow-cpu"), "torch": ("torch",),
                 "chainer": ("chainer",)}
"""The installed distributions whose versions decide each framework's defaults (the Keras
adapter runs Keras on TensorFlow; the CPU build is a distribution of its own)."""


def installed_versions(frameworks: list[str]) -> dict[str, str]:
    """Each framework's distributions and versions as installed, from their metadata: a key for
    the stored table that costs milliseconds, where importing the frameworks costs seconds."""
    versions = {}
    for name in frameworks:
        found = []
        for distribution in DISTRIBUTIONS.get(name, (name,)):
            try:
                found.append(f"{distribution} {metadata.version(distribution)}")
            except metadata.PackageNotFoundError:
                pass
        versions[name] = ", ".join(found) or "not installed"
    return versions


def cache_dir() -> Path:
    explicit = os.environ.get("HARNESS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cross-framework-harness"


def table_key(versions: dict[str, str], rank: int) -> str:
    """A digest of everything the table depends on: versions, context and reader code."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"versions": versions, "rank": rank, "python": sys.version},
                             sort_keys=True).encode())
    for pattern in READER_SOURCES:
        for path in sorted(HARNESS_ROOT.glob(pattern)):
            digest.update(str(path.relative_to(HARNESS_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def table_path(versions: dict[str, str], rank: int) -> Path:
    return cache_dir() / f"defaults-{table_key(versions, rank)}.json"


def stored_table(versions: dict[str, str], rank: int) -> dict[str, Any] | None:
    """The stored copy for this key, or None (none yet, or damaged)."""
    path = table_path(versions, rank)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    table["cache"] = f"read from {path}"
    return table


def store_table(versions: dict[str, str], rank: int, table: dict[str, Any], how: str = "read afresh") -> dict[str, Any]:
    """Keep a table just read (unless a reader failed or a framework did not import: those may
    succeed next time) and say so in its `cache` note."""
    path = table_path(versions, rank)
    if not _has_errors(table):
        _store(path, table)
    table["cache"] = f"{how} (stored in {path})"
    return table


def cached_table(versions: dict[str, str], rank: int, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The table's JSON form: the stored copy for this key if there is one, else `read()`, stored."""
    return stored_table(versions, rank) or store_table(versions, rank, read())


def _has_errors(table: dict[str, Any]) -> bool:
    return any(cell.get("status") in ("error", "unavailable") for row in table.get("rows", [])
               for cell in row.get("cells", {}).values())


def _store(path: Path, table: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False,
                                         encoding="utf-8") as handle:
            json.dump(table, handle)
        os.replace(handle.name, path)  # atomic: a parallel run never reads half a file
    except OSError:
        pass  # a read-only home: the run goes on without a copy
