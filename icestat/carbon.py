"""Carbon film as whole regions: bounded by a hole's rim, or the large regions completed.

The patch classifier and the boundary refiner judge carbon from what they see
within a few hundred ångströms, so on a real micrograph they find most of a
carbon film but leave holes and gaps in it, and they call carbon in scattered
dark blotches of ice (crowded particles, darker corners). Carbon film is not
like that: beyond the edge of a hole it covers a large, contiguous part of the
field of view. :func:`consolidate_carbon` turns the per-pixel decision into one
about regions:

1. connected carbon regions smaller than ``MIN_CARBON_FRACTION`` of the
   micrograph are not carbon: their carbon probability goes to the other
   classes;
2. the regions that are left teach a per-micrograph model what this
   micrograph's carbon looks like: a Gaussian of the local mean and standard
   deviation of the working image (smoothed over half a patch) over the core of
   those regions (eroded by a quarter patch, away from their uncertain edges),
   against a Gaussian of the same over the pixels called ice. Pixels that the
   model finds more likely carbon than ice, connected to a kept region, join
   it; a small opening removes threads, and holes are filled;
3. where the film's edge is a hole's rim seen in the image
   (:func:`icestat.rim.find_hole_rim`), the rim decides instead: the film is
   everything on its far side, plus what steps 1-2 made carbon within a
   quarter patch of it (the edge's bright or dark fringe, which the classifier
   sees better than a circle does). Carbon elsewhere is dropped, however
   large, and slivers of film too thin to be a region are kept.

Learning the look of carbon from the micrograph itself, rather than from
training data, follows the idea of :mod:`icestat.adapt`: whatever grey level,
contrast or thickness this carbon has, it is the same film on both sides of
a gap. Contamination is left as the classifier called it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from icestat.classes import CARBON, CONTAMINATION, ICE
from icestat.rim import find_hole_rim
from icestat.scale_space import gaussian_smoothed

#: Connected carbon regions below this fraction of the micrograph's pixels are not carbon film.
MIN_CARBON_FRACTION = 0.02
#: The opening that removes threads from the grown regions, in iterations of a 3x3 cross.
OPENING_ITERATIONS = 3
#: Fewer pixels than this in a class leave the per-micrograph model unfitted.
MIN_MODEL_PX = 50


def consolidate_carbon(image: np.ndarray, probabilities: np.ndarray, patch_px: int) -> np.ndarray:
    """Class probabilities with carbon decided per region (see the module's notes).

    Parameters
    ----------
    image : ndarray (h, w)
        The working image.
    probabilities : ndarray (4, h, w)
        Class probabilities per working pixel (:func:`icestat.segment.pixel_probabilities`).
    patch_px : int
        Side of the classifier's patches, in working pixels: the image is
        smoothed over half of it, the regions' cores are eroded by a quarter,
        and the rim is looked for as :func:`icestat.rim.find_hole_rim` says.

    Returns
    -------
    ndarray (4, h, w) of float32
        A copy in which the film (a hole rim's far side, or the large regions
        as completed) is carbon with probability 1, and the rest of what was
        called carbon has no carbon probability (the other classes renormalised).

    Examples
    --------
    A carbon blotch of 1 % of the image is not carbon film:

    >>> probabilities = np.zeros((4, 100, 100), np.float32)
    >>> probabilities[0] = 0.7; probabilities[1] = 0.3
    >>> probabilities[:, :10, :10] = np.array([0.3, 0.1, 0.6, 0.0])[:, None, None]
    >>> labels = consolidate_carbon(np.zeros((100, 100)), probabilities, 32).argmax(axis=0)
    >>> int((labels == 2).sum())
    0
    """
    probabilities = np.array(probabilities, dtype=np.float32)
    labels = probabilities.argmax(axis=0)
    called = labels == CARBON
    if not called.any():
        return probabilities
    film = _large_regions_grown(image, called, labels == ICE, patch_px)
    rim = find_hole_rim(image, probabilities[CARBON], patch_px)
    if rim is not None:
        on_film_side = rim.film(labels.shape)
        film = on_film_side | (film & ndimage.binary_dilation(on_film_side, iterations=_quarter(patch_px)))
    film &= labels != CONTAMINATION
    dropped = called & ~film
    probabilities[CARBON][dropped] = 0.0
    probabilities[:, dropped] /= np.maximum(probabilities[:, dropped].sum(axis=0), 1e-12)
    probabilities[:, film] = 0.0
    probabilities[CARBON][film] = 1.0
    return probabilities


def _large_regions_grown(image: np.ndarray, called: np.ndarray, ice: np.ndarray, patch_px: int) -> np.ndarray:
    """The carbon regions of at least ``MIN_CARBON_FRACTION`` of the image, completed by :func:`_grow`."""
    regions, n_regions = ndimage.label(called)
    areas = np.bincount(regions.ravel(), minlength=n_regions + 1)[1:]
    kept = np.isin(regions, 1 + np.flatnonzero(areas >= MIN_CARBON_FRACTION * called.size))
    return _grow(image, kept, ice, patch_px)


def _quarter(patch_px: int) -> int:
    """A quarter patch, at least one pixel: the uncertain margin of the classifier's carbon."""
    return max(1, patch_px // 4)


def _grow(image: np.ndarray, carbon: np.ndarray, ice: np.ndarray, patch_px: int) -> np.ndarray:
    """Carbon regions completed by the per-micrograph model of their look (``carbon`` where it cannot be fitted)."""
    core = ndimage.binary_erosion(carbon, iterations=_quarter(patch_px))
    if core.sum() < MIN_MODEL_PX or ice.sum() < MIN_MODEL_PX:
        return carbon
    look = local_mean_and_sd(image, patch_px / 2)
    more_like_carbon = _log_likelihood(look, look[core]) > _log_likelihood(look, look[ice])
    joined, _ = ndimage.label(more_like_carbon | carbon)
    touching = np.unique(joined[carbon])
    grown = np.isin(joined, touching[touching > 0])
    grown = ndimage.binary_opening(grown, iterations=OPENING_ITERATIONS) | carbon
    return ndimage.binary_fill_holes(grown)


def local_mean_and_sd(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian-weighted local mean and standard deviation of an image, ``(h, w, 2)`` float32.

    Examples
    --------
    >>> look = local_mean_and_sd(np.full((20, 20), 3.0), 2.0)
    >>> look[10, 10].round(6).tolist()
    [3.0, 0.0]
    """
    image = np.asarray(image, dtype=np.float64)
    centre = float(np.median(image[::8, ::8]))   # the spread computed about it: little to cancel below
    centred = image - centre
    mean, mean_square = gaussian_smoothed(np.stack([centred, centred**2]), sigma_px)   # one transform of both
    return np.stack([mean + centre, np.sqrt(np.maximum(mean_square - mean**2, 0.0))], axis=-1).astype(np.float32)


def _log_likelihood(points: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Log density (up to a shared constant) of `points` under a Gaussian fitted to `sample` ``(n, d)``."""
    centre = sample.mean(axis=0)
    covariance = np.cov(sample, rowvar=False) + 1e-3 * np.eye(sample.shape[1])
    offsets = points - centre
    mahalanobis = np.sum((offsets @ np.linalg.inv(covariance)) * offsets, axis=-1)
    return -0.5 * (mahalanobis + np.linalg.slogdet(covariance)[1])
