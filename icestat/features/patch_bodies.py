"""What each CPU kernel computes for one patch, in the subset of Python that both Numba targets compile.

These are plain Python functions in the subset that ``numba.njit`` and
``numba.cuda.jit(device=True)`` both compile (scalar loops, ``math``, writes
into arrays passed in, no allocation and no calls to other functions);
:mod:`icestat.features.cpu` compiles them for the CPU and loops over the
patches in parallel. :mod:`icestat.features.gpu` compiles :func:`haralick` as
a CUDA device function; its other kernels share each patch among a block of
threads, which these serial loops cannot (the tests hold both to the same
references). Each fills ``out[i, j, ...]`` for the
patch whose top-left pixel is ``(top, left)``. :func:`x_log_x_table` and
:func:`lbp_circle_offsets`, the host functions here, make the tables that
:func:`haralick` and the LBP kernels read.
"""

from __future__ import annotations

import math

import numpy as np


def moments(image, top, left, patch_px, out, i, j):
    """Mean, standard deviation, skewness and excess kurtosis of one patch (two passes, float64)."""
    n_pixels = patch_px * patch_px
    total = 0.0
    for r in range(top, top + patch_px):
        for c in range(left, left + patch_px):
            total += float(image[r, c])
    mean = total / n_pixels
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    for r in range(top, top + patch_px):
        for c in range(left, left + patch_px):
            d = float(image[r, c]) - mean
            d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
    m2 /= n_pixels
    m3 /= n_pixels
    m4 /= n_pixels
    out[i, j, 0] = mean
    out[i, j, 1] = math.sqrt(m2)
    if m2 > 0:
        out[i, j, 2] = m3 / m2**1.5
        out[i, j, 3] = m4 / (m2 * m2) - 3.0
    else:
        out[i, j, 2] = 0.0
        out[i, j, 3] = 0.0


def gradient_stats(gx, gy, edge_threshold2, top, left, patch_px, out, i, j):
    """Means of gx^2, gy^2, gx*gy and of (gx^2 + gy^2 > edge_threshold2) over one patch: ``out[:, i, j]``."""
    xx = 0.0
    yy = 0.0
    xy = 0.0
    edges = 0.0
    for r in range(top, top + patch_px):
        for c in range(left, left + patch_px):
            x = float(gx[r, c])
            y = float(gy[r, c])
            xx += x * x
            yy += y * y
            xy += x * y
            if x * x + y * y > edge_threshold2:
                edges += 1.0
    n_pixels = patch_px * patch_px
    out[0, i, j] = xx / n_pixels
    out[1, i, j] = yy / n_pixels
    out[2, i, j] = xy / n_pixels
    out[3, i, j] = edges / n_pixels


def histogram(codes, top, left, patch_px, n_codes, out, i, j):
    """Fraction of one patch's pixels holding each code ``0 .. n_codes - 1``: ``out[i, j, :n_codes]``."""
    for k in range(n_codes):
        out[i, j, k] = 0.0
    share = 1.0 / (patch_px * patch_px)
    for r in range(top, top + patch_px):
        for c in range(left, left + patch_px):
            out[i, j, codes[r, c]] += share


def cooccurrences(levels, top, left, patch_px, dr, dc, n_levels, counts):
    """The grey-level co-occurrence counts of one patch at offset ``(dr, dc)``, one way round, into ``counts``."""
    for a in range(n_levels):
        for b in range(n_levels):
            counts[a, b] = 0.0
    # rows and columns whose partner at (dr, dc) lies in the patch (not max(): numba 0.68's CUDA target fails on it)
    for r in range(-dr if dr < 0 else 0, patch_px - dr if dr > 0 else patch_px):
        for c in range(-dc if dc < 0 else 0, patch_px - dc if dc > 0 else patch_px):
            a = levels[top + r, left + c]
            b = levels[top + r + dr, left + c + dc]
            counts[a, b] += 1.0


def haralick(counts, n_levels, x_log_x, out, i, j, o):
    """Contrast, homogeneity, energy, correlation and entropy (natural log): ``out[i, j, o]``.

    Of the symmetric, normalised co-occurrence matrix ``P = S / T`` made from
    `counts` (:func:`cooccurrences`): ``S`` holds each pair counted both ways
    round, ``T`` its sum. One pass over the upper triangle of ``S`` (an
    off-diagonal cell standing for itself and its mirror) gathers sums of
    whole counts, normalised at the end: the entropy is
    ``log T - sum(S log S) / T``, and the row and column marginals of a
    symmetric matrix share one mean and one variance. ``x_log_x[k]`` holds
    ``k log k`` for every whole count ``k`` a cell of ``S`` can hold
    (:func:`x_log_x_table`): looked up, not computed, since the logarithms
    were two thirds of the time.
    """
    total = 0.0
    contrast = 0.0
    homogeneity = 0.0
    square_sum = 0.0
    s_log_s = 0.0
    level_sum = 0.0
    level_square_sum = 0.0
    product_sum = 0.0
    for a in range(n_levels):
        for b in range(a, n_levels):
            pairs = counts[a, b] + counts[b, a]
            if pairs == 0:
                continue
            cells = 1.0 if a == b else 2.0
            weighted = cells * pairs
            d2 = (a - b) * (a - b)
            total += weighted
            contrast += weighted * d2
            homogeneity += weighted / (1.0 + d2)
            square_sum += weighted * pairs
            s_log_s += cells * x_log_x[int(pairs)]
            level_sum += 0.5 * weighted * (a + b)
            level_square_sum += 0.5 * weighted * (a * a + b * b)
            product_sum += weighted * a * b
    mean = level_sum / total
    variance = level_square_sum / total - mean * mean
    out[i, j, o, 0] = contrast / total
    out[i, j, o, 1] = homogeneity / total
    out[i, j, o, 2] = math.sqrt(square_sum) / total
    out[i, j, o, 3] = 1.0 if variance < 1e-12 else (product_sum / total - mean * mean) / variance
    out[i, j, o, 4] = math.log(total) - s_log_s / total


def x_log_x_table(patch_px: int) -> np.ndarray:
    """``k log k`` (0 for 0) for ``k = 0 .. 2 patch_px**2``, float64: the table :func:`haralick` looks up.

    Every count a cell of one patch's symmetric co-occurrence matrix can hold.
    Made on the host (NumPy), once per kernel call.
    """
    counts = np.arange(2 * patch_px * patch_px + 1, dtype=np.float64)
    return counts * np.log(np.maximum(counts, 1.0))


def lbp_circle_offsets() -> np.ndarray:
    """``(row, column)`` offsets of the 8 neighbours on the unit circle that the LBP codes compare, ``(8, 2)``.

    Rounded to 5 decimals as scikit-image's ``local_binary_pattern`` rounds
    them; made on the host (NumPy), once per kernel call.
    """
    angles = 2 * np.pi * np.arange(8) / 8
    return np.stack((np.round(-np.sin(angles), 5), np.round(np.cos(angles), 5)), axis=1)
