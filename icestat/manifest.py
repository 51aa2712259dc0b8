"""Labelled sets: a CSV manifest of micrographs and their labels, for training and evaluation.

The manifest format
-------------------
A CSV file with a header row and one row per micrograph. Paths are relative to
the manifest's own folder (or absolute). Only ``micrograph`` is required;
empty cells mean "not given". Other columns (notes, statistics) are kept.

=======================  ===================================================================
column                   meaning
=======================  ===================================================================
``micrograph``           the micrograph file (MRC, TIFF, PNG, JPEG)
``dataset``              a name grouping micrographs (for cross-validation over datasets)
``regions``              per-pixel class codes: 0 ice, 1 particle, 2 carbon,
                         3 contamination, 255 ignore (see :mod:`icestat.classes`). A float
                         map with values in [0, 1] is read as a contamination probability
                         (contamination where >= 0.5, ice elsewhere: any particles
                         there are taught as ice, so class codes with the particles
                         marked, or 255 where unknown, teach better).
``particle_mask``        non-zero (above half the maximum) on particle pixels
``coords``               a pick file in any format :func:`icestat.coords.read_picks` reads
``pixel_size_A``         pixel size in ångström (overrides the micrograph's header)
``particle_diameter_px`` particle diameter in micrograph pixels: every particle's, where given (over what
                         a pick file says, such as an EMAN box's side); else a pick file's own
=======================  ===================================================================

Masks of another size than the micrograph (e.g. 256x256 for a 1024x1024
image) are resized to it with nearest-neighbour interpolation.

:func:`write_manifest` writes one (the simulator's labelled sets, ``icestat manifest``: micrographs paired with
the pick files that hold their particles, :mod:`icestat.pick_manifest`).

Example, on the developers' real data::

    from icestat.manifest import iter_labelled
    for item in iter_labelled("../shared/data/manifest.csv", datasets=["empiar-10028"]):
        print(item.micrograph.name, item.particle_mask.mean())
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
from skimage.transform import resize

from icestat._atomic import atomic_path
from icestat.classes import CONTAMINATION, ICE, VALID_CODES
from icestat.coords import MICROGRAPH_COLUMN, read_picks
from icestat.micrograph import (PIXEL_SIZE_ADVICE, Micrograph, PixelSizeWarning, micrograph_stem, read_image,
                                 read_micrograph)

PATH_COLUMNS = ("micrograph", "regions", "particle_mask", "coords")
NUMBER_COLUMNS = ("pixel_size_A", "particle_diameter_px")

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class LabelledMicrograph:
    """A micrograph with whatever labels its manifest row gives, aligned to its shape.

    Attributes
    ----------
    micrograph : Micrograph
        The image.
    dataset : str
        The manifest's ``dataset`` value, or ``""``.
    regions : ndarray of uint8 or None
        Class codes per pixel (:mod:`icestat.classes`), the micrograph's shape.
    particle_mask : ndarray of bool or None
        True on particle pixels, the micrograph's shape.
    picks : DataFrame or None
        Pick table of the true particle centres.
    particle_diameter_px : float or None
        Particle diameter in micrograph pixels.
    """

    micrograph: Micrograph
    dataset: str = ""
    regions: np.ndarray | None = None
    particle_mask: np.ndarray | None = None
    picks: pd.DataFrame | None = None
    particle_diameter_px: float | None = None


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a manifest; return it with absolute paths and every known column.

    Parameters
    ----------
    path : str or PathLike
        The manifest CSV.

    Returns
    -------
    DataFrame
        One row per micrograph. Path columns hold absolute paths or None;
        number columns hold floats (NaN when not given); ``dataset`` holds
        strings (``""`` when not given).

    Raises
    ------
    ValueError
        If the file lacks a ``micrograph`` column, or a number cell is not a number.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except ValueError as err:   # pandas' parser errors, and bytes that are not text
        raise ValueError(f"{path}: not a readable CSV manifest ({str(err).splitlines()[0]})") from None
    if "micrograph" not in frame.columns:
        raise ValueError(f"{path}: a manifest needs a 'micrograph' column; found {', '.join(frame.columns)}")
    folder = path.resolve().parent
    for column in PATH_COLUMNS:
        cells = frame[column] if column in frame.columns else pd.Series([""] * len(frame))
        paths = [os.path.normpath(folder / cell.strip()) if cell.strip() else None for cell in cells]
        frame[column] = pd.Series(paths, index=frame.index, dtype=object)
    for column in NUMBER_COLUMNS:
        cells = frame[column] if column in frame.columns else pd.Series([""] * len(frame))
        try:
            frame[column] = pd.to_numeric(np.where(cells == "", None, cells)).astype(np.float64)
        except ValueError as err:
            raise ValueError(f"{path}: column {column} must hold numbers ({err})") from None
    if "dataset" not in frame.columns:
        frame["dataset"] = ""
    empty = [i for i, cell in enumerate(frame["micrograph"]) if not _is_given(cell)]
    if empty:
        rows = f"rows {', '.join(str(i + 2) for i in empty)} have" if len(empty) > 1 else f"row {empty[0] + 2} has"
        raise ValueError(f"{path}: {rows} no micrograph")
    return frame.reset_index(drop=True)


def write_manifest(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Write a manifest (atomically), its paths relative to its own folder as :func:`read_manifest` reads them.

    Parameters
    ----------
    path : str or PathLike
        The manifest CSV to write.
    rows : iterable of dict
        One per micrograph, by column (``micrograph`` required); paths (``PATH_COLUMNS``) absolute or relative to
        the working folder, None or NaN for a cell not given.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_manifest(folder / "sets" / "labelled.csv", [{"micrograph": folder / "mics" / "a.mrc", "dataset": "x"}])
    >>> print((folder / "sets" / "labelled.csv").read_text().strip())
    micrograph,dataset
    ../mics/a.mrc,x
    """
    path = Path(path)
    frame = pd.DataFrame(list(rows))
    for column in PATH_COLUMNS:
        if column in frame.columns:
            frame[column] = [_relative_path(cell, path.parent) if _is_given_path(cell) else "" for cell in frame[column]]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def iter_labelled(
    manifest: pd.DataFrame | str | os.PathLike, datasets: Iterable[str] | None = None
) -> Iterator[LabelledMicrograph]:
    """Yield the micrographs of a manifest with their labels, one at a time.

    Parameters
    ----------
    manifest : DataFrame or str or PathLike
        A manifest from :func:`read_manifest`, or the path of one.
    datasets : iterable of str, optional
        Only rows whose ``dataset`` is one of these.

    Yields
    ------
    LabelledMicrograph
    """
    for _, row in manifest_rows(manifest, datasets).iterrows():
        yield load_labelled(row)


