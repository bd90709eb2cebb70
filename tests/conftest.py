"""Shared fixtures of the unit tests."""

from __future__ import annotations

import pytest

from harness.adapters import get_backend

FRAMEWORK_BACKENDS = ("keras", "chainer", "torch")


def backend_or_skip(name: str):
    """The framework's backend, or a pytest skip that says why it cannot run here."""
    backend = get_backend(name)
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return backend
