"""What a run decides over all its micrographs: one particle diameter and one polarity, and which to pick again.

Without a given diameter, each micrograph is first picked with its own
estimate; then the run's diameter is the median of those estimates
(:func:`icestat.diameter.run_diameter`), and the micrographs whose diameter is
far from it are picked again with it (:func:`to_pick_with_run_diameter`).
With ``--polarity auto``, where most of a run looks inverted, a few of its
micrographs are asked which way the model sees particles more clearly, and
the run's dark ones may be picked again as bright (:func:`to_pick_as_bright`).
Both read the summary rows :func:`icestat.batch.pick_micrograph` returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from icestat.batch import BLOBS, FAILED, RUN, SUMMARY_COLUMNS, PickSettings, cached_model
from icestat.bright_field import negated_gain, run_reads_negated, run_voters
from icestat.diameter import far_from_run_diameter, is_crowded, run_diameter
from icestat.micrograph import MicrographError, micrograph_stem, read_micrograph


@dataclass(frozen=True)
class RunDiameter:
    """The particle diameter of a run (:func:`to_pick_with_run_diameter`).

    Attributes
    ----------
    value : float
        In ångström where every micrograph it was estimated from has a pixel
        size, else in pixels (the micrographs are then taken to share one).
    in_A : bool
        True when `value` is in ångström.
    n_micrographs : int
        How many micrographs' own estimates its median is over.
    all_crowded : bool
        True when those micrographs are all crowded with particles (then the
        estimate is less reliable: :func:`icestat.diameter.is_crowded`).
    own_estimates : dict
        By micrograph name, the ``blob_diameter_px`` and ``crowded`` of each
        micrograph's own estimate: what a micrograph picked again with the
        run's diameter reports, so that a rerun finds the same diameter.
    """

    value: float
    in_A: bool
    n_micrographs: int
    all_crowded: bool
    own_estimates: dict[str, dict] = field(default_factory=dict)

    def px(self, pixel_size_A: float | None) -> float:
        """The diameter in pixels of a micrograph of `pixel_size_A`."""
        return self.value / pixel_size_A if self.in_A else self.value

    def __str__(self) -> str:
        return f"{self.value:.1f} {'Å' if self.in_A else 'px'}"


def to_pick_with_run_diameter(paths: list[str], rows: list[dict]) -> tuple[RunDiameter | None, list[str]]:
    """The run's particle diameter, and the micrographs to pick (again) with it.

    The run's diameter is the median of its micrographs' own estimates
    (:func:`icestat.diameter.run_diameter`; micrographs picked with it before
    count with their own estimate), in ångström where they all have a pixel
    size. The micrographs picked with an estimate (their own, or an earlier
    run's diameter) more than ``RUN_DIAMETER_TOLERANCE`` times off it, or
    without one, are to be picked with it.

    Parameters
    ----------
    paths : list of str
        The run's micrographs.
    rows : list of dict
        Their summary rows (any order; ``failed`` ones and those picked with a
        given diameter do not count).

    Returns
    -------
    run_diameter : RunDiameter or None
        None when no micrograph has an estimate.
    paths : list of str
        Micrographs to pick with it, in the order of `paths`.
    """
    by_name = {row["micrograph"]: row for row in rows
               if row["status"] != FAILED and row.get("diameter_source") in (BLOBS, RUN)}
    estimated = [path for path in paths if micrograph_stem(path) in by_name]
    table = pd.DataFrame([by_name[micrograph_stem(path)] for path in estimated],
                         columns=list(SUMMARY_COLUMNS))
    in_A = bool(table["pixel_size_A"].notna().all())
    scale = table["pixel_size_A"] if in_A else 1.0
    # a record from before the column: crowded where it was picked
    crowded = pd.Series(np.where(table["crowded"].isna(), table["particle_fraction"].map(is_crowded), table["crowded"]),
                        dtype=bool)
    estimates = table["blob_diameter_px"] * scale
    value = run_diameter(estimates)
    if not math.isfinite(value):
        return None, []
    basis = np.isfinite(estimates.to_numpy(dtype=np.float64))   # the micrographs run_diameter took the median of
    own = {name: dict(blob_diameter_px=float(px), crowded=bool(crowd))
           for name, px, crowd in zip(table["micrograph"], table["blob_diameter_px"], crowded)}
    diameter = RunDiameter(value, in_A, n_micrographs=int(basis.sum()), all_crowded=bool(crowded[basis].all()),
                           own_estimates=own)
    far = far_from_run_diameter(table["diameter_px"] * scale, value)
    return diameter, [path for path, again in zip(estimated, far) if again]


def to_pick_as_bright(paths: list[str], rows: list[dict], settings: PickSettings) -> list[str]:
    """The micrographs of a run to pick again as bright: those taken as dark, where the run reads negated.

    A run is one acquisition, so one polarity. Where most of its micrographs
    (not failed) look inverted (taken as bright, or taken as dark yet leaning
    inverted, ``bright_balance`` above 0: :func:`icestat.bright_field.run_voters`)
    and some were taken as dark, up to
    :data:`~icestat.bright_field.RUN_POLARITY_VOTERS` of those that look inverted are read again
    and asked whether the model sees particles more clearly negated
    (:func:`icestat.bright_field.negated_gain`, at the run's diameter where it
    is estimated, :func:`to_pick_with_run_diameter`: a single micrograph's
    estimate strays); where most say so, and at least two
    (:func:`~icestat.bright_field.run_reads_negated`), every micrograph taken
    as dark is to be picked as bright.

    Parameters
    ----------
    paths : list of str
        The run's micrographs.
    rows : list of dict
        Their summary rows (any order), picked with polarity ``auto``.
    settings : PickSettings
        The run's.

    Returns
    -------
    list of str
        In the order of `paths`; empty where the run reads as given.
    """
    by_name = {row["micrograph"]: row for row in rows
               if row["status"] != FAILED and row["polarity"] in ("dark", "bright")}
    judged = [by_name[micrograph_stem(path)] | {"path": path} for path in paths if micrograph_stem(path) in by_name]
    voters = run_voters([row["polarity"] for row in judged], [row["bright_balance"] for row in judged])
    if not voters:
        return []
    model = cached_model(settings.model_path, settings.device).with_carbon_regions(settings.carbon_regions)
    estimated, _ = to_pick_with_run_diameter(paths, rows)   # None where the diameter is given
    gains = []
    for row in (judged[index] for index in voters):
        try:
            micrograph = read_micrograph(row["path"], settings.pixel_size_A)
        except (MicrographError, OSError):   # read before, changed since: it says nothing
            gains.append(math.nan)
            continue
        diameter_px = row["diameter_px"] if estimated is None else estimated.px(micrograph.pixel_size_A)
        gains.append(negated_gain(micrograph, model, diameter_px, settings.device, settings.refine))
    return [row["path"] for row in judged if row["polarity"] == "dark"] if run_reads_negated(gains) else []
