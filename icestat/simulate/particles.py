"""Particles: random 3D densities (Gaussian mixtures), placed in the ice and projected in random orientations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from icestat.simulate.params import SimulationParams

_GAUSSIANS_PER_SPECIES = 40
# A pixel belongs to a particle where its projected thickness exceeds this fraction of the particle's peak.
FOOTPRINT_FRACTION = 0.1


@dataclass(frozen=True)
class Species:
    """A particle's 3D density as a mixture of isotropic Gaussians (Å, Å, Å³)."""

    centres_A: np.ndarray  # (n, 3)
    sigmas_A: np.ndarray  # (n,)
    volumes_A3: np.ndarray  # (n,) volume each Gaussian holds; they add up to the particle's volume


def make_species(params: SimulationParams, rng: np.random.Generator) -> list[Species]:
    """Draw ``n_species`` random densities of the nominal diameter.

    Each is a cloud of Gaussians filling an ellipsoid whose long axis is the
    diameter and whose short axes are ``1 - particle_elongation`` to 1 times it.
    """
    species = []
    radius_A = params.particle_diameter_A / 2
    for _ in range(params.n_species):
        axes = radius_A * np.array([1.0, *rng.uniform(1 - params.particle_elongation, 1.0, size=2)])
        sigmas = rng.uniform(radius_A / 8, radius_A / 4, size=_GAUSSIANS_PER_SPECIES)
        directions = rng.standard_normal((_GAUSSIANS_PER_SPECIES, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        depth = rng.uniform(0, 1, size=(_GAUSSIANS_PER_SPECIES, 1)) ** (1 / 3)  # uniform in the ball
        centres = directions * depth * np.maximum(axes - sigmas[:, np.newaxis], 0.2 * axes)
        weights = rng.uniform(0.5, 1.5, size=_GAUSSIANS_PER_SPECIES)
        volume_A3 = 4 / 3 * np.pi * np.prod(axes)
        species.append(Species(centres, sigmas, volume_A3 * weights / weights.sum()))
    return species


def place_particles(
    params: SimulationParams, free_of_particles: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Choose particle centres (px, rows x columns) by random sequential addition.

    Parameters
    ----------
    params : SimulationParams
        Number, diameter and allowed overlap.
    free_of_particles : ndarray of bool
        True where a particle's centre may go (in ice, away from carbon,
        contamination and the image edge).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n, 2)
        ``(y_px, x_px)`` of each particle placed; at most ``n_particles``.
    """
    diameter_px = params.particle_diameter_A / params.pixel_size_A
    min_distance_px = (1 - params.max_overlap) * diameter_px
    candidates = np.argwhere(free_of_particles[::2, ::2]) * 2  # a coarse grid is plenty
    if params.n_particles == 0 or len(candidates) == 0:
        return np.zeros((0, 2))
    order = rng.permutation(len(candidates))[: 30 * params.n_particles]
    jittered = candidates[order] + rng.uniform(0, 2, size=(len(order), 2))
    placed = np.empty((params.n_particles, 2))
    n_placed = 0
    for candidate in jittered:
        if n_placed and np.min(np.sum((placed[:n_placed] - candidate) ** 2, axis=1)) < min_distance_px**2:
            continue
        placed[n_placed] = candidate
        n_placed += 1
        if n_placed == params.n_particles:
            break
    return placed[:n_placed]


def render_particles(
    params: SimulationParams,
    centres_px: np.ndarray,
    species: list[Species],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project every particle, each in a random orientation.

    Returns
    -------
    thickness_A : ndarray of float32
        Projected protein thickness per pixel (Å).
    footprint : ndarray of bool
        Pixels where a particle's thickness exceeds ``FOOTPRINT_FRACTION`` of its peak.
    species_index : ndarray of int
        Which species each particle is.
    """
    shape = params.shape_px
    pixel_A = params.pixel_size_A
    thickness = np.zeros(shape, np.float32)
    footprint = np.zeros(shape, bool)
    kinds = rng.integers(0, len(species), size=len(centres_px))
    rotations = Rotation.random(max(len(centres_px), 1), rng=rng)
    for (cy, cx), kind, rotation in zip(centres_px, kinds, rotations):
        density = species[kind]
        xyz = rotation.apply(density.centres_A)
        reach_px = int(np.ceil((np.max(np.abs(xyz[:, :2])) + 3 * density.sigmas_A.max()) / pixel_A))
        top, bottom = max(0, int(cy) - reach_px), min(shape[0], int(cy) + reach_px + 1)
        left, right = max(0, int(cx) - reach_px), min(shape[1], int(cx) + reach_px + 1)
        rows_A = ((np.arange(top, bottom) - cy) * pixel_A)[np.newaxis, :]
        cols_A = ((np.arange(left, right) - cx) * pixel_A)[np.newaxis, :]
        two_var = 2 * density.sigmas_A[:, np.newaxis] ** 2
        along_y = np.exp(-((rows_A - xyz[:, 1:2]) ** 2) / two_var)  # (n, rows)
        along_x = np.exp(-((cols_A - xyz[:, 0:1]) ** 2) / two_var)  # (n, cols)
        # each Gaussian projects to a 2D Gaussian holding its volume: thickness in Å
        height_A = density.volumes_A3 / (np.pi * two_var[:, 0])
        patch = ((along_y * height_A[:, np.newaxis]).T @ along_x).astype(np.float32)
        thickness[top:bottom, left:right] += patch
        footprint[top:bottom, left:right] |= patch > FOOTPRINT_FRACTION * patch.max()
    return thickness, footprint, kinds
