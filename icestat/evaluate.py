"""Score picks of many micrographs against the truth: per micrograph and pooled over all of them.

The truth is either true centres (a pick table of several micrographs, from any
pick file) or a manifest of labelled micrographs (:mod:`icestat.manifest`),
whose coordinate files are used where given and particle masks (or the particle
pixels of region masks) otherwise. Micrographs are matched by name
(:func:`icestat.micrograph.micrograph_stem`). The truth may cover more
micrographs than were picked: given the micrographs the pick files speak for
(:func:`icestat.coords.named_micrographs`), only those are scored, and one of
them without picks counts with none. A manifest's truth is read once
(:func:`read_manifest_truth`) to score many pick tables (:func:`evaluate_labelled`),
as :func:`threshold_sweep` does for ``icestat evaluate --threshold T,T,...``.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from icestat.classes import PARTICLE
from icestat.coords import MICROGRAPH_COLUMN
from icestat.manifest import load_labelled, read_manifest
from icestat.metrics import mark_picks, mark_picks_on_mask, mask_particle_diameter_px, pick_scores
from icestat.micrograph import PixelSizeWarning, micrograph_stem

log = logging.getLogger(__name__)

#: Name of the pooled row of an evaluation table.
OVERALL = "overall"


def evaluate_coordinates(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float | None = None,
                         micrographs: Iterable[str] | None = None) -> pd.DataFrame:
    """Score picks against true centres, micrograph by micrograph.

    Parameters
    ----------
    picks, truth : DataFrame
        Pick tables with a ``micrograph`` column.
    radius_px : float, optional
        Matching radius; half the true particle diameter (the ``diameter_px``
        column of the truth, else of the picks) when None.
    micrographs : iterable of str, optional
        The micrographs picked (names or paths; :func:`icestat.coords.named_micrographs`):
        only these of the truth are scored, each without picks counting with
        none. Every micrograph of the truth when None.

    Returns
    -------
    DataFrame
        Indexed by micrograph, then ``overall``: ``n_picks, n_true, n_correct,
        precision, recall, f1, average_precision``.

    Raises
    ------
    ValueError
        If no radius is given and neither table knows the diameter.
    """
    if radius_px is None:
        radius_px = matching_radius_px(truth, picks)
    picks_by_name = _by_stem(picks)
    truth_by_name = _by_stem(truth)
    if micrographs is not None:
        picked = _stems(micrographs)
        truth_by_name = {name: table for name, table in truth_by_name.items() if name in picked}
    marked = {}
    for name, true_centres in truth_by_name.items():
        marked[name] = mark_picks(picks_by_name.pop(name, picks.iloc[:0]), true_centres, radius_px)
    _warn_unmatched(picks_by_name)
    return _table(marked)


def matching_radius_px(truth: pd.DataFrame, picks: pd.DataFrame) -> float:
    """The default matching radius of :func:`evaluate_coordinates`: half the particle diameter of the truth (the
    median of its ``diameter_px``), else of the picks.

    Raises
    ------
    ValueError
        If neither table knows the diameter.

    Examples
    --------
    >>> matching_radius_px(pd.DataFrame({"diameter_px": [40.0, 42.0, 80.0]}), pd.DataFrame({"diameter_px": [64.0]}))
    21.0
    """
    sized = truth if knows_diameter(truth) else picks
    return _half_diameter(sized["diameter_px"], unknown="the particle diameter is in neither the picks nor the truth")


def knows_diameter(table: pd.DataFrame) -> bool:
    """Whether a pick table gives the particle diameter (its ``diameter_px`` has a median): a truth that does sets
    :func:`matching_radius_px`, else the picks do.

    Examples
    --------
    >>> unknown, known = pd.DataFrame({"diameter_px": [np.nan]}), pd.DataFrame({"diameter_px": [np.nan, 40.0]})
    >>> knows_diameter(known), knows_diameter(unknown)
    (True, False)
    """
    return bool(np.isfinite(_median(table["diameter_px"])))


@dataclass(frozen=True)
class MicrographTruth:
    """What one labelled micrograph's picks are scored against: true centres, or a particle mask.

    Attributes
    ----------
    centres : DataFrame or None
        Pick table of the true particle centres (scored by one-to-one matching).
    particle_mask : ndarray of bool or None
        True on particle pixels, the micrograph's shape (where there are no centres).
    particle_diameter_px : float or None
        Particle diameter in micrograph pixels.
    """

    centres: pd.DataFrame | None
    particle_mask: np.ndarray | None
    particle_diameter_px: float | None


def read_manifest_truth(manifest: str | os.PathLike,
                        micrographs: Iterable[str] | None = None) -> dict[str, MicrographTruth]:
    """The truth of each labelled micrograph of a manifest, read once to score picks against, by micrograph name.

    Coordinate files are used where given, particle masks (or the particle
    pixels of region masks) otherwise. Only the micrographs scored are read (a
    manifest of many datasets may label far more than one run picked), their
    pixel size unneeded: scoring is in pixels. Masks without a particle
    diameter are scored with their dataset's, read from the single disks of its
    masks (:func:`icestat.metrics.mask_particle_diameter_px`: labelled sets such
    as CryoPPP's mark each particle with a disk of one size). A micrograph with
    neither coordinates nor a mask, or whose dataset's masks hold no single
    disk to read a diameter from, is left out, with a warning.

    Parameters
    ----------
    manifest : str or PathLike
        Manifest CSV (:func:`icestat.manifest.read_manifest`).
    micrographs : iterable of str, optional
        As for :func:`evaluate_coordinates`.

    Returns
    -------
    dict of str to MicrographTruth
    """
    rows = read_manifest(manifest)
    if micrographs is not None:
        rows = rows[rows["micrograph"].map(micrograph_stem).isin(_stems(micrographs))]
    truth, names, without_diameter = {}, [], {}
    for _, row in rows.iterrows():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PixelSizeWarning)
            item = load_labelled(row)
        name = item.micrograph.name
        names.append(name)
        mask = item.particle_mask if item.particle_mask is not None else (
            item.regions == PARTICLE if item.regions is not None else None)
        if item.picks is None and mask is None:
            log.warning("%s: no coordinates and no particle mask; not scored", name)
        elif item.picks is None and item.particle_diameter_px is None:
            without_diameter.setdefault(item.dataset, {})[name] = mask
        else:
            truth[name] = MicrographTruth(item.picks, None if item.picks is not None else mask,
                                          item.particle_diameter_px)
    for dataset, masks in without_diameter.items():
        diameter_px = mask_particle_diameter_px(masks.values())
        if not np.isfinite(diameter_px):
            for name in masks:
                log.warning("%s: a particle mask without a particle diameter, and no single particle in its "
                            "dataset's masks to read one from; not scored", name)
            continue
        log.info("%sno particle diameter given; %.1f px, read from the single disks of the masks",
                 f"{dataset}: " if dataset else "", diameter_px)
        truth.update({name: MicrographTruth(None, mask, diameter_px) for name, mask in masks.items()})
    return {name: truth[name] for name in names if name in truth}


def evaluate_labelled(picks: pd.DataFrame, truth: dict[str, MicrographTruth],
                      radius_px: float | None = None) -> pd.DataFrame:
    """Score picks against the truth of labelled micrographs (:func:`read_manifest_truth`).

    Parameters
    ----------
    picks : DataFrame
        Pick table with a ``micrograph`` column.
    truth : dict of str to MicrographTruth
        By micrograph name; each is scored, one without picks counting with none.
    radius_px : float, optional
        Matching radius for micrographs with true centres; half their
        particle diameter when None. Mask-based scoring uses the diameter.

    Returns
    -------
    DataFrame
        As :func:`evaluate_coordinates`.
    """
    picks_by_name = _by_stem(picks)
    marked = {}
    for name, known in truth.items():
        mine = picks_by_name.pop(name, picks.iloc[:0])
        if known.centres is None:
            marked[name] = mark_picks_on_mask(mine, known.particle_mask, known.particle_diameter_px)
            continue
        radius = radius_px if radius_px is not None else _half_diameter(
            known.particle_diameter_px, known.centres["diameter_px"], unknown=f"{name}: particle diameter unknown")
        marked[name] = mark_picks(mine, known.centres, radius)
    _warn_unmatched(picks_by_name)
    return _table(marked)


def evaluate_manifest(picks: pd.DataFrame, manifest: str | os.PathLike, radius_px: float | None = None,
                      micrographs: Iterable[str] | None = None) -> pd.DataFrame:
    """Score picks against a manifest of labelled micrographs: :func:`evaluate_labelled` of :func:`read_manifest_truth`.

    To score several pick tables against one manifest (:func:`threshold_sweep`),
    read its truth once and score each with :func:`evaluate_labelled`.

    Parameters
    ----------
    picks : DataFrame
        Pick table with a ``micrograph`` column.
    manifest : str or PathLike
        Manifest CSV (:func:`icestat.manifest.read_manifest`).
    radius_px : float, optional
        As for :func:`evaluate_labelled`.
    micrographs : iterable of str, optional
        As for :func:`evaluate_coordinates`.

    Returns
    -------
    DataFrame
        As :func:`evaluate_coordinates`.
    """
    return evaluate_labelled(picks, read_manifest_truth(manifest, micrographs), radius_px)


def check_threshold(threshold: float, name: str = "score threshold") -> None:
    """Raise ValueError unless `threshold` is a pick score, 0 to 1; `name` says what the value was given as."""
    if not 0 <= threshold <= 1:
        raise ValueError(f"{name} must be between 0 and 1, got {threshold:g}")


def scored_at_least(picks: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The picks scored at least `threshold`.

    Parameters
    ----------
    picks : DataFrame
        Pick table with a ``score`` column.
    threshold : float

    Raises
    ------
    ValueError
        If a pick has no score (EMAN ``.box`` files keep none).
    """
    if picks["score"].isna().any():
        raise ValueError("the picks have no scores to threshold (EMAN .box files keep none)")
    return picks[picks["score"] >= threshold]


def threshold_sweep(score: Callable[[pd.DataFrame], pd.DataFrame], picks: pd.DataFrame,
                    thresholds: Iterable[float]) -> pd.DataFrame:
    """The overall scores of the picks scored at least each threshold: what ``icestat pick --threshold`` trades.

    Each threshold's picks are scored afresh (a one-to-one matching may pair
    them otherwise than all the picks). `picks` must hold every candidate
    scored at least the lowest threshold: picked at threshold 0, or an
    ``icestat pick`` run's picks with the candidates its records keep
    (:func:`icestat.records.recorded_candidates`).

    Parameters
    ----------
    score : callable
        Scores a pick table: :func:`evaluate_coordinates` or
        :func:`evaluate_labelled` with their other arguments bound.
    picks : DataFrame
        Pick table with a ``score`` column.
    thresholds : iterable of float

    Returns
    -------
    DataFrame
        Indexed by ``threshold``: the columns of the ``overall`` row of `score`'s
        table (empty where `score` finds no micrograph to score).

    Raises
    ------
    ValueError
        As :func:`scored_at_least`.
    """
    tables = {threshold: score(scored_at_least(picks, threshold)) for threshold in thresholds}
    if any(table.empty for table in tables.values()):   # no micrograph to score
        return pd.DataFrame()
    table = pd.DataFrame.from_dict({threshold: table.loc[OVERALL] for threshold, table in tables.items()},
                                   orient="index")
    table = table.astype({column: int for column in table.columns if column.startswith("n_")})   # counts
    table.index.name = "threshold"
    return table


def _half_diameter(*sources, unknown: str) -> float:
    """Half the first known particle diameter; each source a number (None when unknown) or a column (its median)."""
    for source in sources:
        diameter = _median(source)
        if np.isfinite(diameter):
            return float(diameter) / 2
    raise ValueError(f"{unknown}; give --radius-px")


def _median(values) -> float:
    """The median of the values that are not NaN (a number or None counts as one value); NaN, without a warning,
    where none is (pandas 2.2's median warns of an empty slice)."""
    known = np.atleast_1d(np.asarray(values, dtype=np.float64))
    known = known[~np.isnan(known)]
    return float(np.median(known)) if known.size else math.nan


def _stems(micrographs: Iterable[str]) -> set[str]:
    return {micrograph_stem(name) for name in micrographs}


def _by_stem(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if MICROGRAPH_COLUMN not in table.columns:
        raise ValueError(f"picks need a '{MICROGRAPH_COLUMN}' column to be matched to the truth")
    stems = table[MICROGRAPH_COLUMN].astype(str).map(micrograph_stem)
    return {name: group.reset_index(drop=True) for name, group in table.groupby(stems, sort=False)}


def _warn_unmatched(picks_by_name: dict) -> None:
    if picks_by_name:
        names = sorted(picks_by_name)
        log.warning("picks of %d micrographs have no truth and are not scored: %s%s", len(names),
                    ", ".join(names[:5]), " ..." if len(names) > 5 else "")


def _table(marked: dict[str, tuple[pd.DataFrame, int]]) -> pd.DataFrame:
    rows = {name: pick_scores(*pair) for name, pair in marked.items()}
    if marked:
        pooled = pd.concat([pair[0] for pair in marked.values()], ignore_index=True)
        rows[OVERALL] = pick_scores(pooled, sum(pair[1] for pair in marked.values()))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = MICROGRAPH_COLUMN
    return table
