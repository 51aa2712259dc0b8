"""The rim of a hole in the carbon film: a circular edge with the film outside it.

Most micrographs are taken in the holes of a holey carbon film (Quantifoil,
C-flat), and where the film shows, its edge is the rim of the hole: an arc of a
circle, far sharper than anything the patch classifier can localise, with
film on the outside and ice in the hole. :func:`find_hole_rim` looks for that
arc among the long curves of strong edges in the image near where the
classifier called carbon (Canny edges, a circle fitted by RANSAC), and accepts
it only when the classifier agrees: carbon probability high on one side of the
arc and low on the other, and only when a strong edge follows the circle along
most of its way across the image (a wavy or torn film edge is not a hole's
rim, and the region rule of :mod:`icestat.carbon` serves it better). The arc's
shape comes from the image; its exact position is moved by up to half a patch
to where the classifier's carbon probability crosses one half along it.

The film may lie inside the circle only when the circle is wider than the
micrograph (a nearly straight edge, which a fit can curve either way): a
compact dark object inside a circle is contamination, not film.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.feature import canny
from skimage.measure import CircleModel, ransac

#: Edge pixels are the strongest this fraction of the image's Canny gradients.
EDGE_QUANTILE = 0.98
#: An edge pixel this close to the circle, in working pixels, is on the arc.
ARC_RESIDUAL_PX = 2.0
#: Edge curves spanning fewer patch sides than this are not a rim.
MIN_CURVE_PATCHES = 2
#: Most circles RANSAC draws (it stops sooner once an arc explains most of the long curves).
RANSAC_TRIALS = 500
#: Fewest edge pixels on the arc, in patch sides: shorter arcs are too easily chance.
MIN_ARC_PATCHES = 4
#: Least difference in mean carbon probability between the film's side and the hole's.
MIN_CONTRAST = 0.5
#: Least fraction of the circle inside the image that a strong edge follows within half a patch: where the
#: film's edge is rough or wavy rather than round, a circle fitted to part of it strays from the rest.
MIN_EDGE_SUPPORT = 0.75


@dataclass(frozen=True)
class HoleRim:
    """A hole's rim in a working image: the circle, and which side of it is film.

    Attributes
    ----------
    centre_px : tuple of float
        Row and column of the circle's centre, in working pixels (may lie outside the image).
    radius_px : float
        The circle's radius, in working pixels.
    film_outside : bool
        True when the film lies outside the circle (always, except for nearly straight edges).
    offset_px : float
        How far the film's edge lies beyond the circle, towards the film (negative: into the hole).
    arc_px : int
        Edge pixels on the circle: the length of the arc seen, in pixels.
    contrast : float
        Mean carbon probability on the film's side minus that on the hole's.
    """

    centre_px: tuple[float, float]
    radius_px: float
    film_outside: bool
    offset_px: float
    arc_px: int
    contrast: float

    def film(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean mask of the film's side of the rim in an image of `shape`.

        Examples
        --------
        >>> rim = HoleRim(centre_px=(0.0, 0.0), radius_px=5.0, film_outside=True, offset_px=0.0,
        ...               arc_px=40, contrast=0.8)
        >>> rim.film((8, 8))[0].astype(int).tolist()
        [0, 0, 0, 0, 0, 0, 1, 1]
        """
        from_centre = _distance_from(shape, self.centre_px)
        return _depth_into_film(from_centre, self.radius_px, self.film_outside) > self.offset_px


def find_hole_rim(image: np.ndarray, carbon_probability: np.ndarray, patch_px: int) -> HoleRim | None:
    """The hole's rim bounding the carbon the classifier called, or None where there is none.

    Parameters
    ----------
    image : ndarray (h, w)
        The working image.
    carbon_probability : ndarray (h, w)
        Carbon probability per working pixel.
    patch_px : int
        Side of the classifier's patches, in working pixels: edges are looked
        for within one patch of the called carbon's border, smoothed over a
        tenth of it, and the rim moves by up to half of it.

    Returns
    -------
    HoleRim or None
        None when too few edges lie near the called carbon, when no arc of
        ``MIN_ARC_PATCHES`` patch sides is found, when a strong edge follows
        less than ``MIN_EDGE_SUPPORT`` of the circle inside the image, or
        when the classifier does not put carbon on one side of it (``MIN_CONTRAST``).
    """
    called = carbon_probability > 0.5
    if not called.any():
        return None
    points = _long_edges(image, called, patch_px)
    min_arc_px = MIN_ARC_PATCHES * patch_px
    if len(points) < min_arc_px:
        return None
    circle, on_arc = ransac(points, CircleModel, min_samples=3, residual_threshold=ARC_RESIDUAL_PX,
                            max_trials=RANSAC_TRIALS, stop_probability=0.999, rng=0)
    if circle is None or on_arc.sum() < min_arc_px:
        return None
    centre, radius = (float(circle.center[0]), float(circle.center[1])), float(circle.radius)
    from_centre = _distance_from(image.shape, centre)   # one distance map serves the support and both sides
    if _edge_support(image, from_centre, centre, radius, patch_px) < MIN_EDGE_SUPPORT:
        return None
    sides = [True] if radius < np.hypot(*image.shape) else [True, False]
    candidates = [_placed(from_centre, centre, radius, outside, carbon_probability, patch_px / 2, int(on_arc.sum()))
                  for outside in sides]
    best = max((rim for rim in candidates if rim is not None), key=lambda rim: rim.contrast, default=None)
    return best if best is not None and best.contrast >= MIN_CONTRAST else None


