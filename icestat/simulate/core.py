"""Simulate one micrograph, or a reproducible set, with its ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pandas as pd

from icestat.classes import CARBON, CONTAMINATION, PARTICLE
from icestat.coords import pick_table
from icestat.optics import CTFParams
from icestat.simulate import imaging, particles, regions
from icestat.simulate.params import SimulationParams


@dataclass(frozen=True, eq=False)
class SimulatedMicrograph:
    """A simulated micrograph and what is known about it.

    Attributes
    ----------
    image : ndarray of float32
        Electron counts per pixel.
    labels : ndarray of int8
        Class codes (:mod:`icestat.classes`): 0 ice, 1 particle, 2 carbon, 3 contamination.
    picks : DataFrame
        True particle centres (pick table, ``score`` 1, ``diameter_px`` nominal).
    ctf : CTFParams
        The CTF the image was formed with.
    params : SimulationParams
        What was asked for.
    truth : dict
        Every value drawn for this micrograph (JSON-ready).
    expected_intensity : ndarray of float32 or None
        Noise-free intensity relative to vacuum, when asked for.
    """

    image: np.ndarray
    labels: np.ndarray
    picks: pd.DataFrame
    ctf: CTFParams
    params: SimulationParams
    truth: dict = field(default_factory=dict)
    expected_intensity: np.ndarray | None = None


def simulate_micrograph(
    params: SimulationParams = SimulationParams(),
    seed: int | np.random.SeedSequence | None = 0,
    *,
    keep_expected_intensity: bool = False,
) -> SimulatedMicrograph:
    """Simulate one micrograph.

    Parameters
    ----------
    params : SimulationParams
        What to simulate.
    seed : int or SeedSequence
        The same seed and parameters give the same image, bit for bit.
    keep_expected_intensity : bool
        Also return the noise-free intensity.

    Returns
    -------
    SimulatedMicrograph

    Examples
    --------
    >>> sim = simulate_micrograph(SimulationParams(shape_px=(256, 256), n_particles=3, particle_diameter_A=60))
    >>> sim.image.shape, sim.labels.dtype, len(sim.picks)
    ((256, 256), dtype('int8'), 3)
    """
    rng = np.random.default_rng(seed)
    ctf = _draw_ctf(params, rng)

    ice_A = regions.ice_thickness_A(params, rng)
    carbon_A, carbon_distance_px, carbon_geometry = regions.carbon_film(params, rng)
    contamination_A, lattice_phase, blobs = regions.contamination(params, rng)
    on_carbon = carbon_distance_px > 0
    ice_A = np.where(on_carbon, ice_A * params.ice_on_carbon, ice_A).astype(np.float32)

    species = particles.make_species(params, rng)
    centres_px = particles.place_particles(params, _free_for_particles(params, carbon_distance_px, blobs), rng)
    protein_A, footprint, kinds = particles.render_particles(params, centres_px, species, rng)

    textures = imaging.ice_texture(ice_A, params.pixel_size_A, rng) + lattice_phase
    if params.carbon_fraction > 0:
        textures += imaging.carbon_texture(carbon_A, params.pixel_size_A, rng)
    if params.debris_phase_sd_rad > 0:
        textures += imaging.debris_texture(ice_A, params, rng)
    phase = imaging.phase_of(params, protein_A, carbon_A, textures)
    intensity = (1 + imaging.transfer(phase, params, ctf)) * imaging.attenuation(params, ice_A, carbon_A, contamination_A)
    image = imaging.detect(intensity, params, rng)

    labels = np.zeros(params.shape_px, np.int8)
    labels[footprint] = PARTICLE
    labels[on_carbon] = CARBON
    labels[contamination_A > 0] = CONTAMINATION

    picks = pick_table(
        centres_px[:, 1], centres_px[:, 0], score=1.0, diameter_px=params.particle_diameter_A / params.pixel_size_A
    )
    truth = {
        "defocus_u_A": ctf.defocus_u_A,
        "defocus_v_A": ctf.defocus_v_A,
        "astigmatism_angle_deg": ctf.astigmatism_angle_deg,
        "n_particles_placed": int(len(centres_px)),
        "particle_species": np.bincount(kinds, minlength=params.n_species).tolist(),
        "mean_ice_thickness_A": float(ice_A.mean()),
        "carbon": carbon_geometry,
        "contamination": [vars(blob) for blob in blobs],
        "class_fractions": {
            name: float(np.mean(labels == code))
            for code, name in ((0, "ice"), (PARTICLE, "particle"), (CARBON, "carbon"), (CONTAMINATION, "contamination"))
        },
    }
    return SimulatedMicrograph(
        image=image,
        labels=labels,
        picks=picks,
        ctf=ctf,
        params=params,
        truth=truth,
        expected_intensity=intensity if keep_expected_intensity else None,
    )


def simulate_set(
    n: int, params: SimulationParams = SimulationParams(), seed: int = 0
) -> Iterator[SimulatedMicrograph]:
    """Yield `n` micrographs with independent seeds spawned from `seed` (reproducible, one at a time)."""
    for child in np.random.SeedSequence(seed).spawn(n):
        yield simulate_micrograph(params, child)


def _draw_ctf(params: SimulationParams, rng: np.random.Generator) -> CTFParams:
    defocus_A = rng.uniform(*params.defocus_range_um) * 1e4
    half_astigmatism_A = params.astigmatism_um * 1e4 / 2
    return CTFParams(
        defocus_u_A=float(defocus_A + half_astigmatism_A),
        defocus_v_A=float(defocus_A - half_astigmatism_A),
        astigmatism_angle_deg=float(rng.uniform(0, 180)),
        voltage_kV=params.voltage_kV,
        cs_mm=params.cs_mm,
        amplitude_contrast=params.amplitude_contrast,
        b_factor_A2=params.b_factor_A2,
    )


def _free_for_particles(params: SimulationParams, carbon_distance_px: np.ndarray, blobs) -> np.ndarray:
    """Where a particle's centre may go: a radius away from carbon, contamination and the image edge."""
    radius_px = params.particle_diameter_A / params.pixel_size_A / 2
    free = carbon_distance_px < -radius_px
    margin = int(np.ceil(radius_px))
    free[:margin] = free[-margin:] = False
    free[:, :margin] = free[:, -margin:] = False
    rows, cols = np.ogrid[: params.shape_px[0], : params.shape_px[1]]
    for blob in blobs:
        free &= (rows - blob.y_px) ** 2 + (cols - blob.x_px) ** 2 > (blob.max_radius_px + radius_px) ** 2
    return free
