"""Training targets: class codes per pixel from whatever labels a micrograph has, and class fractions per patch.

Labels come as region masks (class codes), particle masks, particle
coordinates (turned into disks of the particle diameter) or a simulator's
ground truth; all become one image of class codes (:mod:`icestat.classes`).

Particle labels alone say where particles are, not where the ice is: the
rest of such a micrograph may hold carbon film, contamination or the frame
border of the camera. Particles sit in ice, so only the background near a
particle is taught as ice; what lies farther is left unlabelled, so that an
unlabelled carbon corner is never taught as ice.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.draw import disk
from skimage.measure import regionprops

from icestat.classes import CLASS_NAMES, ICE, IGNORE, PARTICLE
from icestat.features.grid import PatchGrid
from icestat.manifest import LabelledMicrograph, resize_labels

N_CLASSES = len(CLASS_NAMES)
#: Without region labels, background counts as ice up to this many particle diameters from a particle's edge.
ICE_REACH_DIAMETERS = 1.0


def pixel_classes(item: LabelledMicrograph) -> np.ndarray:
    """Class codes per pixel of a labelled micrograph (uint8, its shape).

    Region masks win; otherwise particle-mask pixels are particles; otherwise
    disks of the particle diameter around the true centres are. Without region
    masks, the background within ``ICE_REACH_DIAMETERS`` particle diameters of
    a particle is ice and the rest is ``IGNORE`` (see the module's notes).

    Raises
    ------
    ValueError
        If the micrograph has no labels, or coordinates without a diameter.
    """
    shape = item.micrograph.shape
    if item.regions is not None:
        return item.regions.astype(np.uint8)
    if item.particle_mask is not None:
        particles = np.asarray(item.particle_mask, dtype=bool)
        diameter_px = item.particle_diameter_px or _median_blob_diameter_px(particles)
        return ice_near_particles(particles, diameter_px)
    if item.picks is not None:
        diameters = item.picks["diameter_px"].fillna(item.particle_diameter_px or np.nan).to_numpy(float)
        if np.isnan(diameters).any():
            raise ValueError(f"{item.micrograph.source}: particle coordinates need a diameter (particle_diameter_px)")
        particles = np.zeros(shape, dtype=bool)
        for y, x, diameter in zip(item.picks["y_px"], item.picks["x_px"], diameters):
            particles[disk((y, x), diameter / 2, shape=shape)] = True
        return ice_near_particles(particles, float(np.median(diameters)) if len(diameters) else 0.0)
    raise ValueError(f"{item.micrograph.source}: no labels (regions, particle_mask or coords)")


def ice_near_particles(particles: np.ndarray, diameter_px: float,
                       reach_diameters: float = ICE_REACH_DIAMETERS) -> np.ndarray:
    """Class codes from particle pixels alone: particles, ice near them, ``IGNORE`` elsewhere.

    Parameters
    ----------
    particles : ndarray of bool
        True on particle pixels.
    diameter_px : float
        Particle diameter in pixels.
    reach_diameters : float
        Background up to this many diameters from a particle pixel is ice.

    Returns
    -------
    ndarray of uint8, the shape of `particles`

    Examples
    --------
    >>> import numpy as np
    >>> particles = np.zeros((1, 12), dtype=bool); particles[0, :2] = True
    >>> ice_near_particles(particles, diameter_px=2, reach_diameters=2)[0].tolist()
    [1, 1, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]
    """
    codes = np.full(particles.shape, IGNORE, dtype=np.uint8)
    if particles.any():
        # coarse steps keep the distance transform cheap on a 4096x4096 mask
        step = max(1, int(diameter_px * reach_diameters / 8))
        coarse = ndimage.distance_transform_edt(~particles[::step, ::step]) * step
        near = np.repeat(np.repeat(coarse <= diameter_px * reach_diameters, step, 0), step, 1)
        codes[near[:particles.shape[0], :particles.shape[1]]] = ICE
    codes[particles] = PARTICLE
    return codes


def _median_blob_diameter_px(particles: np.ndarray) -> float:
    """Median equivalent diameter of the connected blobs of a particle mask (0 when there are none)."""
    blobs = regionprops(ndimage.label(particles)[0])
    return float(np.median([blob.equivalent_diameter_area for blob in blobs])) if blobs else 0.0


def working_classes(codes: np.ndarray, working_shape: tuple[int, int]) -> np.ndarray:
    """Class codes resized (nearest neighbour) to the working image."""
    return resize_labels(np.asarray(codes, dtype=np.uint8), working_shape)


def patch_fractions(codes: np.ndarray, grid: PatchGrid) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of each class in each patch, and the labelled fraction of each patch.

    Parameters
    ----------
    codes : ndarray of uint8
        Class codes of the image the grid covers.
    grid : PatchGrid

    Returns
    -------
    fractions : ndarray (rows, cols, 4) of float32
        Among the patch's labelled (not ``IGNORE``) pixels; zeros where none is.
    labelled : ndarray (rows, cols) of float32
        Fraction of the patch's pixels that are labelled.

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.zeros((4, 8), dtype=np.uint8); codes[:, 4:] = 2
    >>> fractions, labelled = patch_fractions(codes, PatchGrid((4, 8), 4, 2))
    >>> fractions[0, :, 2].tolist()
    [0.0, 0.5, 1.0]
    """
    if codes.shape != tuple(grid.image_shape):
        raise ValueError(f"labels of shape {codes.shape} do not match the grid's image {grid.image_shape}")
    p = grid.patch_px
    rows, cols = np.ix_(grid.row_starts, grid.col_starts)
    counts = np.empty(grid.shape + (N_CLASSES,), dtype=np.float64)
    for code in range(N_CLASSES):
        table = np.pad((codes == code).cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # summed-area table
        counts[..., code] = table[rows + p, cols + p] - table[rows, cols + p] - table[rows + p, cols] + table[rows, cols]
    n_labelled = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = np.where(n_labelled[..., None] > 0, counts / n_labelled[..., None], 0.0)
    return fractions.astype(np.float32), (n_labelled / (p * p)).astype(np.float32)
