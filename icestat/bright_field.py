"""Micrographs read as bright-field images: their particles darker than the ice, as the model learnt them.

The model learnt bright-field micrographs, in which whatever scatters (protein,
carbon, contamination) is darker than the ice. An inverted micrograph, whose
particles are brighter, is segmented negated, so that the model sees what it
was trained on: its carbon and contamination are found as in a raw micrograph,
and its picks are those of the raw micrograph (benchmarks/results/polarity.md).
:func:`segment_and_pick` is what ``icestat pick`` does with each micrograph.

A run of micrographs is of one acquisition, so one polarity: where most of a
run's micrographs look inverted (taken as bright, or taken as dark yet leaning
inverted) and some were taken as dark, ``icestat pick`` asks a few of those
that look inverted which way the model sees particles more clearly
(:func:`negated_gain`, :func:`run_reads_negated`) and, where most say negated
(and at least two), picks the run's dark ones again as bright.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from icestat.candidates import SIGMA_RADII
from icestat.classes import CARBON, CONTAMINATION
from icestat.diameter import estimate_diameter_px, segment_at_estimated_diameter
from icestat.evidence import particle_evidence
from icestat.micrograph import Micrograph
from icestat.model import IceModel
from icestat.pick import DEFAULT_THRESHOLD, MAX_EXCLUDED_PROBABILITY, Picks, pick
from icestat.polarity import check_polarity, opaque_majority_shown_bright
from icestat.scale_space import blob_response
from icestat.segment import MIN_BRIGHTER_FRACTION, Segmentation, segment

log = logging.getLogger(__name__)

#: A micrograph is seen more clearly negated (:func:`negated_gain`) where the model's particle evidence follows the
#: dark blobs of the negated micrograph more closely, by more than this correlation, than those of the micrograph as
#: given. On the first 2-3 masked micrographs of each set of ../shared/data, raw and inverted, and on six simulations,
#: with the shipped model and the recipe retrained without each set (benchmarks/README.md): 0.17-0.66 the right way
#: round on all 30 pairs (the shipped model on inverted 10017 and 10059, which :func:`icestat.pick.pick` alone takes
#: as dark: 0.19-0.37). But raw 512-px simulations with 40 % carbon, most of it missed, came out up to +0.07 the wrong
#: way, and two of ten +0.30 and +0.32, so a run is judged by a majority of its micrographs, never one alone
#: (:func:`run_reads_negated`).
MIN_AGREEMENT_GAIN = 0.15
#: What :func:`segment_and_pick` logs (a warning) where part of the micrograph is brighter than what it calls ice
#: (:func:`icestat.segment.brighter_than_ice`, over at least ``MIN_BRIGHTER_FRACTION`` of it).
BRIGHTER_THAN_ICE_WARNING = ("%s: %.0f%% of it is brighter than what is called ice: the micrograph may be mostly "
                             "carbon film (which icestat does not segment right), inverted (--polarity bright), or "
                             "have holes in its ice; check its overlay (icestat pick --overlays)")
#: How many of a run's micrographs that look inverted are asked (:func:`negated_gain`; two segmentations each).
RUN_POLARITY_VOTERS = 3


def negated(micrograph: Micrograph) -> Micrograph:
    """The micrograph with its grey levels negated (bright particles made dark), otherwise as it was."""
    return replace(micrograph, data=-micrograph.data)


def segment_and_pick(micrograph: Micrograph, model: IceModel, diameter_px: float | None = None,
                     threshold: float = DEFAULT_THRESHOLD, polarity: str = "auto", device: str = "cpu",
                     refine: bool = True, warn_if_crowded: bool = True,
                     faint_bumps: bool = True) -> tuple[Segmentation, Picks]:
    """Segment and pick a micrograph, read negated where its particles are brighter than the ice.

    Parameters
    ----------
    micrograph : Micrograph
    model : IceModel
    diameter_px : float, optional
        Particle diameter in pixels of the micrograph (it also sets the working
        scale, :func:`icestat.segment.segment`); estimated when None
        (:func:`icestat.diameter.segment_at_estimated_diameter`: on a coarser
        image where the model's working scale shows no particle).
    threshold, warn_if_crowded
        As for :func:`icestat.pick.pick`.
    polarity : {"auto", "dark", "bright"}
        The particles are darker than the ice (a raw micrograph) or brighter
        (an inverted one: segmented and picked negated); ``auto``: judged by
        :func:`icestat.pick.pick` on the micrograph as given (or, where no
        diameter is estimated there, by
        :func:`icestat.polarity.opaque_majority_shown_bright`), and where it
        says bright, the micrograph is segmented and picked again, negated.
    device, refine
        As for :func:`icestat.segment.segment`.
    faint_bumps : bool
        As for :func:`icestat.diameter.segment_at_estimated_diameter`, where the diameter is estimated.

    Returns
    -------
    segmentation : Segmentation
        Of the micrograph as given, or negated where the particles are bright.
    picks : Picks
        Its picks; their ``polarity`` is the particles' in the micrograph as
        given, and ``bright_balance`` what ``auto`` judged by.

    A warning is logged (``BRIGHTER_THAN_ICE_WARNING``) where part of the
    micrograph is brighter than what the segmentation calls ice
    (:func:`icestat.segment.brighter_than_ice`).

    Raises
    ------
    ValueError
        As :func:`icestat.pick.pick` does.
    """
    check_polarity(polarity)
    picking = dict(threshold=threshold, warn_if_crowded=warn_if_crowded, diameter_estimated=diameter_px is None)
    bright = polarity == "bright"
    if not bright:
        segmentation, used_px = _segmented(micrograph, model, diameter_px, device, refine, faint_bumps)
        picks = pick(segmentation, used_px, polarity=polarity, **picking)
        # without a diameter estimated as given (none on an inverted micrograph mostly of gold foil) the blobs are
        # not judged, but the foil shown bright still says inverted
        bright = picks.polarity == "bright" or (polarity == "auto" and not picks.polarity
                                                and opaque_majority_shown_bright(segmentation.working.data))
    if bright:
        bright_balance = picks.bright_balance if polarity == "auto" else float("nan")
        segmentation, used_px = _segmented(negated(micrograph), model, diameter_px, device, refine, faint_bumps)
        picks = replace(pick(segmentation, used_px, polarity="dark", **picking), polarity="bright",
                        bright_balance=bright_balance)
    if segmentation.brighter_than_ice_fraction >= MIN_BRIGHTER_FRACTION:
        log.warning(BRIGHTER_THAN_ICE_WARNING, micrograph.name, 100 * segmentation.brighter_than_ice_fraction)
    return segmentation, picks


def _segmented(micrograph: Micrograph, model: IceModel, diameter_px: float | None, device: str,
               refine: bool, faint_bumps: bool) -> tuple[Segmentation, float | None]:
    """Segmented for the diameter given, or for its estimate (:func:`icestat.diameter.segment_at_estimated_diameter`).

    Returns the segmentation and the diameter to pick with: the one given or the estimate (None where there is none).
    """
    if diameter_px is None:
        return segment_at_estimated_diameter(micrograph, model, device, refine, faint_bumps=faint_bumps)
    return segment(micrograph, model, device, refine, particle_diameter_px=diameter_px), diameter_px


def negated_gain(micrograph: Micrograph, model: IceModel, diameter_px: float | None = None, device: str = "cpu",
                 refine: bool = True) -> float:
    """How much more clearly the model sees dark particles in the negated micrograph than in the micrograph as given.

    The difference of :func:`dark_agreement` between the two readings, both
    segmented (:func:`icestat.segment.segment`): above
    ``MIN_AGREEMENT_GAIN``, the micrograph looks inverted to the model.

    Parameters
    ----------
    micrograph : Micrograph
    model : IceModel
    diameter_px : float, optional
        Particle diameter in pixels of the micrograph; estimated from the
        micrograph as given when None.
    device, refine
        As for :func:`icestat.segment.segment`.

    Returns
    -------
    float
        NaN where there is no particle diameter to judge at.
    """
    options = dict(model=model, device=device, refine=refine, particle_diameter_px=diameter_px)
    as_given = segment(micrograph, **options)
    diameter_px = estimate_diameter_px(as_given) if diameter_px is None else diameter_px
    radius_working_px = diameter_px / 2 / float(np.mean(as_given.working.scale))
    if not radius_working_px >= 1:   # NaN: no particle to judge at
        return float("nan")
    as_negated = segment(negated(micrograph), **options)
    return dark_agreement(as_negated, radius_working_px) - dark_agreement(as_given, radius_working_px)


def dark_agreement(segmentation: Segmentation, radius_working_px: float) -> float:
    """Correlation of the model's particle evidence with the dark blobs of the working image at the particles' scale.

    The response to dark blobs (sigma :data:`icestat.candidates.SIGMA_RADII` radii)
    against :func:`icestat.evidence.particle_evidence`, on every 4th row and
    column off what the model calls carbon or contamination; NaN where nothing
    is judged or the evidence is constant.
    """
    dark = -blob_response(segmentation.working.data, SIGMA_RADII * radius_working_px)
    excluded = segmentation.working_probabilities > MAX_EXCLUDED_PROBABILITY
    judged = (~excluded[CARBON] & ~excluded[CONTAMINATION])[::4, ::4]
    samples = dark[::4, ::4][judged], particle_evidence(segmentation)[::4, ::4][judged]
    if len(samples[0]) < 2:   # nothing judged
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):   # NaN for a constant evidence map
        return float(np.corrcoef(*samples)[0, 1])


def run_voters(polarities, bright_balances, n_voters: int = RUN_POLARITY_VOTERS) -> list[int]:
    """Which micrographs of a run to ask (:func:`negated_gain`): none unless most look inverted, some taken as dark.

    A micrograph looks inverted where it was taken as bright, or was taken as
    dark yet leans inverted: the image's balance of bright over dark blobs is
    positive, even under :data:`~icestat.polarity.MIN_BRIGHT_BALANCE` (at 0.6-1.5
    times the true diameter, as an estimate may be, inverted EMPIAR-10059
    balances +0.03 to +0.28 and raw -0.03 to -0.28; a sparse or noisy
    inverted micrograph may be taken as dark). Those taken as bright count with those
    that lean: a run is one acquisition. Asking costs two segmentations per
    micrograph asked; the answers decide (:func:`run_reads_negated`).

    Parameters
    ----------
    polarities : array_like of str
        The polarity each micrograph of the run was taken as (``dark``, ``bright``).
    bright_balances : array_like of float
        What each was judged by (:attr:`icestat.pick.Picks.bright_balance`).
    n_voters : int
        At most this many, spread evenly over those that look inverted.

    Returns
    -------
    list of int
        Their indices, in order.

    Examples
    --------
    >>> run_voters(["dark"] * 5, [0.3, 0.2, -0.4, 0.5, 0.2])
    [0, 3, 4]
    >>> run_voters(["dark", "dark", "bright"], [0.3, -0.2, 0.5]), run_voters(["dark"] * 2, [0.3, 0.4])
    ([0, 2], [0, 1])
    >>> run_voters(["dark", "dark", "bright"], [-0.3, -0.2, 0.5]), run_voters(["bright"] * 2, [0.3, 0.4])
    ([], [])
    >>> run_voters([], [])   # a run whose every micrograph failed
    []
    """
    polarities, bright_balances = np.asarray(polarities, dtype=str), np.asarray(bright_balances, dtype=np.float64)
    dark = polarities == "dark"
    looks_inverted = np.flatnonzero((dark & (bright_balances > 0)) | (polarities == "bright"))
    if not dark.any() or len(looks_inverted) <= len(polarities) / 2:
        return []
    spread = np.linspace(0, len(looks_inverted) - 1, min(n_voters, len(looks_inverted))).round().astype(int)
    return sorted({int(looks_inverted[i]) for i in spread})


def run_reads_negated(gains) -> bool:
    """Whether a run reads negated: most of the micrographs asked, and at least two, see particles more clearly so.

    One micrograph alone never decides (``MIN_AGREEMENT_GAIN``): a run of one stays as :func:`icestat.pick.pick`
    judged it.

    Parameters
    ----------
    gains : array_like of float
        :func:`negated_gain` of the micrographs asked (NaN counts against).

    Examples
    --------
    >>> run_reads_negated([0.3, 0.25, -0.2]), run_reads_negated([0.3, float("nan")]), run_reads_negated([0.3])
    (True, False, False)
    """
    n_negated = int(np.sum(np.asarray(gains, dtype=np.float64) > MIN_AGREEMENT_GAIN))
    return n_negated >= 2 and n_negated > len(gains) / 2
