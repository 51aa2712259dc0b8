"""Where particles may be in a working image: the locating response, its peaks, and which stand out of the noise.

Centres are located at pixel level: a scale-normalised Laplacian of Gaussian
at the particle's scale (:func:`particle_response`), turned so that particles
answer positively (dark particles, as in a raw micrograph, unless the caller
says they are bright, or the image's blobs at the particles' scale are mostly
bright ones away from carbon), in robust standard deviations of the whole
image (:func:`robust_z`). Its local maxima at least ``MIN_DISTANCE_RADII``
radii apart and ``MIN_CONTRAST`` standard deviations high are the candidates
(:func:`candidate_peaks`). Touching particles, which the patch-based
probability map merges into one region, are still told apart this way.

A candidate stands out of the image's shot noise where white noise alone
would rarely make one as high (:func:`too_faint`, on :func:`signal_to_noise`:
a false discovery rate over the micrograph's candidates): what keeps a
micrograph of nothing but ice, whose relative contrast looks like anyone's,
free of picks.
:func:`icestat.pick.pick` scores the candidates with the ice model.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.stats import false_discovery_control
from skimage.feature import peak_local_max

from icestat.frame import FrameBorder
from icestat.polarity import check_polarity, judge_polarity
from icestat.prepare import fourier_resample
from icestat.scale_space import MAD_TO_SD, blob_noise_sd, blob_responses, white_noise_sd

#: Width of the locating Laplacian of Gaussian, in particle radii (narrower than the 1 / sqrt 2 that answers
#: most strongly to a disk of that radius, to tell touching particles apart).
SIGMA_RADII = 0.5
#: ... and the second width it answers at, 1 / sqrt 2 radii: each pixel's response is the larger of the two, so a
#: faint particle whose fine detail drowns in noise is still found whole. Against the narrow width alone, true
#: diameter (benchmarks/README.md): EMPIAR-10059 held out 0.767 -> 0.812, its specimen held out 0.740 -> 0.778,
#: 10017 specimen held out 0.839 -> 0.837, 10028 and simulations (70-550 Å) unchanged, as many picks on empty ice;
#: a single width of 0.6 radii is worse (10059 held out 0.680).
WHOLE_PARTICLE_SIGMA_RADII = 1 / np.sqrt(2)
#: Candidates at least this many particle radii apart survive non-maximum suppression.
MIN_DISTANCE_RADII = 0.75
#: Candidates answer at least this many robust standard deviations of the image's response (where the contrast score
#: of :func:`icestat.pick.candidate_score` starts) ...
MIN_CONTRAST = 1.5
#: ... and stand out from the candidates the image's white noise alone makes (:func:`too_faint`): the contrast above
#: is relative to the micrograph, and on a micrograph of nothing but ice it finds as many candidates as anywhere.
#: Each candidate's height over the noise (:func:`signal_to_noise`) gets a p-value, the share of the candidates of
#: white noise alone as high (:func:`noise_candidate_heights`); those the Benjamini-Hochberg procedure keeps at this
#: false discovery rate stand out. The bar thus falls where many candidates stand out a little (a crowded, noisy
#: micrograph) and rises where few do. Against a fixed bar of 3.5 noise sd (benchmarks/README.md): picks on four
#: simulated 2048^2 micrographs of empty ice at 150 Å 36 -> 0; EMPIAR-10059 with the recipe retrained without it
#: and noise of 1 or 2 image sd added, F1 0.616 -> 0.687 and 0.234 -> 0.209; simulations of 5 or 20 faint
#: particles per micrograph 0.857 -> 0.968 and 0.901 -> 0.959, of 120 90-Å particles at 5 e/Å² 0.954 -> 0.948;
#: ../shared/data as stored unchanged. At 0.1 the noisy 10059 gained more (0.728, 0.309) and the simulations less
#: (0.857, 0.937, 0.927), and a model trained on 10059 alone picked simulations with F1 0.789 instead of 0.834
#: (0.821 at 0.05): with many strong particles the procedure lets in a share of noise's candidates, which such a
#: model does not veto.
MAX_FALSE_DISCOVERY_RATE = 0.05
#: ... the procedure adapted to the share of a micrograph's candidates that are noise's (Storey's estimate: the share of
#: p-values above this over 1 minus this, so about 1 on empty ice, where the candidates are noise's, and small where nearly
#: all stand out a little; 0 leaves the procedure as it was): without it, a crowded micrograph whose many particles are each
#: only a little above the noise kept few of them (EMPIAR-10059 with white noise of 2 image sd added, the recipe retrained
#: without it, F1 with the true diameter 0.185 -> 0.508, with its own estimate 0.154 -> 0.499; of 1 sd 0.673 -> 0.720 and
#: 0.672 -> 0.737; benchmarks/results/robustness.md). Every group of benchmarks/pick_sensitivity.py the same, as many picks
#: on empty ice (none): there the candidates' share of noise's is 1 and the procedure as before. A little noise gets in where
#: a few faint particles are all there is (simulations of 5 per micrograph at 15 e/Å², F1 0.923 -> 0.906; 90 Å at 5 e/Å²
#: 0.913 -> 0.906, with the estimated diameter 0.338 -> 0.530; benchmarks/README.md).
NOISE_P_VALUE_LAMBDA = 0.5
#: The white noise :func:`noise_candidate_heights` finds candidates on: its side, the particle radius (heights in noise
#: sd do not depend on it: quantiles within 0.1 at 3-40 px), and its seed.
NOISE_SIDE_PX = 1024
NOISE_RADIUS_PX = 4.0
NOISE_SEED = 20261205


def particle_response(image: np.ndarray, radius_px: float, polarity: str = "auto",
                      carbon: np.ndarray | None = None) -> tuple[np.ndarray, str, float]:
    """How much each pixel looks like the centre of a particle of `radius_px`, in the image's grey levels.

    Parameters
    ----------
    image : ndarray (h, w)
        The (working) image.
    radius_px : float
        Particle radius in pixels.
    polarity : {"auto", "dark", "bright"}
        Whether the particles are darker or brighter than the ice; ``auto``:
        as :func:`icestat.polarity.judge_polarity` judges the image.
    carbon : ndarray (h, w) of bool, optional
        Where the model sees carbon, which ``auto`` does not judge by (see
        :func:`~icestat.polarity.judge_polarity`).

    Returns
    -------
    response : ndarray (h, w) of float32
        The scale-normalised Laplacian of Gaussian (:func:`icestat.scale_space.blob_response`)
        at sigma = ``SIGMA_RADII`` and ``WHOLE_PARTICLE_SIGMA_RADII`` radii,
        each turned to answer to blobs of the particles' polarity and less its
        median, the larger of the two.
    polarity : {"dark", "bright"}
        The particles' polarity: `polarity` itself unless that is ``auto``.
    balance : float
        With ``auto``, the balance of bright over dark blobs the image was
        judged by (:func:`icestat.polarity.bright_balance`; above
        :data:`~icestat.polarity.MIN_BRIGHT_BALANCE` the image looks
        inverted); NaN when `polarity` was said.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:96, :96]
    >>> dark_disk = -(np.hypot(yy - 40, xx - 50) <= 8).astype(float)
    >>> noisy = dark_disk + np.random.default_rng(0).normal(0, 0.2, dark_disk.shape)
    >>> response, polarity, _ = particle_response(noisy, radius_px=8.0)
    >>> contrast = robust_z(response)
    >>> row, col = np.unravel_index(contrast.argmax(), contrast.shape)
    >>> polarity, bool(np.hypot(row - 40, col - 50) <= 1.5), bool(contrast.max() > 5)
    ('dark', True, True)
    >>> response, polarity, _ = particle_response(-noisy, radius_px=8.0)   # inverted: the disk is bright, and found
    >>> row, col = np.unravel_index(response.argmax(), response.shape)
    >>> polarity, bool(np.hypot(row - 40, col - 50) <= 1.5)
    ('bright', True)
    """
    check_polarity(polarity)
    bright, bright_whole = blob_responses(image, (SIGMA_RADII * radius_px, WHOLE_PARTICLE_SIGMA_RADII * radius_px))
    balance = float("nan")
    if polarity == "auto":
        polarity, balance = judge_polarity(image, radius_px, carbon)
    sign = 1.0 if polarity == "bright" else -1.0
    turned = [sign * bright, sign * bright_whole]
    return np.maximum(*(response - np.median(response) for response in turned)), polarity, balance


def candidate_peaks(contrast: np.ndarray, radius_px: float,
                    min_contrast: float = MIN_CONTRAST) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the candidates: local maxima of `contrast` (robust SDs) at least `min_contrast` high and
    ``MIN_DISTANCE_RADII`` radii of `radius_px` apart (a lower `min_contrast`: what the bar leaves out, as
    benchmarks/recall_stages.py counts it)."""
    return peak_local_max(contrast, min_distance=max(1, int(round(MIN_DISTANCE_RADII * radius_px))),
                          threshold_abs=min_contrast, exclude_border=False).T