def manifest_rows(manifest: pd.DataFrame | str | os.PathLike, datasets: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows of a manifest (a path is read with :func:`read_manifest`), only those of `datasets` if given."""
    if not isinstance(manifest, pd.DataFrame):
        manifest = read_manifest(manifest)
    if datasets is not None:
        manifest = manifest[manifest["dataset"].isin(list(datasets))]
    return manifest


def load_labelled(row: pd.Series) -> LabelledMicrograph:
    """Load one manifest row (from :func:`read_manifest`) into a :class:`LabelledMicrograph`."""
    pixel_size_A = _number_or_none(row["pixel_size_A"])
    diameter_px = _number_or_none(row["particle_diameter_px"])
    micrograph = _read_listed(row["micrograph"], pixel_size_A)
    regions = particle_mask = picks = None
    if _is_given(row["regions"]):
        regions = _region_codes(row["regions"], micrograph.shape)
    if _is_given(row["particle_mask"]):
        particle_mask = _particle_mask(row["particle_mask"], micrograph.shape)
    if _is_given(row["coords"]):
        picks = _picks_of(row["coords"], row["micrograph"], diameter_px)
    return LabelledMicrograph(
        micrograph=micrograph,
        dataset=str(row["dataset"]),
        regions=regions,
        particle_mask=particle_mask,
        picks=picks,
        particle_diameter_px=diameter_px,
    )


def _read_listed(path: str, pixel_size_A: float | None) -> Micrograph:
    """:func:`read_micrograph` of a manifest's micrograph, its pixel-size warnings pointing at the manifest's column."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PixelSizeWarning)
        micrograph = read_micrograph(path, pixel_size_A=pixel_size_A)
    for warning in caught:
        warnings.warn(str(warning.message).replace(PIXEL_SIZE_ADVICE, "in the manifest's pixel_size_A column"),
                      warning.category, stacklevel=3)
    return micrograph


def resize_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a label image to `shape` with nearest-neighbour interpolation, keeping its dtype.

    Examples
    --------
    >>> import numpy as np
    >>> resize_labels(np.array([[0, 1], [2, 3]], dtype=np.uint8), (4, 4))
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [2, 2, 3, 3]], dtype=uint8)
    """
    if labels.shape == tuple(shape):
        return labels
    resized = resize(labels, shape, order=0, preserve_range=True, anti_aliasing=False, mode="edge")
    return resized.astype(labels.dtype)


def _region_codes(path: str, shape: tuple[int, int]) -> np.ndarray:
    values = read_image(path)
    if np.issubdtype(values.dtype, np.floating) and not np.array_equal(values, np.round(values)):
        if values.min() < 0 or values.max() > 1:
            raise ValueError(f"{path}: a float region map must hold probabilities in [0, 1]")
        codes = np.where(values >= 0.5, CONTAMINATION, ICE).astype(np.uint8)
    else:
        codes = values.astype(np.uint8)
        unknown = sorted(set(np.unique(values).tolist()) - VALID_CODES)
        if unknown:
            raise ValueError(f"{path}: unknown class codes {unknown[:5]}; expected {sorted(VALID_CODES)}")
    return resize_labels(_covering(codes, shape, path), shape)


def _particle_mask(path: str, shape: tuple[int, int]) -> np.ndarray:
    values = read_image(path).astype(np.float32)
    highest = float(values.max())
    mask = values > highest / 2 if highest > 0 else np.zeros(values.shape, dtype=bool)
    return resize_labels(_covering(mask, shape, path), shape)


def _covering(labels: np.ndarray, shape: tuple[int, int], path: str) -> np.ndarray:
    """`labels` where they cover the micrograph's field at some sampling: masks are often kept binned, but one of
    another aspect ratio (beyond each side's rounding, and 1 %) is another micrograph's, or cropped.

    Raises
    ------
    ValueError
        Where they do not, naming `path` and both shapes.
    """
    expected_columns = shape[1] * labels.shape[0] / shape[0]
    if abs(expected_columns - labels.shape[1]) > 1 + shape[1] / shape[0] + 0.01 * expected_columns:
        raise ValueError(f"{path}: {labels.shape[1]}x{labels.shape[0]} px, not the field of the "
                         f"{shape[1]}x{shape[0]} px micrograph at any sampling (another aspect ratio)")
    return labels


def _picks_of(path: str, micrograph_path: str, diameter_px: float | None) -> pd.DataFrame:
    picks = read_picks(path)
    stems = picks[MICROGRAPH_COLUMN].map(micrograph_stem)
    name = micrograph_stem(micrograph_path)
    mine = stems == name
    if len(picks) and not mine.any():
        log.warning("%s: no picks of micrograph %s (the file names %s), so it has no true particles", path, name,
                    ", ".join(sorted(set(stems))[:3]))
    picks = picks[mine].reset_index(drop=True)
    if diameter_px is not None:   # the manifest's word over the file's (a box's side is not the particle's)
        picks["diameter_px"] = diameter_px
    return picks


def _number_or_none(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def _is_given(cell) -> bool:
    return isinstance(cell, str) and bool(cell)


def _is_given_path(cell) -> bool:
    return isinstance(cell, (str, os.PathLike)) and bool(str(cell))


def _relative_path(path: str | os.PathLike, folder: Path) -> str:
    """`path` relative to `folder`, with forward slashes; absolute where no relative path leads there."""
    absolute = os.path.abspath(path)
    try:
        return Path(os.path.relpath(absolute, os.path.abspath(folder))).as_posix()
    except ValueError:   # on Windows, another drive
        return absolute
