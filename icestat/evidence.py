"""particle_evidence(): how much each working pixel looks like particle, by the segmentation and the patches.

What :func:`icestat.pick.pick` scores its candidates by, and what
:func:`icestat.diameter.estimate_diameter_px` reads the particles' size from.
"""

from __future__ import annotations

import numpy as np

from icestat.classes import PARTICLE
from icestat.segment import Segmentation

#: Share of the segmentation's particle probability in the particle evidence; the patch classifier's has the rest.
#: With the recipe retrained without EMPIAR-10059, F1 on its faint TRPV1 particles was 0.50 from the refined map
#: alone, 0.70 with half of each, 0.75 from the patches alone; the patches alone lose 0.09-0.18 on simulations.
#: The price of the patches' share, before the rule against faint candidates (``icestat.candidates.too_faint``): more
#: picks on micrographs of nothing but ice (with the shipped model 315-429 per simulated 2048^2 micrograph, 55-240
#: from the refined map alone; benchmarks/results/specimen_transfer.md).
SEGMENTATION_SHARE = 0.5


def particle_evidence(segmentation: Segmentation) -> np.ndarray:
    """Particle evidence per working pixel, in [0, 1]: what candidates are scored by.

    ``SEGMENTATION_SHARE`` of the segmentation's particle probability plus the
    rest of the patch classifier's, interpolated
    (:attr:`~icestat.segment.Segmentation.patch_particle_probability`); the
    segmentation's alone when it was made without patches. Where the
    segmentation is the patches' (``refine=False``) the two are the same.
    """
    segmented = segmentation.working_probabilities[PARTICLE]
    from_patches = segmentation.patch_particle_probability
    if from_patches is None:
        return segmented
    return (SEGMENTATION_SHARE * segmented + (1.0 - SEGMENTATION_SHARE) * from_patches).astype(np.float32)