def too_faint(heights: np.ndarray) -> np.ndarray:
    """Which of a micrograph's candidates do not stand out from those its white noise alone would make.

    Each candidate's p-value is the share of the candidates of white noise
    alone at least as high (:func:`noise_candidate_heights`); the candidates
    the Benjamini-Hochberg procedure (:func:`scipy.stats.false_discovery_control`)
    keeps at ``MAX_FALSE_DISCOVERY_RATE``, adapted to the share of the
    candidates that are noise's (its adjusted p-values times Storey's estimate
    of that share: one more than the number of p-values above
    ``NOISE_P_VALUE_LAMBDA``, over 1 - ``NOISE_P_VALUE_LAMBDA`` times the
    number of candidates, at most 1), stand out, and so does any higher
    than every candidate of the noise (whose p-value the noise's sample
    cannot make small enough for the procedure among thousands of candidates,
    as small particles on a large micrograph make: one strong particle among
    3000 would otherwise need two more as strong); the rest are too faint.

    Parameters
    ----------
    heights : ndarray (n,)
        The candidates' :func:`signal_to_noise` (NaN or infinite where the image
        has no noise: such candidates stand out).

    Returns
    -------
    ndarray (n,) of bool

    Examples
    --------
    Among 200 candidates of the median height of noise's (2 sd), three 4.5 sd high stand out, three 3.5 sd high do
    not; 3.25 sd high, 150 of 200 stand out together, 50 do not.

    >>> import numpy as np
    >>> too_faint(np.r_[np.full(200, 2.0), 4.5, 4.5, 4.5])[-3:].tolist()
    [False, False, False]
    >>> too_faint(np.r_[np.full(200, 2.0), 3.5, 3.5, 3.5])[-3:].tolist()
    [True, True, True]
    >>> many, few = np.r_[np.full(50, 2.0), np.full(150, 3.25)], np.r_[np.full(150, 2.0), np.full(50, 3.25)]
    >>> bool(too_faint(many)[-1]), bool(too_faint(few)[-1])
    (False, True)
    >>> too_faint(np.r_[np.full(3000, 2.0), 9.0])[-1].item()   # higher than any of the noise's
    False
    """
    null = noise_candidate_heights()
    p_values = (1 + len(null) - np.searchsorted(null, heights, side="left")) / (1 + len(null))
    if len(p_values) == 0:
        return np.zeros(0, dtype=bool)
    noise_share = min(1.0, (1 + np.count_nonzero(p_values > NOISE_P_VALUE_LAMBDA))
                      / ((1 - NOISE_P_VALUE_LAMBDA) * len(p_values)))
    above_all_noise = np.asarray(heights) > null[-1]
    return (noise_share * false_discovery_control(p_values) > MAX_FALSE_DISCOVERY_RATE) & ~above_all_noise


