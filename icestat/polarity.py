"""The particles' polarity: darker than the ice (a raw bright-field micrograph) or brighter (an inverted one).

:func:`judge_polarity` is what :func:`icestat.pick.pick` does with polarity
``auto``: bright only where the image (:func:`bright_skew`) and the model
(:func:`bright_agreement`) both say so (benchmarks/results/polarity.md).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats

#: What :func:`icestat.pick.pick` may be told of the particles: darker than the ice (a raw bright-field micrograph), brighter
#: (an inverted micrograph), or ``auto`` (``MIN_BRIGHT_SKEW`` and ``MIN_BRIGHT_AGREEMENT``).
POLARITIES = ("auto", "dark", "bright")
#: With polarity ``auto`` the particles are taken as bright only where the image and the model both say so. The
#: image: the response to bright blobs at the particles' scale, at least a particle radius from what the model
#: calls carbon, is skewed towards bright blobs by more than this (:func:`bright_skew`). In a bright-field
#: micrograph whatever scatters (protein, carbon, contamination) is darker than the ice, so the few pixels on
#: particles make the long tail of the response on the dark side, and inverted on the bright side: -0.13 to -1.25
#: on every micrograph of ../shared/data, +0.13 to +1.25 inverted (benchmarks/results/polarity.md). Contamination
#: is judged with the ice: a model that takes large particles for it would otherwise leave only the ice between
#: them, which looks like bright blobs. Carbon the model misses speaks louder than the particles (the rim of a hole
#: answers like a bright blob): +0.20 and +0.36 on two raw simulations of six with the shipped model, and the
#: models compare.py trains on real micrographs alone (no carbon) picked simulations with carbon at 0.40-0.56
#: instead of 0.83-0.98 when the image alone decided.
MIN_BRIGHT_SKEW = 0.1
#: ... judged on at least this many pixels (dark where fewer are left) ...
MIN_JUDGED_PX = 100
#: ... and the model: the correlation of that response with its particle probability, off carbon and
#: contamination (:func:`bright_agreement`), is above this (the shipped model: -0.14 to -0.49 on raw micrographs of
#: ../shared/data, -0.18 to -0.71 on raw simulations; -0.03 to +0.24 on inverted ones, which it answers weakly). A
#: model that barely saw the specimen answers +0.03 to +0.08 either way, and a model that leans bright where the
#: image clearly says dark (the U-Net compare.py trains on EMPIAR-10017, on 10028 and 10059: +0.10 to +0.30) is
#: overruled by the image.
MIN_BRIGHT_AGREEMENT = 0.1
#: Where more than this fraction of the micrograph is called carbon, what is left to judge by is the hole of a
#: micrograph mostly of film (:func:`icestat.segment.segment`), whose rim and crowded particles the image and the
#: model answer either way: 3 of 15 simulations with 60-85 % film, raw and segmented with their film found, were
#: judged bright (F1 0.00; 0.88-0.95 as dark). The particles are taken as dark there, the raw reading; the skew
#: is still returned, so a run that reads inverted still turns them (:func:`icestat.bright_field.run_voters`).
MAX_JUDGED_CARBON_FRACTION = 0.5


def check_polarity(polarity: str) -> None:
    """Raise ValueError unless `polarity` is one of ``POLARITIES``."""
    if polarity not in POLARITIES:
        raise ValueError(f"particle polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")


def judge_polarity(bright: np.ndarray, radius_px: float, particle_probability: np.ndarray | None = None,
                   carbon: np.ndarray | None = None, contamination: np.ndarray | None = None) -> tuple[str, float]:
    """Whether the particles are darker or brighter than the ice, from the response to bright blobs.

    Parameters
    ----------
    bright : ndarray (h, w)
        The response to bright blobs at the particles' scale
        (:func:`icestat.scale_space.blob_response`).
    radius_px : float
        Particle radius in pixels.
    particle_probability : ndarray (h, w), optional
        The model's particle probability (or evidence) per pixel; without it
        the skewness alone decides.
    carbon, contamination : ndarray (h, w) of bool, optional
        Where the model sees carbon and contamination, whose edges answer the
        filter strongly but say nothing of the particles' polarity (none when None).

    Returns
    -------
    polarity : {"dark", "bright"}
        ``bright`` where the skewness of `bright` away from `carbon`
        (:func:`bright_skew`) is above ``MIN_BRIGHT_SKEW`` and its correlation
        with `particle_probability` away from `carbon` and `contamination`
        (:func:`bright_agreement`) is above ``MIN_BRIGHT_AGREEMENT``, and no
        more than ``MAX_JUDGED_CARBON_FRACTION`` of the image is `carbon`.
    skew : float
        That skewness: what the image alone says (above ``MIN_BRIGHT_SKEW``:
        bright, whether or not the model agreed).
    """
    nowhere = np.zeros(np.shape(bright), dtype=bool)
    carbon = nowhere if carbon is None else carbon
    contamination = nowhere if contamination is None else contamination
    skew = bright_skew(bright, radius_px, ~carbon)
    says_bright = skew > MIN_BRIGHT_SKEW and carbon.mean() <= MAX_JUDGED_CARBON_FRACTION
    if says_bright and particle_probability is not None:
        says_bright = bright_agreement(bright, particle_probability, ~carbon & ~contamination) > MIN_BRIGHT_AGREEMENT
    return "bright" if says_bright else "dark", skew


def bright_skew(bright: np.ndarray, radius_px: float, judged_where: np.ndarray | None = None) -> float:
    """Skewness of the response to bright blobs where judged, at least `radius_px` from the pixels not judged.

    What :func:`judge_polarity` compares with
    ``MIN_BRIGHT_SKEW``: positive where the blobs that stand out of the ice are
    bright. Taken on every 2nd row and column; the pixels within a radius of
    those not judged (carbon) answer to their edges.

    Parameters
    ----------
    bright : ndarray (h, w)
        The response to bright blobs (:func:`icestat.scale_space.blob_response`).
    radius_px : float
        Particle radius in pixels.
    judged_where : ndarray (h, w) of bool, optional
        Where to judge; everywhere when None.

    Returns
    -------
    float
        NaN when fewer than ``MIN_JUDGED_PX`` pixels are judged or the response is constant there.

    Examples
    --------
    >>> from icestat.scale_space import blob_response
    >>> yy, xx = np.mgrid[:128, :128]
    >>> dark_disks = -sum(np.hypot(yy - row, xx - col) <= 6 for row, col in [(30, 30), (30, 90), (90, 60)])
    >>> noisy = dark_disks + np.random.default_rng(0).normal(0, 0.3, dark_disks.shape)
    >>> bright = blob_response(noisy, 3.0)
    >>> bool(bright_skew(bright, 6.0) < -MIN_BRIGHT_SKEW), bool(bright_skew(-bright, 6.0) > MIN_BRIGHT_SKEW)
    (True, True)
    """
    if judged_where is None or np.all(judged_where):   # nothing to keep away from
        judged = np.ones(bright.shape, dtype=bool)
    else:
        judged = ndimage.binary_erosion(judged_where, iterations=max(1, int(round(radius_px))), border_value=1)
    samples = np.asarray(bright)[::2, ::2][judged[::2, ::2]].astype(np.float64)
    if len(samples) < MIN_JUDGED_PX or not samples.std() > 0:
        return float("nan")
    return float(stats.skew(samples))


def bright_agreement(bright: np.ndarray, particle_probability: np.ndarray, judged_where: np.ndarray | None) -> float:
    """Correlation of `bright` with `particle_probability` on every 4th row and column where judged (NaN if undecided).

    What :func:`judge_polarity` compares with ``MIN_BRIGHT_AGREEMENT``; `bright` is the
    response to bright blobs (:func:`icestat.scale_space.blob_response`); judged everywhere when `judged_where` is None.
    """
    judged = np.ones(bright.shape, dtype=bool) if judged_where is None else np.asarray(judged_where, dtype=bool)
    samples = bright[::4, ::4][judged[::4, ::4]], np.asarray(particle_probability)[::4, ::4][judged[::4, ::4]]
    if len(samples[0]) < 2:   # nothing judged
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):   # NaN for a constant probability map
        return float(np.corrcoef(*samples)[0, 1])
