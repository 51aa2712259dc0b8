"""The classical baseline: Laplacian-of-Gaussian blob picking with no learning, as RELION's LoG picker does.

The working image is filtered by scale-normalised Laplacians of Gaussians
tuned to particles from ``0.8`` to ``1.2`` times the given diameter (sigma =
radius / sqrt 2, the width that answers most strongly to a disk of that
radius), and the strongest answer over the scales is kept per pixel. Its
local maxima at least one radius apart and at least ``threshold_sd`` robust
standard deviations above the median are the picks, scored by that height.
Nothing tells ice from carbon or contamination: every blob of the right size
is a particle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from skimage.feature import peak_local_max

from icestat.coords import pick_table
from icestat.candidates import near_edge_at, robust_z
from icestat.prepare import WorkingImage
from icestat.scale_space import blob_response

#: Particle diameters tried, as fractions of the given one.
DIAMETER_RANGE = (0.8, 1.0, 1.2)


def log_response(image: np.ndarray, radius_px: float, dark_particles: bool = True) -> np.ndarray:
    """Strongest scale-normalised LoG answer over :data:`DIAMETER_RANGE`, in robust standard deviations.

    Parameters
    ----------
    image : ndarray (h, w)
    radius_px : float
        Particle radius in the image's pixels.
    dark_particles : bool
        Particles darker than the ice around them (as in most micrographs);
        False for bright ones.

    Returns
    -------
    ndarray (h, w) of float32
        Positive at the centres of blobs of the particles' polarity.
    """
    sign = -1.0 if dark_particles else 1.0   # blob_response answers bright blobs positively
    return robust_z(np.max([sign * blob_response(image, sigma)
                            for sigma in np.multiply(DIAMETER_RANGE, radius_px / np.sqrt(2))], axis=0))


def log_pick(working: WorkingImage, diameter_px: float, name: str = "", threshold_sd: float = 1.5,
             dark_particles: bool = True) -> pd.DataFrame:
    """Pick the blobs of a particle's size in a working image.

    Parameters
    ----------
    working : WorkingImage
        The prepared micrograph (:meth:`icestat.settings.SegmentationSettings.prepare`).
    diameter_px : float
        Particle diameter in pixels of the original micrograph.
    name : str
        Micrograph name for the table.
    threshold_sd : float
        Lowest LoG answer kept, in robust standard deviations.
    dark_particles : bool
        See :func:`log_response`.

    Returns
    -------
    DataFrame
        Pick table (:mod:`icestat.coords`) in original pixels, highest score first;
        ``score`` = answer / (1 + answer), in [0, 1).
    """
    radius_working_px = diameter_px / 2 / float(np.mean(working.scale))
    response = log_response(working.data, radius_working_px, dark_particles)
    rows, cols = peak_local_max(response, min_distance=max(1, int(round(radius_working_px))),
                                threshold_abs=threshold_sd, exclude_border=False).T
    y_px, x_px = working.to_original_px(rows, cols)
    inside = ~near_edge_at(y_px, x_px, working.original_shape, diameter_px / 2, working.frame_border)
    height = response[rows, cols][inside]
    order = np.argsort(-height, kind="stable")
    return pick_table(x_px[inside][order], y_px[inside][order], score=height[order] / (1 + height[order]),
                      diameter_px=diameter_px, micrograph=name)
