"""Shared fixtures: the real data in ../shared/data, and small synthetic images."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from icestat._logging import LIBRARY_LOGGERS, PER_MICROGRAPH_LOGGERS

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ICESTAT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _icestat_logging_at_start():
    """How logging was set up before any test (or fixture of a wider scope) ran a CLI command: icestat's loggers and
    those of the libraries routed to them, each with its handlers, filters, level and propagation, and the warnings'
    display."""
    loggers = [logging.getLogger(name) for name in ("icestat", *LIBRARY_LOGGERS, *PER_MICROGRAPH_LOGGERS)]
    return ([(logger, logger.handlers[:], logger.filters[:], logger.level, logger.propagate) for logger in loggers],
            warnings.showwarning)


@pytest.fixture(autouse=True)
def _icestat_logging_as_before(_icestat_logging_at_start):
    """Undo what a CLI run in a test or a fixture does to logging (its own stderr handler, no propagation,
    warnings and the libraries' records routed)."""
    yield
    loggers, show_warning = _icestat_logging_at_start
    for logger, handlers, filters, level, propagate in loggers:
        logger.handlers[:] = handlers
        logger.filters[:] = filters
        logger.setLevel(level)
        logger.propagate = propagate
    warnings.showwarning = show_warning


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real labelled micrographs; skipped where absent, a failure under CI=true."""
    if (SHARED_DATA / "manifest.csv").is_file():
        return SHARED_DATA
    reason = f"real data not found at {SHARED_DATA} (set ICESTAT_SHARED_DATA to its folder)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run the tests on real data")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def labelled_micrograph(shared_data):
    """Loads a real micrograph with its labels, by a part of its name: ``labelled_micrograph("15_27_22")``."""
    from icestat.manifest import load_labelled, read_manifest

    manifest = read_manifest(shared_data / "manifest.csv")

    def load(name: str):
        return load_labelled(manifest[manifest["micrograph"].str.contains(name, regex=False)].iloc[0])

    return load


@pytest.fixture(scope="session")
def working_regions(labelled_micrograph):
    """Loads a region-labelled micrograph at the default working scale, by a part of its name.

    Returns ``(working, truth)``: the :class:`icestat.prepare.WorkingImage` and
    its class codes per working pixel (IGNORE where unlabelled).
    """
    from icestat.settings import SegmentationSettings
    from icestat.targets import working_classes

    def load(name: str):
        item = labelled_micrograph(name)
        working = SegmentationSettings().prepare(item.micrograph)
        inside = working.frame_border.inside(item.micrograph.shape)
        return working, working_classes(item.regions[inside], working.data.shape)

    return load


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def image(rng) -> np.ndarray:
    """A small float32 image with texture (not constant)."""
    return rng.normal(100.0, 10.0, size=(80, 96)).astype(np.float32)


@pytest.fixture(scope="session")
def large_particles():
    """A simulated micrograph of 7 particles of 300 Å at 1.6 Å/px on contamination-free ice (the simulation).

    Without their diameter the default model calls their dark cores contamination (about 3 % of it).
    """
    from icestat.simulate import SimulationParams, simulate_micrograph

    params = SimulationParams(shape_px=(1280, 1280), pixel_size_A=1.6, n_particles=7, particle_diameter_A=300.0,
                              carbon_fraction=0.0, n_contamination=0, ice_thickness_A=390.0)
    return simulate_micrograph(params, seed=1)