def _long_edges(image: np.ndarray, called: np.ndarray, patch_px: int) -> np.ndarray:
    """Coordinates ``(n, 2)`` of strong edges within a patch of the called carbon's border, in long curves only.

    A hole's rim is one long curve; particles, noise and the grain of the ice
    give short ones (a connected curve of Canny edges spanning fewer than
    ``MIN_CURVE_PATCHES`` patch sides).
    """
    border = ndimage.binary_dilation(called, iterations=patch_px) & ~ndimage.binary_erosion(
        called, iterations=patch_px, border_value=1)
    edges = canny(np.asarray(image, dtype=np.float32), sigma=patch_px / 10, low_threshold=EDGE_QUANTILE - 0.08,
                  high_threshold=EDGE_QUANTILE, use_quantiles=True) & border
    curves, _ = ndimage.label(edges, structure=np.ones((3, 3)))
    spans = [max(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in ndimage.find_objects(curves)]
    long_curves = 1 + np.flatnonzero(np.array(spans, dtype=int) >= MIN_CURVE_PATCHES * patch_px)
    return np.argwhere(np.isin(curves, long_curves)).astype(float)


def _edge_support(image: np.ndarray, from_centre: np.ndarray, centre, radius: float, patch_px: int) -> float:
    """Fraction of the circle's pixels in the image with a strong edge across it within half a patch.

    Strong: a gradient across the circle (of the image smoothed as for the
    Canny edges) at least the image's ``EDGE_QUANTILE`` of gradient magnitude.
    `from_centre` is each pixel's distance from `centre` (:func:`_distance_from`).
    """
    smooth = ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), patch_px / 10)
    gradient_rows, gradient_cols = np.gradient(smooth)
    strong = np.quantile(np.hypot(gradient_rows, gradient_cols), EDGE_QUANTILE)
    ring_rows, ring_cols = np.nonzero(np.abs(from_centre - radius) < 0.5)
    if len(ring_rows) == 0:
        return 0.0
    normal_rows = (ring_rows - centre[0]) / from_centre[ring_rows, ring_cols]
    normal_cols = (ring_cols - centre[1]) / from_centre[ring_rows, ring_cols]
    steps = np.arange(-(patch_px // 2), patch_px // 2 + 1)
    at = [ring_rows[:, None] + steps * normal_rows[:, None], ring_cols[:, None] + steps * normal_cols[:, None]]
    across = (ndimage.map_coordinates(gradient_rows, at, order=1, mode="nearest") * normal_rows[:, None]
              + ndimage.map_coordinates(gradient_cols, at, order=1, mode="nearest") * normal_cols[:, None])
    return float(np.mean(np.abs(across).max(axis=1) >= strong))


def _placed(from_centre, centre, radius, film_outside, carbon_probability, max_offset_px, arc_px) -> HoleRim | None:
    """The rim on one side, moved to where carbon probability crosses a half (None if one side is empty)."""
    depth = _depth_into_film(from_centre, radius, film_outside)
    offsets = np.arange(-np.floor(max_offset_px), np.floor(max_offset_px) + 1)
    # Gain of calling carbon everything deeper than each offset: sum of (p - 1/2) there. A pixel adds to the gains
    # of the offsets shallower than it, the first ceil(depth) - offsets[0] of them (whole numbers apart).
    n_shallower = np.clip(np.ceil(depth) - offsets[0], 0, len(offsets)).astype(np.intp)
    added = np.bincount(n_shallower.ravel(), weights=(carbon_probability - 0.5).ravel(), minlength=len(offsets) + 1)
    gains = np.cumsum(added[::-1])[::-1][1:]
    offset = float(offsets[int(np.argmax(gains))])
    film = depth > offset
    if film.all() or not film.any():
        return None
    contrast = float(carbon_probability[film].mean() - carbon_probability[~film].mean())
    return HoleRim(centre, radius, film_outside, offset, arc_px, contrast)


def _depth_into_film(from_centre, radius, film_outside) -> np.ndarray:
    """Signed distance of each pixel from the circle, positive on the film's side, from its distance from the centre."""
    outward = from_centre - radius
    return outward if film_outside else -outward


def _distance_from(shape, centre) -> np.ndarray:
    """Distance of each pixel of an image of `shape` from `centre` (row, column)."""
    rows, cols = np.indices(shape, dtype=np.float64)
    return np.hypot(rows - centre[0], cols - centre[1])
