"""The labelled micrographs the comparison trains and tests on, and their fixed splits.

A :class:`Case` is one micrograph with everything any system needs: the
micrograph itself (what a system is given at test time), its working-scale
example (image, features and class codes, for training and for segmentation
scores), the particle diameter, and the truth its picks are scored against:
the true centres of a simulation (one-to-one within half a diameter) or the
particle mask of a real micrograph (mask-based, :mod:`icestat.metrics`).

Each real dataset is split once, by a seeded permutation of its micrographs,
into training, validation (early stopping) and test parts; the simulated
micrographs, independent draws already, are split in order. Every system sees
the same parts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from icestat.examples import Example, make_example
from icestat.manifest import LabelledMicrograph, iter_labelled
from icestat.metrics import mark_picks, mark_picks_on_mask
from icestat.micrograph import Micrograph, PixelSizeWarning
from icestat.settings import SegmentationSettings
from icestat.simulate import simulate_micrograph
from icestat.simulate.varied import varied_params
from icestat.targets import pixel_classes

#: The real datasets of ../shared/data with particle masks.
REAL_DATASETS = ("empiar-10017", "empiar-10028", "empiar-10059")
SIMULATED = "simulated"
#: Carbon fractions of the simulated micrographs, in turn.
SIMULATED_CARBON_FRACTIONS = (0.0, 0.2, 0.4)
#: Fractions of each dataset held out for testing and for validation.
TEST_FRACTION = 0.35
VALIDATION_FRACTION = 0.125


@dataclass(frozen=True, eq=False)
class Case:
    """One labelled micrograph of the comparison.

    Attributes
    ----------
    micrograph : Micrograph
    example : Example
        Working image, features and class codes per working pixel.
    diameter_px : float
        Particle diameter in the micrograph's pixels (given to every picker).
    true_centres : DataFrame or None
        True particle centres (simulations).
    particle_mask : ndarray of bool or None
        True on particle pixels, the micrograph's shape (real data).
    """

    micrograph: Micrograph
    example: Example
    diameter_px: float
    true_centres: pd.DataFrame | None = None
    particle_mask: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.micrograph.name

    def mark(self, picks: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        """Picks marked right or wrong against this micrograph's truth, and the number of true particles."""
        if self.true_centres is not None:
            return mark_picks(picks, self.true_centres, self.diameter_px / 2)
        return mark_picks_on_mask(picks, self.particle_mask, self.diameter_px)


@dataclass(frozen=True)
class Split:
    """The training, validation and test cases of one dataset."""

    train: list[Case]
    validation: list[Case]
    test: list[Case]


def split(cases: list, seed: int | None, limit: tuple[int, int, int] | None = None) -> Split:
    """Split cases: ``TEST_FRACTION`` for test, ``VALIDATION_FRACTION`` (at least 1) for validation, the rest to train.

    The cases are shuffled by a permutation seeded with `seed` first, or taken
    in order when it is None (the test part first). `limit`, when given, keeps
    at most that many (train, validation, test) cases (the quick mode).
    """
    order = np.arange(len(cases)) if seed is None else np.random.default_rng(seed).permutation(len(cases))
    n_test = int(round(TEST_FRACTION * len(cases)))
    n_validation = max(1, int(round(VALIDATION_FRACTION * len(cases))))
    shuffled = [cases[i] for i in order]
    parts = [shuffled[n_test + n_validation:], shuffled[n_test:n_test + n_validation], shuffled[:n_test]]
    if limit is not None:
        parts = [part[:n] for part, n in zip(parts, limit)]
    return Split(*parts)


def real_cases(manifest: pd.DataFrame, dataset: str, settings: SegmentationSettings, max_cases: int | None = None,
               side_fraction: float | None = None) -> list[Case]:
    """The micrographs of one dataset of `manifest` (:func:`_truth.masked_manifest`) that have particle masks, in its order.

    `max_cases`, when given, keeps the first that many; `side_fraction` crops each to its top-left corner, that
    fraction of each side (the quick mode).
    """
    rows = manifest[(manifest["dataset"] == dataset) & manifest["particle_mask"].notna()].iloc[:max_cases]
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelSizeWarning)
        for item in iter_labelled(rows):
            if side_fraction is not None:
                item = top_left(item, side_fraction)
            example = make_example(item.micrograph, pixel_classes(item), settings, dataset)
            cases.append(Case(item.micrograph, example, item.particle_diameter_px, particle_mask=item.particle_mask))
    return cases


def top_left(item: LabelledMicrograph, side_fraction: float) -> LabelledMicrograph:
    """The top-left corner of a labelled micrograph, `side_fraction` of each side, with its labels."""
    height_px, width_px = (round(side_fraction * side) for side in item.micrograph.shape)
    window = (slice(0, height_px), slice(0, width_px))
    picks = item.picks
    if picks is not None:
        picks = picks[(picks["y_px"] < height_px) & (picks["x_px"] < width_px)]
    return replace(item, micrograph=replace(item.micrograph, data=item.micrograph.data[window]), picks=picks,
                   regions=None if item.regions is None else item.regions[window],
                   particle_mask=None if item.particle_mask is None else item.particle_mask[window])


def simulated_cases(n: int, seed: int, side_px: int, settings: SegmentationSettings) -> list[Case]:
    """`n` simulated micrographs of `side_px` pixels a side, named ``sim_0000``...

    Varied as the default model's training micrographs are (:func:`icestat.simulate.varied.varied_params`),
    but with the carbon fraction going through ``SIMULATED_CARBON_FRACTIONS`` in turn, so that any run of
    consecutive micrographs (a part of an unshuffled :func:`split`) has micrographs with and without carbon.
    """
    cases = []
    for index in range(n):
        params = replace(varied_params(index, seed, side_px),
                         carbon_fraction=SIMULATED_CARBON_FRACTIONS[index % len(SIMULATED_CARBON_FRACTIONS)])
        sim = simulate_micrograph(params, seed=[seed, index])
        micrograph = Micrograph(sim.image, params.pixel_size_A, f"sim_{index:04d}")
        example = make_example(micrograph, sim.labels.astype(np.uint8), settings, SIMULATED)
        cases.append(Case(micrograph, example, params.particle_diameter_A / params.pixel_size_A,
                          true_centres=sim.picks))
    return cases
