"""The pick table: one row per particle, centres in original micrograph pixels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

#: Columns every pick table has. x is the column and y the row of the particle
#: centre, in pixels of the original micrograph; score is in [0, 1] for
#: icestat's own picks (NaN when a file carries none); diameter_px is NaN when unknown.
PICK_COLUMNS = ("x_px", "y_px", "score", "diameter_px")

#: Optional column naming the micrograph each pick belongs to.
MICROGRAPH_COLUMN = "micrograph"

# Suffixes that per-micrograph coordinate files add to the micrograph's stem.
_PICK_FILE_SUFFIXES = ("_autopick", "_manualpick", "_truth", "_picks", "_coords", "_coordinates")


def pick_table(x_px, y_px, score=np.nan, diameter_px=np.nan, micrograph=None) -> pd.DataFrame:
    """Build a pick table from columns (arrays or scalars broadcast to the length of `x_px`).

    Parameters
    ----------
    x_px, y_px : array_like
        Particle centres (column, row) in original micrograph pixels.
    score : array_like or float, optional
        Figure of merit per pick; NaN when unknown.
    diameter_px : array_like or float, optional
        Particle diameter in pixels; NaN when unknown.
    micrograph : array_like or str, optional
        Micrograph name per pick; no such column when omitted.

    Returns
    -------
    DataFrame
        Columns ``x_px, y_px, score, diameter_px`` (float64), and
        ``micrograph`` when given.

    Examples
    --------
    >>> pick_table([10.0, 20.0], [5.0, 6.0], score=0.9, diameter_px=40).shape
    (2, 4)
    """
    x_px = np.asarray(x_px, dtype=np.float64).reshape(-1)
    n = len(x_px)
    columns = {
        "x_px": x_px,
        "y_px": np.broadcast_to(np.asarray(y_px, dtype=np.float64), (n,)).copy(),
        "score": np.broadcast_to(np.asarray(score, dtype=np.float64), (n,)).copy(),
        "diameter_px": np.broadcast_to(np.asarray(diameter_px, dtype=np.float64), (n,)).copy(),
    }
    if micrograph is not None:
        columns[MICROGRAPH_COLUMN] = np.broadcast_to(np.asarray(micrograph, dtype=object), (n,)).copy()
    return pd.DataFrame(columns)


def as_pick_table(frame: pd.DataFrame, source: str | os.PathLike = "picks") -> pd.DataFrame:
    """Check a DataFrame against the pick-table schema and return a clean copy.

    Missing ``score`` and ``diameter_px`` columns are filled with NaN; the
    coordinate columns must be present and finite.

    Parameters
    ----------
    frame : DataFrame
        Candidate pick table.
    source : str or PathLike
        Named in error messages.

    Returns
    -------
    DataFrame
        The pick columns (float64) first, then ``micrograph`` if present.

    Raises
    ------
    ValueError
        If a coordinate column is missing or holds non-finite values.
    """
    missing = [name for name in ("x_px", "y_px") if name not in frame.columns]
    if missing:
        raise ValueError(f"{source}: pick table lacks column(s) {', '.join(missing)}")
    out = pick_table(
        frame["x_px"].to_numpy(dtype=np.float64),
        frame["y_px"].to_numpy(dtype=np.float64),
        frame["score"].to_numpy(dtype=np.float64) if "score" in frame.columns else np.nan,
        frame["diameter_px"].to_numpy(dtype=np.float64) if "diameter_px" in frame.columns else np.nan,
        frame[MICROGRAPH_COLUMN].astype(str).to_numpy() if MICROGRAPH_COLUMN in frame.columns else None,
    )
    if not np.isfinite(out[["x_px", "y_px"]].to_numpy()).all():
        raise ValueError(f"{source}: pick coordinates must be finite numbers")
    return out


def micrograph_name_from_pick_file(path: str | os.PathLike) -> str:
    """Guess the micrograph stem a per-micrograph coordinate file belongs to.

    Examples
    --------
    >>> micrograph_name_from_pick_file("out/mic_001_autopick.star")
    'mic_001'
    >>> micrograph_name_from_pick_file("CBOX/mic_001.cbox")
    'mic_001'
    """
    stem = Path(path).stem
    for suffix in _PICK_FILE_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def box_sizes_px(picks: pd.DataFrame, box_size_px: float | None, path: str | os.PathLike) -> np.ndarray:
    """Return the box size per pick for box-based formats (EMAN, crYOLO).

    Parameters
    ----------
    picks : DataFrame
        Pick table.
    box_size_px : float or None
        Box side in pixels for every pick; when None, each pick's diameter.
    path : str or PathLike
        Named in the error message.

    Raises
    ------
    ValueError
        If no box size is given and some pick has no diameter.
    """
    if box_size_px is not None:
        if not box_size_px > 0:
            raise ValueError(f"{path}: box size must be positive, got {box_size_px}")
        return np.full(len(picks), float(box_size_px))
    sizes = picks["diameter_px"].to_numpy(dtype=np.float64)
    if not np.isfinite(sizes).all():
        raise ValueError(f"{path}: some picks have no diameter_px; give box_size_px to write box files")
    return sizes
