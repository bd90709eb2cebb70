"""Every mutant of a shipped case file either loads or is a CaseError naming that file and a line
or field: never another exception, a hang, or the last-resort wrapper (which would be a harness
bug). The mutants are seeded (tests/case_mutants.py), so a failure names a reproducible one."""

from __future__ import annotations

import time

import pytest

from harness.weights import load_cases_from_file
from harness.common.errors import CaseError, CaseErrors
from tests.case_mutants import mutants

SEED, COUNT = 26, 300
SECONDS_PER_MUTANT = 5.0
"""The largest shipped case loads in well under a second; a mutant may ask for much more (a
scaled `samples`), within the element limit, but not seconds more."""


def test_every_mutant_loads_or_is_a_case_error_with_file_and_place(tmp_path):
    outcomes = {"loads": 0, "refused": 0}
    for name, content in mutants(COUNT, SEED):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        started = time.perf_counter()
        try:
            load_cases_from_file(path)
            outcomes["loads"] += 1
        except CaseError as exc:
            outcomes["refused"] += 1
            for error in exc.errors if isinstance(exc, CaseErrors) else [exc]:
                assert error.file == str(path), (name, error.render())
                assert error.line is not None or error.field, (name, error.render())
                assert "could not be loaded" not in error.message, (name, error.render())
        except BaseException as exc:  # noqa: BLE001 -- the point of the test
            pytest.fail(f"mutant {name} (seed {SEED}) raised {type(exc).__name__}: {exc}")
        assert time.perf_counter() - started < SECONDS_PER_MUTANT, name
    # Both outcomes occur: a mutator that only broke files, or never did, would prove little.
    assert outcomes["loads"] > COUNT // 10 and outcomes["refused"] > COUNT // 2, outcomes
