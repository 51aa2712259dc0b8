"""crYOLO ``.cbox`` files: a STAR file with block ``cryolo``.

``_CoordinateX/Y`` are the box's lower-left corner, ``_Width/_Height`` the box,
``_EstWidth/_EstHeight`` the estimated particle size and ``_Confidence`` the score.
Columns that only 3D (tomography) picks use are written as ``<NA>``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import starfile

from icestat.coords.star_file import write_star_file
from icestat.coords.table import box_sizes_px, micrograph_name_from_pick_file, pick_table

BLOCK = "cryolo"


def read_cbox(path: str | os.PathLike) -> pd.DataFrame:
    """Read a crYOLO cbox file; the diameter is ``_EstWidth`` when present, else ``_Width``."""
    path = Path(path)
    try:
        blocks = starfile.read(path, always_dict=True)
    except Exception as err:  # starfile raises many types on a damaged file
        raise ValueError(f"{path}: not a readable cbox file ({err})") from None
    if BLOCK not in blocks:
        raise ValueError(f"{path}: no data_{BLOCK} block; not a crYOLO cbox file")
    block = blocks[BLOCK]
    missing = [name for name in ("CoordinateX", "CoordinateY", "Width", "Height") if name not in block.columns]
    if missing:
        raise ValueError(f"{path}: the data_{BLOCK} block has no {', '.join('_' + name for name in missing)}; "
                         "not a crYOLO cbox file")
    width = block["Width"].to_numpy(dtype=np.float64)
    height = block["Height"].to_numpy(dtype=np.float64)
    diameter = block["EstWidth"].to_numpy(dtype=np.float64) if "EstWidth" in block.columns else width
    diameter = np.where(np.isfinite(diameter), diameter, width)
    score = block["Confidence"].to_numpy(dtype=np.float64) if "Confidence" in block.columns else np.nan
    return pick_table(
        block["CoordinateX"].to_numpy(dtype=np.float64) + width / 2,
        block["CoordinateY"].to_numpy(dtype=np.float64) + height / 2,
        score=score,
        diameter_px=diameter,
        micrograph=micrograph_name_from_pick_file(path),
    )


def write_cbox(picks: pd.DataFrame, path: str | os.PathLike, box_size_px: float | None = None) -> None:
    """Write picks as a crYOLO cbox file (atomically).

    Parameters
    ----------
    picks : DataFrame
        Pick table of one micrograph.
    path : str or PathLike
        Output file.
    box_size_px : float, optional
        Box side for every pick; each pick's ``diameter_px`` when omitted.
    """
    size = box_sizes_px(picks, box_size_px, path)
    diameter = picks["diameter_px"].to_numpy(dtype=np.float64)
    missing = np.full(len(picks), np.nan)
    frame = pd.DataFrame(
        {
            "CoordinateX": picks["x_px"].to_numpy(dtype=np.float64) - size / 2,
            "CoordinateY": picks["y_px"].to_numpy(dtype=np.float64) - size / 2,
            "CoordinateZ": missing,
            "Width": size,
            "Height": size,
            "Depth": missing,
            "EstWidth": diameter,
            "EstHeight": diameter,
            "Confidence": picks["score"].to_numpy(dtype=np.float64),
            "NumBoxes": missing,
            "Angle": missing,
        }
    )
    write_star_file({BLOCK: frame}, path)