@cache
def noise_candidate_heights() -> np.ndarray:
    """Heights over the noise (:func:`signal_to_noise`) of the candidates white noise alone makes, sorted.

    Found as :func:`icestat.pick.pick` finds candidates, on seeded white noise of
    ``NOISE_SIDE_PX`` square at ``NOISE_RADIUS_PX``, those nearer its edge
    than a radius left out (as :func:`icestat.pick.pick` rejects them): about 11 600, made
    once per process (0.5 s). In units of the noise the heights do not depend
    on the radius, the response being scale-normalised: their 50, 90 and 99 %
    quantiles were 2.0, 2.8 and 3.5 at radii of 3 to 40 px, and those of the
    candidates on simulated micrographs of empty ice were the same (2.0-2.1,
    2.7-2.9, 3.4-3.7; benchmarks/README.md).
    """
    noise = np.random.default_rng(NOISE_SEED).standard_normal((NOISE_SIDE_PX, NOISE_SIDE_PX), dtype=np.float32)
    response = particle_response(noise, NOISE_RADIUS_PX, "dark")[0]
    rows, cols = candidate_peaks(robust_z(response), NOISE_RADIUS_PX)
    inside = ~near_edge_at(rows, cols, noise.shape, NOISE_RADIUS_PX)
    return np.sort(signal_to_noise(response[rows[inside], cols[inside]], noise, NOISE_RADIUS_PX))


