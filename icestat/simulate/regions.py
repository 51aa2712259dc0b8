"""Where things are: the ice slab's thickness, the carbon film, and contamination blobs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icestat.simulate.fields import smooth_field
from icestat.simulate.params import SimulationParams

# Lattice spacings (Å) of hexagonal ice: (100), (002), (101), and how many
# in-plane directions of each a crystal shows (spots come in +/- pairs).
ICE_LATTICE_SPACINGS_A = (3.90, 3.67, 3.44)
_LATTICE_DIRECTIONS = (3, 1, 3)
_CARBON_EDGE_RAMP_A = 40.0
_EDGE_ROUGHNESS_A = 30.0


@dataclass
class Blob:
    """One contamination blob: centre (px), largest radius (px), crystalline or not."""

    y_px: float
    x_px: float
    max_radius_px: float
    crystalline: bool


def ice_thickness_A(params: SimulationParams, rng: np.random.Generator) -> np.ndarray:
    """Ice thickness per pixel: mean, a linear gradient and smooth variations; never below 10 %."""
    rows, cols = params.shape_px
    direction = rng.uniform(0, 2 * np.pi)
    y = np.linspace(-0.5, 0.5, rows, dtype=np.float32)[:, np.newaxis]
    x = np.linspace(-0.5, 0.5, cols, dtype=np.float32)[np.newaxis, :]
    ramp = params.ice_gradient * (np.cos(direction) * x + np.sin(direction) * y)
    variation = params.ice_thickness_variation * smooth_field(params.shape_px, max(rows, cols) / 6, rng)
    relative = np.maximum(1 + ramp + variation, 0.1)
    return (params.ice_thickness_A * relative).astype(np.float32)


def carbon_film(params: SimulationParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Carbon film covering about ``carbon_fraction`` of the image.

    Returns
    -------
    thickness_A : ndarray of float32
        Carbon thickness per pixel (0 off the film), rising over ~40 Å at the edge.
    signed_distance_px : ndarray of float32
        Distance to the film edge, positive on the film.
    geometry : dict
        How the edge was drawn (for the truth file).
    """
    shape = params.shape_px
    if params.carbon_fraction <= 0:
        return np.zeros(shape, np.float32), np.full(shape, -np.inf, np.float32), {"edge": "none"}
    edge = params.carbon_edge if params.carbon_edge != "random" else rng.choice(["curved", "straight"])
    direction = rng.uniform(0, 2 * np.pi)
    rows, cols = shape
    y = np.arange(rows, dtype=np.float32)[:, np.newaxis] - rows / 2
    x = np.arange(cols, dtype=np.float32)[np.newaxis, :] - cols / 2
    if edge == "straight":
        along_normal = np.cos(direction) * x + np.sin(direction) * y
    else:  # the film lies outside a round hole whose centre is off to one side
        hole_radius_px = params.hole_diameter_A / 2 / params.pixel_size_A
        cy, cx = -hole_radius_px * np.sin(direction), -hole_radius_px * np.cos(direction)
        along_normal = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
    roughness_px = _EDGE_ROUGHNESS_A / params.pixel_size_A * smooth_field(shape, max(rows, cols) / 10, rng)
    position = along_normal + roughness_px
    threshold = float(np.quantile(position[::4, ::4], 1 - params.carbon_fraction))
    signed_distance_px = (position - threshold).astype(np.float32)
    ramp = np.clip(signed_distance_px * params.pixel_size_A / _CARBON_EDGE_RAMP_A, 0, 1)
    thickness = (params.carbon_thickness_A * ramp).astype(np.float32)
    geometry = {
        "edge": str(edge),
        "direction_deg": float(np.rad2deg(direction)),
        "fraction": float(np.mean(signed_distance_px > 0)),
    }
    return thickness, signed_distance_px, geometry


def contamination(
    params: SimulationParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[Blob]]:
    """Contamination blobs: thick, irregular, some crystalline.

    Returns
    -------
    thickness_A : ndarray of float32
        Thickness of contaminating ice per pixel (a dome over each blob).
    lattice_phase : ndarray of float32
        Extra phase (radians) of the crystal lattices of crystalline blobs.
    blobs : list of Blob
    """
    shape = params.shape_px
    thickness = np.zeros(shape, np.float32)
    lattice_phase = np.zeros(shape, np.float32)
    blobs = []
    for _ in range(params.n_contamination):
        radius_px = params.contamination_diameter_A / 2 / params.pixel_size_A * rng.uniform(0.6, 1.4)
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        harmonics = [(n, rng.uniform(0, 0.12), rng.uniform(0, 2 * np.pi)) for n in range(2, 6)]
        max_radius_px = radius_px * (1 + sum(a for _, a, _ in harmonics))
        crystalline = bool(rng.uniform() < params.crystalline_fraction)
        box = _box(cy, cx, max_radius_px, shape)
        if box is None:
            continue
        ys, xs = np.ogrid[box[0]:box[1], box[2]:box[3]]
        dy, dx = (ys - cy).astype(np.float32), (xs - cx).astype(np.float32)
        angle = np.arctan2(dy, dx)
        outline = radius_px * (1 + sum(a * np.cos(n * angle + phase) for n, a, phase in harmonics))
        inside = np.clip(1 - (dy**2 + dx**2) / outline**2, 0, None)
        dome = params.contamination_thickness_A * np.sqrt(inside)
        region = thickness[box[0]:box[1], box[2]:box[3]]
        np.maximum(region, dome.astype(np.float32), out=region)
        if crystalline:
            lattice = _ice_lattice(dy, dx, params.pixel_size_A, rng)
            lattice_phase[box[0]:box[1], box[2]:box[3]] += (lattice * (inside > 0)).astype(np.float32)
        blobs.append(Blob(float(cy), float(cx), float(max_radius_px), crystalline))
    return thickness, lattice_phase, blobs


def _ice_lattice(dy: np.ndarray, dx: np.ndarray, pixel_size_A: float, rng: np.random.Generator) -> np.ndarray:
    """Phase of a hexagonal-ice crystal: plane waves at the lattice spacings, in a random orientation."""
    orientation = rng.uniform(0, np.pi)
    phase = np.zeros(np.broadcast_shapes(dy.shape, dx.shape), np.float32)
    for spacing_A, n_directions in zip(ICE_LATTICE_SPACINGS_A, _LATTICE_DIRECTIONS):
        if spacing_A < 2 * pixel_size_A:  # beyond Nyquist: the detector cannot record it
            continue
        for i in range(n_directions):
            angle = orientation + i * np.pi / 3 + (np.pi / 6 if n_directions == 1 else 0)
            cycles_per_px = pixel_size_A / spacing_A
            wave = 2 * np.pi * cycles_per_px * (np.cos(angle) * dx + np.sin(angle) * dy) + rng.uniform(0, 2 * np.pi)
            phase += np.float32(0.4) * np.cos(wave).astype(np.float32)
    return phase


def _box(cy: float, cx: float, radius_px: float, shape: tuple[int, int]):
    top, bottom = max(0, int(cy - radius_px)), min(shape[0], int(np.ceil(cy + radius_px)) + 1)
    left, right = max(0, int(cx - radius_px)), min(shape[1], int(np.ceil(cx + radius_px)) + 1)
    if top >= bottom or left >= right:
        return None
    return top, bottom, left, right
