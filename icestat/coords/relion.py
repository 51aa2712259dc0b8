"""RELION STAR pick files, through ``starfile``.

Three layouts are read and written:

* a per-micrograph coordinate file (``<stem>_autopick.star``): one loop with
  ``_rlnCoordinateX``, ``_rlnCoordinateY`` and ``_rlnAutopickFigureOfMerit``;
* the RELION 4/5 index (``autopick.star``): block ``coordinate_files`` with
  ``_rlnMicrographName`` and ``_rlnMicrographCoordinates``;
* one combined file (``particles.star``): block ``particles`` that adds
  ``_rlnMicrographName`` to each pick.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from icestat.coords.star_file import read_star_file, write_star_file
from icestat.coords.table import MICROGRAPH_COLUMN, micrograph_name_from_pick_file, pick_table

INDEX_BLOCK = "coordinate_files"
PARTICLES_BLOCK = "particles"
DIAMETER_LABEL = "icestatDiameterPx"


def read_star(path: str | os.PathLike) -> pd.DataFrame:
    """Read picks from any of the three STAR layouts.

    Parameters
    ----------
    path : str or PathLike
        A coordinate file, an ``autopick.star`` index (its coordinate files are
        read too, found relative to the index's folder, its parents, or the
        working directory), or a combined particles file.

    Returns
    -------
    DataFrame
        A pick table with a ``micrograph`` column: the micrograph named in the
        file, or for a single coordinate file the stem its name implies.
    """
    path = Path(path)
    blocks = read_star_file(path)
    if INDEX_BLOCK in blocks:
        return _read_index(path, blocks[INDEX_BLOCK])
    for block in blocks.values():
        if isinstance(block, pd.DataFrame) and {"rlnCoordinateX", "rlnCoordinateY"} <= set(block.columns):
            return _picks_from_block(block, path)
    raise ValueError(f"{path}: no loop with _rlnCoordinateX and _rlnCoordinateY")


def write_star(picks: pd.DataFrame, path: str | os.PathLike, include_diameter: bool = False) -> None:
    """Write one micrograph's picks as a RELION coordinate file (atomically).

    Parameters
    ----------
    picks : DataFrame
        Pick table.
    path : str or PathLike
        Output file.
    include_diameter : bool
        Add the column ``_icestatDiameterPx`` (RELION has no label for it and
        keeps unknown labels as they are); used for ground truth.
    """
    frame = pd.DataFrame(
        {
            "rlnCoordinateX": picks["x_px"].to_numpy(dtype=np.float64),
            "rlnCoordinateY": picks["y_px"].to_numpy(dtype=np.float64),
            "rlnAutopickFigureOfMerit": picks["score"].to_numpy(dtype=np.float64),
        }
    )
    if include_diameter:
        frame[DIAMETER_LABEL] = picks["diameter_px"].to_numpy(dtype=np.float64)
    write_star_file({"": frame}, path)


def write_particles_star(picks: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write picks of many micrographs to one STAR file (block ``particles``).

    Parameters
    ----------
    picks : DataFrame
        Pick table with a ``micrograph`` column (written as ``_rlnMicrographName``).
    path : str or PathLike
        Output file.
    """
    if MICROGRAPH_COLUMN not in picks.columns:
        raise ValueError(f"{path}: a combined STAR file needs a '{MICROGRAPH_COLUMN}' column in the picks")
    frame = pd.DataFrame(
        {
            "rlnMicrographName": picks[MICROGRAPH_COLUMN].astype(str).to_numpy(),
            "rlnCoordinateX": picks["x_px"].to_numpy(dtype=np.float64),
            "rlnCoordinateY": picks["y_px"].to_numpy(dtype=np.float64),
            "rlnAutopickFigureOfMerit": picks["score"].to_numpy(dtype=np.float64),
        }
    )
    write_star_file({PARTICLES_BLOCK: frame}, path)


def write_autopick_index(coordinate_files: Mapping[str, str], path: str | os.PathLike) -> None:
    """Write the RELION 4/5 ``autopick.star`` index.

    Parameters
    ----------
    coordinate_files : mapping of str to str
        Micrograph path -> its coordinate file path, as RELION should see them
        (usually relative to the RELION project folder).
    path : str or PathLike
        Output file.
    """
    frame = pd.DataFrame(
        {
            "rlnMicrographName": [str(name) for name in coordinate_files],
            "rlnMicrographCoordinates": [str(coords) for coords in coordinate_files.values()],
        }
    )
    write_star_file({INDEX_BLOCK: frame}, path)


def read_autopick_index(path: str | os.PathLike) -> pd.DataFrame:
    """Read an ``autopick.star`` index as a DataFrame ``micrograph, coordinates``."""
    blocks = read_star_file(path)
    if INDEX_BLOCK not in blocks:
        raise ValueError(f"{path}: no data_{INDEX_BLOCK} block; not an autopick index")
    block = blocks[INDEX_BLOCK]
    return pd.DataFrame(
        {
            MICROGRAPH_COLUMN: block["rlnMicrographName"].astype(str).to_numpy(),
            "coordinates": block["rlnMicrographCoordinates"].astype(str).to_numpy(),
        }
    )


def index_micrographs(path: str | os.PathLike) -> list[str] | None:
    """The micrographs an ``autopick.star`` index lists, picked or not; None when `path` is no such index.

    Only an index is parsed (a combined particles file may be large): it is
    told by its ``data_coordinate_files`` block.
    """
    with open(path, errors="replace") as file:
        if not any(line.strip() == f"data_{INDEX_BLOCK}" for line in file):
            return None
    return read_autopick_index(path)[MICROGRAPH_COLUMN].tolist()


def _picks_from_block(block: pd.DataFrame, path: Path) -> pd.DataFrame:
    if "rlnMicrographName" in block.columns:
        micrograph = block["rlnMicrographName"].astype(str).to_numpy()
    else:
        micrograph = micrograph_name_from_pick_file(path)
    score = block["rlnAutopickFigureOfMerit"] if "rlnAutopickFigureOfMerit" in block.columns else np.nan
    diameter = block[DIAMETER_LABEL] if DIAMETER_LABEL in block.columns else np.nan
    return pick_table(
        block["rlnCoordinateX"], block["rlnCoordinateY"], score=score, diameter_px=diameter, micrograph=micrograph
    )


def _read_index(path: Path, block: pd.DataFrame) -> pd.DataFrame:
    tables = []
    for micrograph, coords in zip(block["rlnMicrographName"], block["rlnMicrographCoordinates"]):
        picks = read_star(_find_listed_file(path, str(coords)))
        picks[MICROGRAPH_COLUMN] = str(micrograph)
        tables.append(picks)
    if not tables:
        return pick_table([], [], micrograph=[])
    return pd.concat(tables, ignore_index=True)


def project_folders(star_path: str | os.PathLike) -> list[Path]:
    """Where the RELION project folder of a STAR file may be, nearest first: the file's folder and each above it.

    RELION names the files a STAR file lists relative to its project folder.
    """
    folder = Path(star_path).resolve().parent
    return [folder, *folder.parents]


def _find_listed_file(index_path: Path, listed: str) -> Path:
    """Find a file an index lists: RELION paths are relative to its project folder."""
    listed_path = Path(listed)
    if listed_path.is_absolute():
        candidates = [listed_path]
    else:
        candidates = [base / listed_path for base in (*project_folders(index_path), Path.cwd())]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{index_path}: listed coordinate file {listed} not found")
