"""Contamination as whole blobs: what a contamination blob encloses is contamination too.

A large contamination blob (an ice ball, a crystal) is thick enough to be
almost black inside. The classifier and the refiner, which learnt contamination
from its edges and texture, can call that featureless interior particle, and the
picker would then pick inside the blob (on the raw micrograph of
``../shared/data``, a model that never saw it called a third of its large blob
particle and put 12 of 126 picks there: ``benchmarks/contamination.py``). No particle
sits inside contamination, so :func:`fill_contamination` gives the particle
pixels of each hole of the contamination to contamination, where that hole is
mostly particle. A hole that is mostly ice is a gap in a ring of debris, and the
particles in it stay; nothing touching the micrograph's edge counts as enclosed.

The converse: the dark core of a large particle (300-550 Å) can look like
contamination to the model, which then calls a blob smaller than the particle
contamination, and the picker rejects the particle. Contamination is larger than
a particle, so where the particle diameter is known,
:func:`particle_sized_contamination_as_particle` gives each contamination blob
that covers less than one particle's area to particle.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from icestat.classes import CONTAMINATION, ICE, PARTICLE

#: A hole of the contamination with more than this fraction of ice is a gap in it, not its inside.
MAX_HOLE_ICE_FRACTION = 0.5


def fill_contamination(probabilities: np.ndarray) -> np.ndarray:
    """Class probabilities with the particle pixels enclosed by contamination made contamination.

    Parameters
    ----------
    probabilities : ndarray (4, h, w)
        Class probabilities per working pixel (:func:`icestat.segment.pixel_probabilities`).

    Returns
    -------
    ndarray (4, h, w)
        A copy where, on each pixel that is most probably particle and lies in a
        hole of the most-probably-contamination pixels with at most
        ``MAX_HOLE_ICE_FRACTION`` ice, the particle probability has moved to
        contamination (the probabilities still sum to 1); the input itself where
        there is none.

    Examples
    --------
    >>> probabilities = np.zeros((4, 9, 9), dtype=np.float32); probabilities[0] = 1   # all ice
    >>> probabilities[:, 2:7, 2:7] = np.array([0, 0, 0, 1.0])[:, None, None]         # a contamination blob
    >>> probabilities[:, 4, 4] = [0.1, 0.6, 0, 0.3]                                   # called particle inside
    >>> fill_contamination(probabilities).argmax(axis=0)[4, 4]
    np.int64(3)
    """
    labels = probabilities.argmax(axis=0)
    contamination = labels == CONTAMINATION
    holes, n_holes = ndimage.label(ndimage.binary_fill_holes(contamination) & ~contamination)
    if n_holes == 0:
        return probabilities
    ice_fraction = ndimage.mean(labels == ICE, holes, index=np.arange(1, n_holes + 1))
    inside = np.concatenate([[False], ice_fraction <= MAX_HOLE_ICE_FRACTION])[holes]
    return _moved(probabilities, inside & (labels == PARTICLE), PARTICLE, CONTAMINATION)


def particle_sized_contamination_as_particle(probabilities: np.ndarray, diameter_px: float) -> np.ndarray:
    """Class probabilities with every contamination blob smaller than one particle made particle.

    Parameters
    ----------
    probabilities : ndarray (4, h, w)
        Class probabilities per working pixel.
    diameter_px : float
        Particle diameter in working pixels.

    Returns
    -------
    ndarray (4, h, w)
        A copy where, on each connected blob of most-probably-contamination
        pixels whose area is below a disk of `diameter_px`, the contamination
        probability has moved to particle (the probabilities still sum to 1);
        the input itself where there is none.

    Examples
    --------
    >>> probabilities = np.zeros((4, 20, 20), dtype=np.float32); probabilities[0] = 1   # all ice
    >>> probabilities[:, 2:5, 2:5] = np.array([0.2, 0, 0, 0.8])[:, None, None]           # 9 px: a particle's core
    >>> probabilities[:, 8:18, 8:18] = np.array([0, 0, 0, 1.0])[:, None, None]           # 100 px: contamination
    >>> labels = particle_sized_contamination_as_particle(probabilities, diameter_px=6).argmax(axis=0)
    >>> int(labels[3, 3]), int(labels[12, 12])
    (1, 3)
    """
    contamination = probabilities.argmax(axis=0) == CONTAMINATION
    blobs, n_blobs = ndimage.label(contamination)
    if n_blobs == 0:
        return probabilities
    area_px = ndimage.sum(contamination, blobs, index=np.arange(1, n_blobs + 1))
    small = np.concatenate([[False], area_px < np.pi * (diameter_px / 2) ** 2])[blobs]
    return _moved(probabilities, small, CONTAMINATION, PARTICLE)


def _moved(probabilities: np.ndarray, where: np.ndarray, source: int, target: int) -> np.ndarray:
    """A copy with the `source` class's probability moved to `target` on the pixels `where` (the input where none)."""
    if not where.any():
        return probabilities
    moved = probabilities.copy()
    moved[target, where] += moved[source, where]
    moved[source, where] = 0
    return moved
