"""A labelled set from pick files: which file holds each micrograph's particles, as a manifest (:mod:`icestat.manifest`).

What ``icestat manifest`` does, so that particles picked by hand or kept after 2D classification (RELION's
ManualPick coordinate files or its ``manualpick.star`` index, a ``particles.star``, crYOLO's ``.cbox``, Topaz's
``.tsv``, ...) teach a model the user's own specimen (``icestat train``) or score picks (``icestat evaluate
--truth``). Micrographs and pick files are paired by the micrograph's stem
(:func:`icestat.micrograph.micrograph_stem`), as ``icestat evaluate`` pairs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from icestat.coords import MICROGRAPH_COLUMN, named_micrographs, read_picks
from icestat.micrograph import micrograph_stem


@dataclass(frozen=True)
class PickedMicrograph:
    """The pick file that holds one micrograph's particles.

    Attributes
    ----------
    pick_file : Path
        The file.
    n_particles : int
        How many particles of the micrograph it holds (0: it says the micrograph has none).
    diameter_px : float
        The median particle diameter it gives them, in pixels of the micrograph; NaN where it gives none.
    """

    pick_file: Path
    n_particles: int
    diameter_px: float

    @property
    def needs_diameter(self) -> bool:
        """Whether its particles need a diameter given, which training and scoring need: it gives none."""
        return self.n_particles > 0 and not np.isfinite(self.diameter_px)


def picked_micrographs(pick_files: Iterable[str | os.PathLike]) -> dict[str, PickedMicrograph]:
    """The micrographs that `pick_files` hold particles of, by stem.

    A per-micrograph file with no pick (an empty ``<stem>_autopick.star``, ``.box`` or ``.cbox``) says its
    micrograph has none (:func:`icestat.coords.named_micrographs`).

    Raises
    ------
    ValueError, OSError
        Where a file cannot be read as picks (:func:`icestat.coords.read_picks`; the message names it), or the
        picks of one micrograph are in two files (both named).
    """
    picked: dict[str, PickedMicrograph] = {}
    for pick_file in map(Path, pick_files):
        picks = read_picks(pick_file)
        diameters_px = picks["diameter_px"].astype(np.float64).groupby(
            picks[MICROGRAPH_COLUMN].astype(str).map(micrograph_stem))   # once, not once per micrograph
        counts, medians = diameters_px.size(), diameters_px.median()   # the median of the diameters given
        for stem in sorted({micrograph_stem(name) for name in named_micrographs(pick_file, picks)}):
            if stem in picked:
                raise ValueError(f"{stem}: its particles are in two pick files, {picked[stem].pick_file} and "
                                 f"{pick_file}; give one of them")
            picked[stem] = PickedMicrograph(pick_file, int(counts.get(stem, 0)), float(medians.get(stem, np.nan)))
    return picked

