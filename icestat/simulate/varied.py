"""The varied simulated micrographs that models train on beside real ones.

Particle size, crowding, ice, dose, carbon film and contamination change from
one micrograph to the next, where real micrographs vary and the features could
otherwise latch onto one look: carbon film of any thickness from thin to thick,
with more or less ice over it, and every other micrograph low-pass filtered as
the denoised micrographs that public sets often share are. The shipped model
trains on 12 of them (``scripts/train_default_model.py``), and so does
``icestat train`` by default: a model trained on particle labels alone has
never seen carbon film or contamination, and takes the film for ice or particle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
from scipy import ndimage

from icestat.simulate.core import SimulatedMicrograph, simulate_micrograph
from icestat.simulate.params import SimulationParams

#: Seed of the shipped model's simulated training micrographs.
TRAINING_SEED = 2026
#: Gaussian low-pass (sigma, Å) drawn for the simulated micrographs shown as denoised ones.
DENOISED_SIGMA_A = (3.0, 12.0)


def varied_params(index: int, seed: int = TRAINING_SEED, side_px: int = 1024) -> SimulationParams:
    """The parameters of the `index`-th varied micrograph drawn from `seed`, `side_px` pixels a side.

    3-4 Å/px, 110-300 Å particles (40-160 per 1024x1024 px), 250-700 Å of
    ice, 20-60 e/Å², carbon film over none, 20 % or 40 % of the field (100-700 Å
    thick, under up to 0.6 of the ice), 0-2 contamination blobs.

    Examples
    --------
    >>> params = varied_params(0)
    >>> params.shape_px, 110 <= params.particle_diameter_A <= 300, params.carbon_fraction in (0.0, 0.2, 0.4)
    ((1024, 1024), True, True)
    """
    rng = np.random.default_rng([seed, index])
    return SimulationParams(
        shape_px=(side_px, side_px),
        pixel_size_A=float(rng.uniform(3.0, 4.0)),
        n_particles=int(rng.integers(40, 160) * (side_px / 1024) ** 2),
        particle_diameter_A=float(rng.uniform(110, 300)),
        ice_thickness_A=float(rng.uniform(250, 700)),
        carbon_fraction=float(rng.choice([0.0, 0.2, 0.4])),
        n_contamination=int(rng.integers(0, 3)),
        dose_e_per_A2=float(rng.uniform(20, 60)),
        carbon_thickness_A=float(rng.uniform(100, 700)),
        ice_on_carbon=float(rng.uniform(0, 0.6)),
    )


def denoised(simulated: SimulatedMicrograph, index: int, seed: int = TRAINING_SEED) -> SimulatedMicrograph:
    """The `index`-th varied micrograph as shown: low-pass filtered like a denoised one where `index` is odd."""
    if index % 2 == 0:
        return simulated
    sigma_A = np.random.default_rng([seed, index, 1]).uniform(*DENOISED_SIGMA_A)
    return replace(simulated, image=ndimage.gaussian_filter(simulated.image, sigma_A / simulated.params.pixel_size_A))


def varied_micrograph(index: int, seed: int = TRAINING_SEED, side_px: int = 1024) -> SimulatedMicrograph:
    """The `index`-th varied micrograph drawn from `seed` (:func:`varied_params`, :func:`denoised`)."""
    return denoised(simulate_micrograph(varied_params(index, seed, side_px), seed=[seed, index]), index, seed)


def varied_set(n: int, seed: int = TRAINING_SEED, side_px: int = 1024) -> Iterator[SimulatedMicrograph]:
    """The first `n` varied micrographs drawn from `seed`, one at a time (reproducible).

    With the defaults, those the shipped model trains on.
    """
    for index in range(n):
        yield varied_micrograph(index, seed, side_px)