def signal_to_noise(response: np.ndarray, image: np.ndarray, radius_px: float,
                    scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Values of a :func:`particle_response` of `image` in standard deviations of what its white noise alone would give.

    At the response's narrow width (``SIGMA_RADII``), the noisier of its two:
    on white noise alone the response, the larger of two, spreads 0.8 of that.

    Parameters
    ----------
    response : ndarray
        Values of :func:`particle_response` (the whole map, or at candidates).
    image : ndarray (h, w)
        The image it was computed from (its noise is estimated by
        :func:`icestat.scale_space.white_noise_sd`).
    radius_px : float
        The particle radius it was computed with, in pixels.
    scale : (float, float), optional
        Micrograph pixels per pixel of `image` along rows and columns
        (:attr:`icestat.prepare.WorkingImage.scale`). Where it is under 1, the
        image is the micrograph enlarged, and its noise fills only the
        frequencies the micrograph had (at its finest scale the image holds
        next to none): the noise is then measured on the image brought back to
        the micrograph's sampling, where it is white, and taken as the white
        noise whose responses would spread as much (times the square root of
        the enlargement).

    Returns
    -------
    ndarray of float32, shaped like `response`
        Infinite (NaN where the response is 0) when the image has no noise at
        its finest scale: nothing is then too faint.

    Examples
    --------
    >>> import numpy as np
    >>> from icestat.scale_space import blob_response
    >>> noise = np.random.default_rng(1).normal(0.0, 1.0, (256, 256)).astype(np.float32)
    >>> narrow = blob_response(noise, SIGMA_RADII * 8.0)
    >>> round(float(signal_to_noise(narrow, noise, 8.0).std()), 1)   # noise alone: one standard deviation
    1.0
    >>> round(float(signal_to_noise(particle_response(noise, 8.0)[0], noise, 8.0).std()), 1)
    0.8
    """
    noise_sd = _white_noise_sd(image, scale) * blob_noise_sd(SIGMA_RADII * radius_px)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(response, dtype=np.float32) / np.float32(noise_sd)).astype(np.float32)


def _white_noise_sd(image: np.ndarray, scale: tuple[float, float]) -> float:
    """The standard deviation of the white noise that gives `image`'s noise, where `image` may be a micrograph enlarged
    (`scale` as for :func:`signal_to_noise`)."""
    enlargement = np.maximum(1.0, 1.0 / np.asarray(scale, dtype=np.float64))
    if np.all(enlargement == 1.0):
        return white_noise_sd(image)
    sampled_as_the_micrograph = tuple(int(round(side / factor)) for side, factor in zip(image.shape, enlargement))
    return white_noise_sd(fourier_resample(image, sampled_as_the_micrograph)) * float(np.sqrt(np.prod(enlargement)))


def robust_z(response: np.ndarray) -> np.ndarray:
    """A response map minus its median, over 1.4826 times its median absolute deviation (zeros without spread).

    Examples
    --------
    >>> [round(float(z), 2) for z in robust_z(np.array([0.0, 1.0, 2.0, 3.0, 10.0]))]
    [-1.35, -0.67, 0.0, 0.67, 5.4]
    """
    centre = np.median(response)
    spread = MAD_TO_SD * np.median(np.abs(response - centre))
    return ((response - centre) / spread if spread > 0 else np.zeros_like(response)).astype(np.float32)


def near_edge_at(y_px, x_px, shape: tuple[int, int], radius_px: float,
                 frame_border: FrameBorder = FrameBorder()) -> np.ndarray:
    """True for the centres (in pixels of an image of `shape`) closer than `radius_px` to the edge of its data.

    The data end at the image's edge, or at its frame border (:mod:`icestat.frame`) where it has one.

    Examples
    --------
    >>> near_edge_at([50, 50, 50], [5, 30, 95], (100, 100), 10, FrameBorder(left_px=15)).tolist()
    [True, False, True]
    """
    y_px, x_px = np.asarray(y_px), np.asarray(x_px)
    top, bottom, left, right = frame_border
    return ((y_px < top + radius_px) | (x_px < left + radius_px) | (y_px > shape[0] - 1 - bottom - radius_px)
            | (x_px > shape[1] - 1 - right - radius_px))
