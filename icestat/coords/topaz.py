"""Topaz pick tables: tab-separated ``image_name x_coord y_coord score``, many micrographs in one file."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from icestat._atomic import atomic_path
from icestat.coords.table import MICROGRAPH_COLUMN, pick_table

COLUMNS = ("image_name", "x_coord", "y_coord", "score")


def read_topaz(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Topaz TSV; ``image_name`` becomes the ``micrograph`` column."""
    path = Path(path)
    frame = pd.read_csv(path, sep="\t", dtype={"image_name": str})
    missing = [name for name in COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a Topaz pick table (missing column(s) {', '.join(missing)})")
    return pick_table(frame["x_coord"], frame["y_coord"], score=frame["score"], micrograph=frame["image_name"])


def write_topaz(picks: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write picks (with a ``micrograph`` column) as a Topaz TSV (atomically)."""
    if MICROGRAPH_COLUMN not in picks.columns:
        raise ValueError(f"{path}: a Topaz table needs a '{MICROGRAPH_COLUMN}' column in the picks")
    frame = pd.DataFrame(
        {
            "image_name": picks[MICROGRAPH_COLUMN].astype(str).to_numpy(),
            "x_coord": picks["x_px"].round().astype(int).to_numpy(),
            "y_coord": picks["y_px"].round().astype(int).to_numpy(),
            "score": picks["score"].to_numpy(),
        }
    )
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)
