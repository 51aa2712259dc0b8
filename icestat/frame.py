"""The frame border: bands along a micrograph's edges that hold no recorded data.

Motion correction shifts the frames of a movie before summing them, and some
programs fill the strip that the shift uncovers by repeating the edge pixel
(stripes: each row of a left or right band, each column of a top or bottom
band, is constant along the band) or with a constant. Such a band looks like
nothing in a real specimen, and patches that straddle it look like carbon; so
would the mirror-symmetric structures of a band filled with the mirror image
of the data beside it. icestat therefore works on the rectangle inside the
border alone, as if it were the whole micrograph.

The band is found as the columns (rows) near each edge along which the image
does not change: the mean absolute difference between neighbouring columns,
over the middle half of the rows, stays below ``FLAT_FRACTION`` of its median
over the middle of the image. The border extends from the edge to where that
difference has recovered to ``RECOVERED_FRACTION`` of the median, so that the
blur that denoising or binning puts across the band's inner edge is left out
too; it is never narrower than the fill and at most a pixel wider where the
band ends sharply. Where the difference does not recover within the part of
the side searched (``MAX_BORDER_FRACTION``), the flat region is the specimen's,
not a fill: the opaque gold foil beyond a hole's rim, whose few counts are as flat.

Examples
--------
>>> import numpy as np
>>> noise = np.random.default_rng(0).normal(size=(256, 256))
>>> padded = np.pad(noise[:240, 10:], ((0, 16), (10, 0)), mode="edge")
>>> detect_frame_border(padded)
FrameBorder(top_px=0, bottom_px=17, left_px=11, right_px=0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from icestat.backend import array_module_of, to_host

#: A column (row) is flat when its difference to the next is below this fraction of the median.
FLAT_FRACTION = 0.1
#: The border ends where the difference is back to this fraction of the median.
RECOVERED_FRACTION = 0.75
#: Flat runs shorter than this many pixels are not a border.
MIN_FLAT_RUN_PX = 4
#: A border is looked for within this fraction of each side from its edge.
MAX_BORDER_FRACTION = 0.125
#: Profiles average every n-th row (column) of the middle half.
PROFILE_STEP = 2


class FrameBorder(NamedTuple):
    """Widths, in pixels, of the bands without data along each edge of an image."""

    top_px: int = 0
    bottom_px: int = 0
    left_px: int = 0
    right_px: int = 0

    def inside(self, shape: tuple[int, int]) -> tuple[slice, slice]:
        """Row and column slices of the part of an image of `shape` with data.

        Examples
        --------
        >>> FrameBorder(top_px=2, left_px=3).inside((10, 12))
        (slice(2, 10, None), slice(3, 12, None))
        """
        return slice(self.top_px, shape[0] - self.bottom_px), slice(self.left_px, shape[1] - self.right_px)


def detect_frame_border(image: np.ndarray) -> FrameBorder:
    """Find the bands without data along the edges of an image (see the module's notes).

    Parameters
    ----------
    image : ndarray (h, w)
        The micrograph at its own size (NumPy, or CuPy: its profiles are taken on its GPU).

    Returns
    -------
    FrameBorder
        Zero widths where an edge has no such band.
    """
    image = array_module_of(image).asarray(image, dtype=np.float32)
    top, bottom = _edge_widths(image.T)
    left, right = _edge_widths(image)
    return FrameBorder(top, bottom, left, right)


def _edge_widths(image: np.ndarray) -> tuple[int, int]:
    """Widths of the left and right bands of `image` whose rows are constant along the band."""
    rows, cols = image.shape
    search_px = int(cols * MAX_BORDER_FRACTION)
    if search_px < MIN_FLAT_RUN_PX:
        return 0, 0
    middle = image[rows // 4: 3 * rows // 4: PROFILE_STEP]
    xp = array_module_of(image)
    difference = to_host(xp.abs(xp.diff(middle, axis=1)).mean(axis=0))
    typical = np.median(difference[cols // 4: 3 * cols // 4])
    if not typical > 0:
        return 0, 0
    profile = difference / typical
    return _band_width(profile[:search_px]), _band_width(profile[::-1][:search_px])


def _band_width(profile: np.ndarray) -> int:
    """Pixels from the edge (index 0 of `profile`) to where it recovers after its innermost flat run.

    ``profile[i]`` is the difference between pixels ``i`` and ``i + 1``, so the
    band takes in both pixels of the first recovered difference: one of them may
    be the last of a constant fill, which no difference tells from data. A
    profile that does not recover within its length is no band (0): a flat region
    reaching that far in, and in only part of the rows, is the specimen's, such
    as the opaque gold foil along a hole's rim, whose few counts look flat.

    Examples
    --------
    >>> _band_width(np.array([0.0, 0, 0, 0, 0, 0.3, 0.8, 1, 1, 1]))
    7
    >>> _band_width(np.array([1.0, 0, 0, 1, 1, 1]))  # a flat run too short
    0
    >>> _band_width(np.array([0.0, 0, 0, 0, 0, 0.2, 0.4, 0.5, 0.6, 0.7]))  # never recovers: no band
    0
    """
    flat = np.concatenate([[False], profile < FLAT_FRACTION, [False]])
    edges = np.flatnonzero(np.diff(flat.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    long_runs = ends[ends - starts >= MIN_FLAT_RUN_PX]
    if long_runs.size == 0:
        return 0
    after = long_runs[-1]
    recovered = np.flatnonzero(profile[after:] >= RECOVERED_FRACTION)
    return int(after + recovered[0]) + 1 if recovered.size else 0
