"""Shared pytest fixtures for the funcgrad test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# The real MNIST files live beside the checkout, never inside it.
SHARED_MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Directory of the real MNIST files; skips when absent, but fails if ``CI`` is set."""
    if SHARED_MNIST_DIR.is_dir():
        return SHARED_MNIST_DIR
    message = f"real MNIST data not found at {SHARED_MNIST_DIR}"
    # On CI the data is supposed to be provisioned, so a silent skip would hide a broken setup.
    if os.environ.get("CI"):
        pytest.fail(f"{message} (required because CI is set)")
    pytest.skip(message)
