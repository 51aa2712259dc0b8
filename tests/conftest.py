"""Shared fixtures: the real data in ../shared/data, and small synthetic images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ICESTAT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real labelled micrographs; skipped where absent, a failure under CI=true."""
    if (SHARED_DATA / "manifest.csv").is_file():
        return SHARED_DATA
    reason = f"real data not found at {SHARED_DATA} (set ICESTAT_SHARED_DATA to its folder)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run the tests on real data")
    pytest.skip(reason)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def image(rng) -> np.ndarray:
    """A small float32 image with texture (not constant)."""
    return rng.normal(100.0, 10.0, size=(80, 96)).astype(np.float32)
