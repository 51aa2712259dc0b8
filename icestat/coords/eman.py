"""EMAN ``.box`` files: one box per line, ``x y width height`` in whole pixels,
(x, y) the box's lower-left corner (the corner with the smallest coordinates)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from icestat._atomic import atomic_path
from icestat.coords.table import box_sizes_px, micrograph_name_from_pick_file, pick_table


def read_box(path: str | os.PathLike) -> pd.DataFrame:
    """Read an EMAN box file; centres are corner + size / 2, diameter is the box width."""
    path = Path(path)
    if not path.read_text().strip():
        return pick_table([], [], micrograph=micrograph_name_from_pick_file(path))
    try:
        rows = np.loadtxt(path, ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}: not an EMAN box file ({err})") from None
    if rows.shape[1] < 4:
        raise ValueError(f"{path}: EMAN box lines need 4 numbers (x y width height), found {rows.shape[1]}")
    x_corner, y_corner, width, height = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    return pick_table(
        x_corner + width / 2,
        y_corner + height / 2,
        diameter_px=width,
        micrograph=micrograph_name_from_pick_file(path),
    )


def write_box(picks: pd.DataFrame, path: str | os.PathLike, box_size_px: float | None = None) -> None:
    """Write picks as an EMAN box file (atomically).

    Parameters
    ----------
    picks : DataFrame
        Pick table of one micrograph.
    path : str or PathLike
        Output file.
    box_size_px : float, optional
        Box side for every pick; each pick's ``diameter_px`` when omitted.
    """
    size = np.rint(box_sizes_px(picks, box_size_px, path)).astype(np.int64)
    x_corner = np.rint(picks["x_px"].to_numpy() - size / 2).astype(np.int64)
    y_corner = np.rint(picks["y_px"].to_numpy() - size / 2).astype(np.int64)
    with atomic_path(path) as tmp:
        np.savetxt(tmp, np.column_stack([x_corner, y_corner, size, size]), fmt="%d", delimiter="\t")
