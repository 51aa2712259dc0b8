"""Pick tables in and out: RELION STAR, EMAN .box, crYOLO .cbox, Topaz TSV and CSV.

A pick table is a :class:`pandas.DataFrame` with columns ``x_px, y_px, score,
diameter_px``: particle centres in pixels of the original micrograph (x the
column, y the row), whatever binning was used to find them. Tables that hold
several micrographs, and every table read from a file, add a ``micrograph``
column.

Examples
--------
>>> import tempfile, pathlib
>>> from icestat.coords import pick_table, read_picks, write_picks
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> picks = pick_table([100.0, 250.5], [80.0, 300.0], score=[0.9, 0.7], diameter_px=64)
>>> write_picks(picks, folder / "mic_autopick.star")
>>> read_picks(folder / "mic_autopick.star")[["x_px", "y_px", "score", "micrograph"]]
    x_px   y_px  score micrograph
0  100.0   80.0    0.9        mic
1  250.5  300.0    0.7        mic
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from icestat.coords.cryolo import read_cbox, write_cbox
from icestat.coords.eman import read_box, write_box
from icestat.coords.plain import read_csv, write_csv
from icestat.coords.relion import (
    index_micrographs,
    read_autopick_index,
    read_star,
    write_autopick_index,
    write_particles_star,
    write_star,
)
from icestat.coords.table import (MICROGRAPH_COLUMN, PICK_COLUMNS, as_pick_table, micrograph_name_from_pick_file,
                                  pick_table)
from icestat.coords.topaz import read_topaz, write_topaz

#: Format name -> file suffix.
FORMATS = {"star": ".star", "box": ".box", "cbox": ".cbox", "tsv": ".tsv", "csv": ".csv"}

#: Formats of files that hold one micrograph's picks when they name no micrograph (a RELION coordinate file, or a CSV
#: without a micrograph column): the micrograph is the one the file's name implies.
_ONE_MICROGRAPH_FORMATS = ("star", "box", "cbox", "csv")
_READERS = {"star": read_star, "box": read_box, "cbox": read_cbox, "tsv": read_topaz, "csv": read_csv}
_SUFFIX_FORMATS = {".star": "star", ".box": "box", ".cbox": "cbox", ".tsv": "tsv", ".txt": "tsv", ".csv": "csv"}


def format_of(path: str | os.PathLike, fmt: str | None = None) -> str:
    """Return the pick-file format named by `fmt`, or implied by the suffix of `path`.

    Raises
    ------
    ValueError
        If the format is unknown.
    """
    if fmt is None:
        fmt = _SUFFIX_FORMATS.get(Path(path).suffix.lower())
        if fmt is None:
            raise ValueError(f"{path}: unknown pick-file suffix; use one of {', '.join(_SUFFIX_FORMATS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown pick format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def box_side_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The pick files among `paths` whose diameters are their boxes' sides, sorted: EMAN ``.box`` files, and crYOLO
    ``.cbox`` files without crYOLO's size estimates (``_EstWidth``). A box is wider than its particle as a rule
    (:data:`BOX_SIDE_NOTE`).

    Examples
    --------
    >>> box_side_files(["b.box", "a.star", "a.BOX"])
    ['a.BOX', 'b.box']
    """
    def sides_only(path: Path) -> bool:
        suffix = path.suffix.lower()
        return suffix == ".box" or (suffix == ".cbox" and path.is_file() and "_EstWidth" not in path.read_text())

    return sorted({str(path) for path in paths if sides_only(Path(path))})


#: What a warning of :func:`box_side_files` says of them.
BOX_SIDE_NOTE = "its picks' diameters are their boxes' sides (an EMAN box file, a crYOLO box file without size " \
                "estimates), not the particle's diameter"


