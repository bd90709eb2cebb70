"""The on-disk copy of the defaults table: reused only for the same versions and reader code."""

from __future__ import annotations

import pytest

from harness.defaults import cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    return tmp_path


def table(value):
    return {"rows": [{"key": "elu.alpha", "cells": {"torch": {"status": "read", "value": value}}}]}


def test_second_read_with_the_same_versions_uses_the_stored_copy(cache_dir):
    calls = []
    first = cache.cached_table({"torch": "2.13.0"}, 3, lambda: calls.append(1) or table(1.0))
    second = cache.cached_table({"torch": "2.13.0"}, 3, lambda: calls.append(1) or table(2.0))
    assert calls == [1]
    assert second["rows"] == first["rows"] == table(1.0)["rows"]
    assert first["cache"].startswith("read afresh") and second["cache"].startswith("read from")


def test_another_version_or_rank_reads_afresh(cache_dir):
    cache.cached_table({"torch": "2.13.0"}, 3, lambda: table(1.0))
    assert cache.cached_table({"torch": "2.14.0"}, 3, lambda: table(2.0))["rows"] == table(2.0)["rows"]
    assert cache.cached_table({"torch": "2.13.0"}, 4, lambda: table(3.0))["rows"] == table(3.0)["rows"]


def test_the_key_covers_the_reader_code(cache_dir, monkeypatch, tmp_path):
    before = cache.table_key({"torch": "2.13.0"}, 3)
    fake_root = tmp_path / "root"
    (fake_root / "defaults").mkdir(parents=True)
    (fake_root / "defaults" / "probes.py").write_text("SLOPE = 0.2\n")
    monkeypatch.setattr(cache, "HARNESS_ROOT", fake_root)
    edited_once = cache.table_key({"torch": "2.13.0"}, 3)
    (fake_root / "defaults" / "probes.py").write_text("SLOPE = 0.3\n")
    assert len({before, edited_once, cache.table_key({"torch": "2.13.0"}, 3)}) == 3


def test_a_damaged_copy_is_read_afresh_and_replaced(cache_dir):
    path = cache_dir / f"defaults-{cache.table_key({'torch': '2.13.0'}, 3)}.json"
    path.write_text("{not json")
    assert cache.cached_table({"torch": "2.13.0"}, 3, lambda: table(1.0))["rows"] == table(1.0)["rows"]
    assert cache.cached_table({"torch": "2.13.0"}, 3, lambda: table(9.0))["rows"] == table(1.0)["rows"]


def test_a_table_with_a_failed_reader_is_not_kept(cache_dir):
    failed = {"rows": [{"key": "elu.alpha", "cells": {"torch": {"status": "error"}}}]}
    cache.cached_table({"torch": "2.13.0"}, 3, lambda: failed)
    assert cache.cached_table({"torch": "2.13.0"}, 3, lambda: table(1.0))["rows"] == table(1.0)["rows"]


def test_an_unwritable_cache_directory_does_not_stop_the_read(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(blocker / "below-a-file"))
    assert cache.cached_table({"torch": "2.13.0"}, 3, lambda: table(1.0))["rows"] == table(1.0)["rows"]


def test_the_table_imports_no_adapter():
    # harness.backends.base imports harness.defaults: the table receives backends from its
    # caller instead of importing the adapters back (a fresh interpreter: nothing imported yet).
    import subprocess
    import sys

    code = ("import sys, harness.defaults.table, harness.defaults.background; "
            "print(sorted(m for m in sys.modules if m.startswith('harness.backends')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_first_run_reads_the_table_in_a_background_process_and_keeps_it(cache_dir):
    from tests.conftest import backend_or_skip

    from harness.defaults.background import DefaultsPrefetch
    from harness.defaults.table import defaults_table

    torch = backend_or_skip("torch")
    first = DefaultsPrefetch(["numpy", "torch"])
    assert first.process is not None  # nothing stored: read beside the run
    table = first.result(lambda names: {})  # no fallback: the background read must deliver
    assert table["cache"].startswith("read afresh in a background process")
    assert table["rows"] == defaults_table({"torch": torch}).to_json()["rows"]
    second = DefaultsPrefetch(["torch", "numpy"])
    assert second.process is None and second.result(lambda names: {})["cache"].startswith("read from")
    assert DefaultsPrefetch(["numpy"]).result(lambda names: {}) is None  # no framework with defaults
