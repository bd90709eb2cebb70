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


OPT_IN = {"vision_models": "HARNESS_VISION_MODELS", "sequence_models": "HARNESS_SEQUENCE_MODELS"}
"""The opt-in groups (marker -> the variable that turns it on): tests/test_vision_models.py and
tests/test_sequence_models.py import named models and take minutes."""


def pytest_collection_modifyitems(config, items):
    """An opt-in group (OPT_IN) is left out of every run whose marker expression (-m) does not
    name it, unless its variable is 1 (`make test-vision-models`, `make test-sequence-models`,
    `tox -e vision-models`, `tox -e sequence-models`)."""
    import os

    expression = config.getoption("markexpr") or ""
    left_out = {marker for marker, variable in OPT_IN.items()
                if marker not in expression and os.environ.get(variable) != "1"}
    kept = [item for item in items if not any(item.get_closest_marker(marker) for marker in left_out)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
