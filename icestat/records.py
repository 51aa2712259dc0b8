"""The record of each micrograph an ``icestat pick`` run has done: ``<stem>_summary.json`` beside its picks.

Written last, once every other file of the micrograph is (:func:`icestat.batch.pick_micrograph`): the settings it
was picked with, its output files, its summary row, every candidate it scored under the threshold, and, where its
overlay is kept without the label map of ``--segmentation``, the labels the overlay shows. A rerun reads it to skip
the micrograph, or to write its files at another threshold without picking it again
(:func:`icestat.batch.is_done`); ``icestat evaluate`` reads the candidates to score thresholds under the run's
(:func:`recorded_candidates`), and the particle diameter to match the picks with (:func:`with_recorded_diameters`).
Light on imports: no model is needed to read one.
"""

from __future__ import annotations

import base64
import bz2
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from icestat._atomic import atomic_path
from icestat.coords.table import MICROGRAPH_COLUMN, pick_table
from icestat.micrograph import micrograph_stem

#: A record's file name after the micrograph's stem.
RECORD_ENDING = "_summary.json"
#: A record keeps every candidate scored under the threshold (:func:`icestat.pick.pick` at threshold 0) under this
#: key, by these columns, to this many decimals (as the STAR file keeps the picks').
UNDER_THRESHOLD, UNDER_THRESHOLD_COLUMNS, RECORD_DECIMALS = "under_threshold", ("x_px", "y_px", "score"), 6
#: Where the overlay is kept without the label map, the record keeps the labels it shows (shrunk as it is,
#: :func:`icestat.overlay.shrunk`: about 30 kB for a 4096x4096 micrograph) under this key, so that a rerun at another
#: threshold draws it again without picking again: ``shape``, and the int8 codes row by row, bzip2-compressed (a third
#: smaller than zlib's level 6, as fast: 7 ms for 1024x1024), base64.
OVERLAY_LABELS = "overlay_labels"


def record_file(output: str | os.PathLike, stem: str) -> Path:
    """The record of a micrograph done: ``<output>/<stem>_summary.json``."""
    return Path(output) / f"{stem}{RECORD_ENDING}"


def write_record(output: str | os.PathLike, path: str, settings: dict, files: list[str | os.PathLike], row: dict,
                 under: pd.DataFrame | None, shown_labels: np.ndarray | None = None) -> None:
    """Write the record of micrograph `path` (atomically).

    Parameters
    ----------
    output : str or PathLike
        The run's output folder.
    path : str
        The micrograph.
    settings : dict
        What it was picked with (JSON-ready).
    files : list of str or PathLike
        Its output files.
    row : dict
        Its summary row.
    under : DataFrame or None
        The candidates it scored under the threshold (a pick table); None where they are not known (a record of an
        icestat that did not keep them, written again).
    shown_labels : ndarray, optional
        The class codes its overlay shows, where no label map of it is kept (:func:`overlay_labels`).
    """
    record = {"micrograph": str(path), "settings": settings, "outputs": [str(name) for name in files], "row": row}
    if under is not None:
        record[UNDER_THRESHOLD] = {column: np.round(under[column].to_numpy(dtype=np.float64), RECORD_DECIMALS).tolist()
                                   for column in UNDER_THRESHOLD_COLUMNS}
    if shown_labels is not None:
        codes = np.ascontiguousarray(shown_labels, dtype=np.int8).tobytes()
        record[OVERLAY_LABELS] = {"shape": list(shown_labels.shape),
                                  "codes": base64.b64encode(bz2.compress(codes)).decode("ascii")}
    with atomic_path(record_file(output, micrograph_stem(path))) as tmp:
        tmp.write_text(json.dumps(record, indent=1))


def read_record(output: str | os.PathLike, stem: str) -> dict:
    """The record of the micrograph of `stem` in `output`.

    Raises
    ------
    OSError
        Where there is none.
    ValueError
        Where it is not JSON.
    """
    return json.loads(record_file(output, stem).read_text())


def under_threshold(record: dict) -> pd.DataFrame | None:
    """The candidates a record keeps as scored under its threshold (``x_px, y_px, score``, highest score first), or
    None where it keeps none (written by an icestat that did not).

    Raises
    ------
    KeyError, TypeError, ValueError
        Where they are not as icestat writes them.
    """
    under = record.get(UNDER_THRESHOLD)
    if under is None:
        return None
    return pd.DataFrame({column: under[column] for column in UNDER_THRESHOLD_COLUMNS}, dtype=np.float64)


