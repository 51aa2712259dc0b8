"""Micrographs read as bright-field images: their particles darker than the ice, as the model learnt them.

The model learnt bright-field micrographs, in which whatever scatters (protein,
carbon, contamination) is darker than the ice. An inverted micrograph, whose
particles are brighter, is segmented negated, so that the model sees what it
was trained on: its carbon and contamination are found as in a raw micrograph,
and its picks are those of the raw micrograph (benchmarks/results/polarity.md).
:func:`segment_and_pick` is what ``icestat pick`` does with each micrograph.
"""

from __future__ import annotations

from dataclasses import replace

from icestat.micrograph import Micrograph
from icestat.model import IceModel
from icestat.pick import DEFAULT_THRESHOLD, Picks, pick
from icestat.polarity import check_polarity
from icestat.segment import Segmentation, segment


def negated(micrograph: Micrograph) -> Micrograph:
    """The micrograph with its grey levels negated (bright particles made dark), otherwise as it was."""
    return replace(micrograph, data=-micrograph.data)


def segment_and_pick(micrograph: Micrograph, model: IceModel, diameter_px: float | None = None,
                     threshold: float = DEFAULT_THRESHOLD, polarity: str = "auto", device: str = "cpu",
                     refine: bool = True, warn_if_crowded: bool = True) -> tuple[Segmentation, Picks]:
    """Segment and pick a micrograph, read negated where its particles are brighter than the ice.

    Parameters
    ----------
    micrograph : Micrograph
    model : IceModel
    diameter_px : float, optional
        Particle diameter in pixels of the micrograph (it also sets the working
        scale, :func:`icestat.segment.segment`); estimated when None.
    threshold, warn_if_crowded
        As for :func:`icestat.pick.pick`.
    polarity : {"auto", "dark", "bright"}
        The particles are darker than the ice (a raw micrograph) or brighter
        (an inverted one: segmented and picked negated); ``auto``: judged by
        :func:`icestat.pick.pick` on the micrograph as given, and where it
        says bright, the micrograph is segmented and picked again, negated.
    device, refine
        As for :func:`icestat.segment.segment`.

    Returns
    -------
    segmentation : Segmentation
        Of the micrograph as given, or negated where the particles are bright.
    picks : Picks
        Its picks; their ``polarity`` is the particles' in the micrograph as
        given, and ``bright_skew`` what ``auto`` judged by.

    Raises
    ------
    ValueError
        As :func:`icestat.pick.pick` does.
    """
    check_polarity(polarity)
    options = dict(model=model, device=device, refine=refine, particle_diameter_px=diameter_px)
    picking = dict(diameter_px=diameter_px, threshold=threshold, warn_if_crowded=warn_if_crowded)
    if polarity != "bright":
        segmentation = segment(micrograph, **options)
        picks = pick(segmentation, polarity=polarity, **picking)
        if picks.polarity != "bright":
            return segmentation, picks
    segmentation = segment(negated(micrograph), **options)
    bright_skew = picks.bright_skew if polarity == "auto" else float("nan")
    return segmentation, replace(pick(segmentation, polarity="dark", **picking), polarity="bright",
                                 bright_skew=bright_skew)