def read_picks(path: str | os.PathLike, fmt: str | None = None) -> pd.DataFrame:
    """Read a pick file of any supported format.

    Parameters
    ----------
    path : str or PathLike
        The file: ``.star`` (coordinate file, ``autopick.star`` index or
        combined particles file), ``.box``, ``.cbox``, ``.tsv``/``.txt`` (Topaz) or ``.csv``.
    fmt : {"star", "box", "cbox", "tsv", "csv"}, optional
        The format, when the suffix does not tell.

    Returns
    -------
    DataFrame
        Pick table with a ``micrograph`` column.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give the pick files in it (such as {path / '*.star'})")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such pick file")
    return _READERS[format_of(path, fmt)](path)


def named_micrographs(path: str | os.PathLike, picks: pd.DataFrame, fmt: str | None = None) -> set[str]:
    """The micrographs a pick file speaks for, with or without picks: what an evaluation should score.

    Those of its picks, every micrograph an ``autopick.star`` index lists, and,
    for a file of one micrograph's picks that holds none (an empty
    ``<stem>_autopick.star``, ``.box``, ``.cbox`` or ``.csv``), the micrograph
    its name implies: a micrograph picked with no particle found still counts.
    A combined file (``particles.star``, Topaz ``.tsv``) names only the
    micrographs it has picks of.

    Parameters
    ----------
    path : str or PathLike
        The pick file.
    picks : DataFrame
        Its picks, as :func:`read_picks` read them.
    fmt : {"star", "box", "cbox", "tsv", "csv"}, optional
        The format, when the suffix does not tell.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> empty = pathlib.Path(tempfile.mkdtemp()) / "mic_007_autopick.star"
    >>> write_picks(pick_table([], []), empty)
    >>> named_micrographs(empty, read_picks(empty))
    {'mic_007'}
    """
    names = set(picks[MICROGRAPH_COLUMN].astype(str))
    fmt = format_of(path, fmt)
    listed = index_micrographs(path) if fmt == "star" else None
    if listed is not None:
        names.update(listed)
    elif picks.empty and fmt in _ONE_MICROGRAPH_FORMATS:
        names.add(micrograph_name_from_pick_file(path))
    return names


def write_picks(
    picks: pd.DataFrame, path: str | os.PathLike, fmt: str | None = None, *, box_size_px: float | None = None
) -> None:
    """Write a pick table in any supported format, atomically.

    Parameters
    ----------
    picks : DataFrame
        Pick table. STAR (``.star``) writes one micrograph's coordinate file
        unless the table has a ``micrograph`` column with several names, then a
        combined particles file. Topaz TSV needs the ``micrograph`` column.
    path : str or PathLike
        Output file.
    fmt : {"star", "box", "cbox", "tsv", "csv"}, optional
        The format, when the suffix does not tell.
    box_size_px : float, optional
        Box side for ``.box`` and ``.cbox``; each pick's diameter when omitted.
    """
    fmt = format_of(path, fmt)
    picks = as_pick_table(picks, path)
    if fmt == "star":
        several = MICROGRAPH_COLUMN in picks.columns and picks[MICROGRAPH_COLUMN].nunique() > 1
        (write_particles_star if several else write_star)(picks, path)
    elif fmt == "box":
        write_box(picks, path, box_size_px)
    elif fmt == "cbox":
        write_cbox(picks, path, box_size_px)
    elif fmt == "tsv":
        write_topaz(picks, path)
    else:
        write_csv(picks, path)


__all__ = [
    "BOX_SIDE_NOTE",
    "FORMATS",
    "MICROGRAPH_COLUMN",
    "PICK_COLUMNS",
    "as_pick_table",
    "box_side_files",
    "format_of",
    "named_micrographs",
    "pick_table",
    "read_autopick_index",
    "read_box",
    "read_cbox",
    "read_csv",
    "read_picks",
    "read_star",
    "read_topaz",
    "write_autopick_index",
    "write_box",
    "write_cbox",
    "write_csv",
    "write_particles_star",
    "write_picks",
    "write_star",
]
