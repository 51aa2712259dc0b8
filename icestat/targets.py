"""Training targets: class codes per pixel from whatever labels a micrograph has, and class fractions per patch.

Labels come as region masks (class codes), particle masks, particle
coordinates (turned into disks of the particle diameter) or a simulator's
ground truth; all become one image of class codes (:mod:`icestat.classes`).
"""

from __future__ import annotations

import numpy as np
from skimage.draw import disk

from icestat.classes import CLASS_NAMES, ICE, PARTICLE
from icestat.features.grid import PatchGrid
from icestat.manifest import LabelledMicrograph, resize_labels

N_CLASSES = len(CLASS_NAMES)


def pixel_classes(item: LabelledMicrograph) -> np.ndarray:
    """Class codes per pixel of a labelled micrograph (uint8, its shape).

    Region masks win; otherwise particle-mask pixels are particles and the rest
    ice; otherwise disks of the particle diameter around the true centres are
    particles and the rest ice.

    Raises
    ------
    ValueError
        If the micrograph has no labels, or coordinates without a diameter.
    """
    shape = item.micrograph.shape
    if item.regions is not None:
        return item.regions.astype(np.uint8)
    codes = np.full(shape, ICE, dtype=np.uint8)
    if item.particle_mask is not None:
        codes[item.particle_mask] = PARTICLE
        return codes
    if item.picks is not None:
        diameters = item.picks["diameter_px"].fillna(item.particle_diameter_px or np.nan).to_numpy(float)
        if np.isnan(diameters).any():
            raise ValueError(f"{item.micrograph.source}: particle coordinates need a diameter (particle_diameter_px)")
        for y, x, diameter in zip(item.picks["y_px"], item.picks["x_px"], diameters):
            rows, cols = disk((y, x), diameter / 2, shape=shape)
            codes[rows, cols] = PARTICLE
        return codes
    raise ValueError(f"{item.micrograph.source}: no labels (regions, particle_mask or coords)")


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
