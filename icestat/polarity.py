"""The particles' polarity: darker than the ice (a raw bright-field micrograph) or brighter (an inverted one).

:func:`judge_polarity` is what :func:`icestat.pick.pick` does with polarity
``auto``: bright where the image's blobs at the particles' scale are mostly
bright ones (:func:`bright_balance`; benchmarks/results/polarity.md), or where
its majority is opaque foil shown bright (:func:`opaque_majority_shown_bright`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from icestat.prepare import robust_centre_and_spread
from icestat.scale_space import hessian_eigenvalues

#: What :func:`icestat.pick.pick` may be told of the particles: darker than the ice (a raw bright-field micrograph), brighter
#: (an inverted micrograph), or ``auto`` (``MIN_BRIGHT_BALANCE``).
POLARITIES = ("auto", "dark", "bright")
#: With polarity ``auto`` the particles are taken as bright where the balance of bright over dark blobs at the
#: particles' scale, at least a particle radius from what the model calls carbon, is above this
#: (:func:`bright_balance`). In a bright-field micrograph whatever scatters (protein, carbon, contamination) is darker
#: than the ice, so its blobs are dark ones. A blob curves the same way across and along; an edge (a hole's rim,
#: carbon the model misses, the ice beside a contamination blob) curves one way only and weighs nothing, which the
#: skewness of the Laplacian of Gaussian judged before could not tell: raw simulations with film skewed up to +0.46
#: (taken as inverted where a model trained on real micrographs alone agreed), so the model had to agree as well,
#: and it answered inverted micrographs too weakly to (benchmarks/README.md). As picked (benchmarks/results/
#: polarity.md), every raw micrograph of ../shared/data balances -0.16 to -0.81 and raw simulations with carbon
#: -0.79 to -0.93; inverted, the opposite. Throw-away checks on the working image (no carbon kept out): at 0.6-1.5
#: times the true diameter, as an estimate may be, the raw micrographs of ../shared/data -0.03 to -0.81, with white
#: noise of 1-2 image sd added -0.03 to -0.74, the raw micrograph with contamination -0.55 to -1.00 at 30-250 px;
#: simulations with debris, thick ice, a steep gradient, far or close defocus, astigmatism, 70-400 Å particles or
#: five of them -0.13 to -0.96; empty ice -0.28 to +0.10. Micrographs mostly of film are judged on what the film
#: leaves: 15 raw simulations with 60-85 % film, picked as ``icestat pick`` picks them, all dark (-0.06 to -0.84),
#: and 13 of them inverted bright (7 of which the rule kept before, dark wherever over half is called carbon, left
#: dark). The
#: threshold leaves raw micrographs a wide margin; an inverted one under it (noisy, sparse, a wrong diameter) is
#: still turned by its run's vote (:func:`icestat.bright_field.run_voters`).
MIN_BRIGHT_BALANCE = 0.15
#: The width of the Gaussian the blobs are judged at, in particle radii (as the picker's narrower width,
#: :data:`icestat.candidates.SIGMA_RADII`, locates them).
BALANCE_SIGMA_RADII = 0.5
#: The balance is judged on at least this many pixels (dark where fewer are left).
MIN_JUDGED_PX = 100
#: Opaque (gold) foil passes no electrons: in a raw micrograph mostly of it, it is a flat field darker than anything,
#: and shown bright (inverted) it is the brightest, its edge and the hole's few bright particles too little for the
#: balance (-1.00 to +0.15 on simulations with 70-85 % gold, judged dark and picked with F1 0). The part of the image
#: darker than its majority (``DARKER_SD`` robust sd of the local means below their median, over at least
#: ``MIN_DARKER_FRACTION``) is then the hole, whose grey levels spread 17-42 times more than the whole's (70-85 %
#: gold, working image, local means over 32 px); a raw micrograph's darker part (film, contamination) spreads at most
#: 6.1 times more (simulations with film, contamination or debris, and 12 varied ones: 0-6.1; ../shared/data: 1.0-3.3),
#: and a raw micrograph mostly of vacuum, flat too but brightest, is not flagged (simulations, 51-94 % vacuum).
OPAQUE_SHOWN_BRIGHT_SPREAD = 10.0
#: Local means (:func:`opaque_majority_shown_bright`) over a square of this side, in working pixels (the model's patch).
LOCAL_MEAN_PX = 32
#: A local mean this many robust sd of the local means below their median is darker than the majority.
DARKER_SD = 3.0
#: The darker part is judged where it covers at least this fraction of the image.
MIN_DARKER_FRACTION = 0.05


def check_polarity(polarity: str) -> None:
    """Raise ValueError unless `polarity` is one of ``POLARITIES``."""
    if polarity not in POLARITIES:
        raise ValueError(f"particle polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")


def judge_polarity(image: np.ndarray, radius_px: float, carbon: np.ndarray | None = None) -> tuple[str, float]:
    """Whether the particles are darker or brighter than the ice, from the balance of the image's blobs.

    Parameters
    ----------
    image : ndarray (h, w)
        The (working) image.
    radius_px : float
        Particle radius in pixels.
    carbon : ndarray (h, w) of bool, optional
        Where the model sees carbon, whose film says nothing of the particles'
        polarity (none when None).

    Returns
    -------
    polarity : {"dark", "bright"}
        ``bright`` where the balance of bright over dark blobs away from
        `carbon` (:func:`bright_balance`) is above ``MIN_BRIGHT_BALANCE``, or
        where the image's majority is opaque foil shown bright
        (:func:`opaque_majority_shown_bright`).
    balance : float
        That balance: what the image says (above 0: more bright blobs than dark).

    Examples
    --------
    >>> yy, xx = np.mgrid[:128, :128]
    >>> dark_disks = -sum(np.hypot(yy - row, xx - col) <= 6 for row, col in [(30, 30), (30, 90), (90, 60)])
    >>> film = xx >= 100
    >>> raw = dark_disks - 3.0 * film + np.random.default_rng(0).normal(0, 0.3, dark_disks.shape)
    >>> judge_polarity(raw, 6.0)[0], judge_polarity(-raw, 6.0)[0]   # the film's edge weighs nothing
    ('dark', 'bright')
    >>> judge_polarity(-raw, 6.0, carbon=xx >= 75)[0]   # judged on what the film leaves, however little
    'bright'
    """
    carbon = np.zeros(np.shape(image), dtype=bool) if carbon is None else np.asarray(carbon, dtype=bool)
    balance = bright_balance(image, radius_px, ~carbon)
    bright = balance > MIN_BRIGHT_BALANCE or opaque_majority_shown_bright(image)
    return "bright" if bright else "dark", balance


def opaque_majority_shown_bright(image: np.ndarray) -> bool:
    """Whether the image's majority looks like opaque (gold) foil shown bright: the micrograph inverted.

    Its part darker than the majority (local means over ``LOCAL_MEAN_PX``
    more than ``DARKER_SD`` robust standard deviations of them below their
    median, over at least ``MIN_DARKER_FRACTION`` of the image) spreads more
    than ``OPAQUE_SHOWN_BRIGHT_SPREAD`` times the whole image (robust standard
    deviations of the grey levels): the hole's ice and particles against the
    flat field of foil that passes no electrons, which in a raw micrograph is
    the darkest thing there is, never the majority that the rest is darker than.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> foil = rng.normal(0.0, 0.05, (256, 256))               # raw: opaque foil, a flat field of few counts
    >>> foil[:, 160:] = rng.normal(10.0, 2.0, (256, 96))      # the hole's ice, brighter and textured
    >>> bool(opaque_majority_shown_bright(foil)), bool(opaque_majority_shown_bright(-foil))
    (False, True)
    """
    image = np.asarray(image, dtype=np.float32)
    local_mean = ndimage.uniform_filter(image, LOCAL_MEAN_PX, mode="reflect")
    centre, spread = robust_centre_and_spread(local_mean)
    darker = local_mean < float(centre) - DARKER_SD * float(spread)
    if np.mean(darker) < MIN_DARKER_FRACTION:
        return False
    _, darker_spread = robust_centre_and_spread(image[darker][None, :])   # one row: no subsample
    _, whole_spread = robust_centre_and_spread(image)
    return bool(darker_spread > OPAQUE_SHOWN_BRIGHT_SPREAD * whole_spread)


def bright_balance(image: np.ndarray, radius_px: float, judged_where: np.ndarray | None = None) -> float:
    """How much more the image's blobs at the particles' scale are bright ones than dark ones, -1 to 1.

    The Hessian of the image smoothed at ``BALANCE_SIGMA_RADII`` radii
    (:func:`icestat.scale_space.hessian_eigenvalues`) has two positive
    eigenvalues on a dark blob and two negative on a bright one; a blob's
    strength is the smaller of the two in size, so an edge, curved one way
    only, has none. The balance is ``(B - D) / (B + D)``, B and D the sums of
    the squared strengths of the bright and the dark blobs over the pixels
    judged: those at least `radius_px` from the pixels not judged (carbon),
    whose edges would otherwise count.

    Parameters
    ----------
    image : ndarray (h, w)
        The (working) image.
    radius_px : float
        Particle radius in pixels.
    judged_where : ndarray (h, w) of bool, optional
        Where to judge; everywhere when None.

    Returns
    -------
    float
        NaN when fewer than ``MIN_JUDGED_PX`` pixels are judged or none is on a blob.

    Examples
    --------
    >>> yy, xx = np.mgrid[:128, :128]
    >>> dark_disks = -sum(np.hypot(yy - row, xx - col) <= 6 for row, col in [(30, 30), (30, 90), (90, 60)])
    >>> noisy = dark_disks + np.random.default_rng(0).normal(0, 0.3, dark_disks.shape)
    >>> bool(bright_balance(noisy, 6.0) < -0.5), bool(bright_balance(-noisy, 6.0) > 0.5)
    (True, True)
    """
    if judged_where is None or np.all(judged_where):   # nothing to keep away from
        judged = np.ones(np.shape(image), dtype=bool)
    else:
        judged = ndimage.binary_erosion(judged_where, iterations=max(1, int(round(radius_px))), border_value=1)
    if np.count_nonzero(judged) < MIN_JUDGED_PX:
        return float("nan")
    larger, smaller = hessian_eigenvalues(image, BALANCE_SIGMA_RADII * radius_px)
    bright = np.square(np.maximum(-larger[judged], 0.0), dtype=np.float64).sum()
    dark = np.square(np.maximum(smaller[judged], 0.0), dtype=np.float64).sum()
    if not bright + dark > 0:
        return float("nan")
    return float((bright - dark) / (bright + dark))
