"""Plain CSV pick tables: the pick-table columns as they are (``micrograph`` too, when present).

The per-micrograph coordinate files of CryoPPP (the expert-picked benchmark of
32 EMPIAR sets, and CryoSegNet's labels) are read too: their
``X-Coordinate, Y-Coordinate`` and ``Diameter`` columns are the pick table's
``x_px, y_px`` and ``diameter_px``, taken as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from icestat._atomic import atomic_path
from icestat.coords.table import MICROGRAPH_COLUMN, as_pick_table, micrograph_name_from_pick_file

#: Column names of CryoPPP's coordinate files, and the pick-table columns they hold.
CRYOPPP_COLUMNS = {"X-Coordinate": "x_px", "Y-Coordinate": "y_px", "Diameter": "diameter_px"}


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV with columns ``x_px, y_px`` and optionally ``score, diameter_px, micrograph``, or CryoPPP's.

    Without a ``micrograph`` column the file holds one micrograph's picks, named
    after the file as other per-micrograph formats are
    (:func:`~icestat.coords.table.micrograph_name_from_pick_file`: ``mic_001_truth.csv``
    holds those of ``mic_001``).
    """
    path = Path(path)
    frame = pd.read_csv(path, dtype={MICROGRAPH_COLUMN: str})
    frame = frame.rename(columns=lambda name: CRYOPPP_COLUMNS.get(name.strip(), name))
    if MICROGRAPH_COLUMN not in frame.columns:
        frame[MICROGRAPH_COLUMN] = micrograph_name_from_pick_file(path)
    return as_pick_table(frame, path)


def write_csv(picks: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a pick table as CSV (atomically)."""
    with atomic_path(path) as tmp:
        as_pick_table(picks, path).to_csv(tmp, index=False)
