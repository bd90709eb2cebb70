"""Shared fixtures of the unit tests."""

from __future__ import annotations

import pytest

from harness.backends import get_backend

FRAMEWORK_BACKENDS = ("keras", "chainer", "torch")


def backend_or_skip(name: str):
    """The framework's backend, or a pytest skip that says why it cannot run here."""
    backend = get_backend(name)
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return backend


def pytest_collection_modifyitems(config, items):
    """The named vision models (tests/test_vision_models.py, marker `vision_models`) take minutes:
    left out of every run whose marker expression (-m) does not name them, unless
    HARNESS_VISION_MODELS=1 (`make test-vision-models`, `tox -e vision-models`)."""
    import os

    if "vision_models" in (config.getoption("markexpr") or "") or os.environ.get("HARNESS_VISION_MODELS") == "1":
        return
    kept = [item for item in items if item.get_closest_marker("vision_models") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