def overlay_labels(record: dict) -> np.ndarray:
    """The class codes (int8) a record keeps as its micrograph's overlay shows them (``OVERLAY_LABELS``).

    Raises
    ------
    KeyError, TypeError, ValueError
        Where it keeps none, or not as icestat writes them.
    """
    kept = record[OVERLAY_LABELS]
    try:
        codes = bz2.decompress(base64.b64decode(kept["codes"], validate=True))
    except (OSError, ValueError, EOFError) as err:   # not base64, not bzip2, or cut short
        raise ValueError(f"the labels of its overlay are damaged ({err})") from None
    return np.frombuffer(codes, dtype=np.int8).reshape(kept["shape"])


def recorded_candidates(folder: str | os.PathLike, picks: pd.DataFrame, micrographs) -> pd.DataFrame:
    """The candidates scored under the threshold of those `micrographs` whose records lie in `folder`.

    What ``icestat evaluate --threshold`` adds to the picks of an ``icestat
    pick`` run, so that a threshold under the run's counts what picking at it
    would have picked: the files hold the picks at the run's threshold only.
    A record is taken only where it counts as many picks of its micrograph as
    `picks` hold: files copied from another run are not added to.

    Parameters
    ----------
    folder : str or PathLike
        Where the records would be (the folder of the pick file read).
    picks : DataFrame
        The picks read from that file (a pick table with a ``micrograph`` column).
    micrographs : iterable of str
        The micrographs the file speaks for, as it names them (paths or names;
        a record is found by the stem).

    Returns
    -------
    DataFrame
        A pick table with a ``micrograph`` column (as `micrographs` name them)
        and each record's particle diameter; empty where no record keeps any.
    """
    tables = []
    for name, record in _records_of(folder, picks, micrographs).items():
        try:
            under = under_threshold(record)
        except (ValueError, KeyError, TypeError):   # not as icestat writes them: nothing to add
            continue
        diameter_px = _recorded_diameter_px(record)
        if under is not None and len(under) and diameter_px is not None:
            tables.append(pick_table(under["x_px"], under["y_px"], score=under["score"], diameter_px=diameter_px,
                                     micrograph=name))
    return pd.concat(tables, ignore_index=True) if tables else pick_table([], [], micrograph=[])


def with_recorded_diameters(folder: str | os.PathLike, picks: pd.DataFrame) -> pd.DataFrame:
    """`picks` with the particle diameter each micrograph's record in `folder` gives where they give none.

    RELION coordinate files keep no diameter, so the picks an ``icestat pick``
    run wrote are read without one; its records keep the diameter each
    micrograph was picked with (given or estimated), which ``icestat evaluate``
    takes to match picks to true centres that give none either. As for
    :func:`recorded_candidates`, a record is taken only where it counts as many
    picks of its micrograph as `picks` hold.

    Parameters
    ----------
    folder : str or PathLike
        Where the records would be (the folder of the pick file read).
    picks : DataFrame
        The picks read from that file (a pick table with a ``micrograph`` column).

    Returns
    -------
    DataFrame
        A copy of `picks`, its unknown ``diameter_px`` filled where a record knows it.
    """
    picks = picks.copy()
    names, unknown = picks[MICROGRAPH_COLUMN].astype(str), picks["diameter_px"].isna()
    for name, record in _records_of(folder, picks, set(names[unknown])).items():   # read only where needed
        diameter_px = _recorded_diameter_px(record)
        if diameter_px is not None:
            picks.loc[(names == name) & unknown, "diameter_px"] = diameter_px
    return picks


def _recorded_diameter_px(record: dict) -> float | None:
    """The particle diameter a record's summary row gives; None where it is not as icestat writes it."""
    try:
        return float(record["row"]["diameter_px"])
    except (ValueError, KeyError, TypeError):
        return None


def _records_of(folder: str | os.PathLike, picks: pd.DataFrame, micrographs) -> dict[str, dict]:
    """The records in `folder` of those `micrographs` (as named there) that count as many picks as `picks` hold."""
    n_picks = picks[MICROGRAPH_COLUMN].astype(str).value_counts()
    records = {}
    for name in sorted(set(map(str, micrographs))):
        try:
            record = read_record(folder, micrograph_stem(name))
            recorded_picks = int(record["row"]["n_picks"])
        except (OSError, ValueError, KeyError, TypeError):   # no record, or not one icestat wrote
            continue
        if recorded_picks == n_picks.get(name, 0):
            records[name] = record
    return records
