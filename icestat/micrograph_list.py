"""The micrographs a command names: files, folders of them, or RELION micrograph STAR files that list them.

A folder stands for the micrograph files directly in it (``MICROGRAPH_SUFFIXES``,
not ``NOT_MICROGRAPH_STEM_ENDINGS``), in name order; of a micrograph saved both
with and without dose weighting, the dose-weighted one (``DOSE_WEIGHTED_PAIRS``).
Files named one by one (a shell's ``mics/*.mrc``) follow the same rules where
the micrograph they go with is named too: its power spectrum or icestat's
segmentation files beside it, or its copy without dose weighting, are left out.
A STAR file (``MotionCorr/job002/corrected_micrographs.star``,
``CtfFind/job003/micrographs_ctf.star``, a Select job's output ...) stands for
the micrographs in its ``_rlnMicrographName`` column, read with the pixel size
its optics groups give (``_rlnMicrographPixelSize``; RELION 3.0 files without
optics: ``_rlnDetectorPixelSize`` in µm over ``_rlnMagnification``). RELION
names files relative to its project folder; icestat keeps those names when run
from there, so the ``autopick.star`` it writes pairs with RELION's micrographs
in an Extract job, and otherwise finds the project folder among the STAR file's
folders.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from icestat.coords.relion import project_folders
from icestat.coords.star_file import read_star_file
from icestat.micrograph import SEGMENTATION_FILE_ENDINGS, micrograph_stem

log = logging.getLogger(__name__)

#: The files a folder named on the command line stands for (compressed MRC too) ...
MICROGRAPH_SUFFIXES = (".mrc", ".mrc.gz", ".mrc.bz2", ".tif", ".tiff", ".png", ".jpg", ".jpeg")
#: ... but for those whose stem ends so: the power spectra RELION's MotionCorr writes beside its micrographs, and
#: icestat's own segmentation files.
NOT_MICROGRAPH_STEM_ENDINGS = ("_PS", *(ending.split(".")[0] for ending in SEGMENTATION_FILE_ENDINGS.values()))
#: Stem endings of a micrograph saved with and without dose weighting, as (dose-weighted, not): MotionCor2 writes
#: ``mic_DW.mrc`` beside ``mic.mrc``, RELION's own motion correction ``mic_noDW.mrc`` beside ``mic.mrc``, cryoSPARC's
#: Patch Motion Correction ``mic_patch_aligned_doseweighted.mrc`` beside ``mic_patch_aligned.mrc``. A folder stands for
#: the dose-weighted one only: picking both would pick every particle twice.
DOSE_WEIGHTED_PAIRS = (("_DW", ""), ("", "_noDW"), ("_doseweighted", ""))
#: Column of the micrograph files in a RELION STAR file.
NAME_LABEL = "rlnMicrographName"
#: Ångström per micrometre, to turn RELION 3.0's detector pixel size (µm) into ångström.
A_PER_UM = 1e4


@dataclass(frozen=True)
class MicrographList:
    """The micrograph files a command works on.

    Attributes
    ----------
    paths : list of str
        The files, in the order given (a STAR file's in its order).
    pixel_size_A : float or None
        The pixel size the STAR files give; None when the micrographs were
        named as files (their headers tell) or the STAR files give none.
    """

    paths: list[str]
    pixel_size_A: float | None


def list_micrographs(arguments: Sequence[str]) -> MicrographList:
    """The micrographs that command-line `arguments` name: micrograph files, folders of them, or RELION STAR files.

    Parameters
    ----------
    arguments : sequence of str
        Micrograph files, folders (each standing for the files directly in it
        whose names end in one of ``MICROGRAPH_SUFFIXES``, in name order,
        leaving out RELION's power spectra and icestat's segmentation files:
        ``NOT_MICROGRAPH_STEM_ENDINGS``) and files ending in ``.star``.

    Returns
    -------
    MicrographList

    Raises
    ------
    ValueError
        One line naming the STAR file and the problem: missing, not readable, no
        ``_rlnMicrographName`` column, particles rather than micrographs, none
        of its micrographs found, micrographs of several pixel sizes; or STAR
        files and micrograph files given together (the pixel size of the one
        would override the headers of the other); or a folder with no
        micrograph file.
    """
    arguments = [path for argument in arguments for path in _files_of(argument)]
    stars = [argument for argument in arguments if _is_star(argument)]
    if not stars:
        return MicrographList(_once_each(_without_companions(arguments)), None)
    if len(stars) < len(arguments):
        raise ValueError(f"give micrograph files or RELION STAR files listing them, not both "
                         f"({stars[0]} and {next(a for a in arguments if not _is_star(a))})")
    paths, pixel_sizes_A = [], {}
    for star in stars:
        listed, pixel_size_A = read_micrograph_star(star)
        paths += listed
        if pixel_size_A is not None:
            pixel_sizes_A[star] = pixel_size_A
    if len(set(pixel_sizes_A.values())) > 1:
        raise ValueError("the STAR files give micrographs of several pixel sizes ("
                         + ", ".join(f"{star}: {size:g} Å" for star, size in pixel_sizes_A.items())
                         + "); give each in its own run")
    if pixel_sizes_A and len(pixel_sizes_A) < len(stars):
        raise ValueError(f"{next(s for s in stars if s not in pixel_sizes_A)} gives no pixel size and "
                         f"{next(iter(pixel_sizes_A))} does; give each in its own run")
    return MicrographList(_once_each(paths), next(iter(pixel_sizes_A.values()), None))


def _once_each(paths: list[str]) -> list[str]:
    """`paths` with each file once (its first name kept; a file named twice, by one name or two, would be picked
    twice, and its particles extracted twice), said in a warning where any was named more than once."""
    firsts: dict[str, str] = {}
    repeated = []
    for path in paths:
        real = os.path.realpath(path)
        if real in firsts:
            repeated.append(firsts[real])
        else:
            firsts[real] = path
    if repeated:
        log.warning("%d micrograph name(s) repeat a micrograph named before (such as %s): each micrograph is taken once",
                    len(repeated), repeated[0])
    return list(firsts.values())


def read_micrograph_star(path: str | os.PathLike) -> tuple[list[str], float | None]:
    """The micrograph files a RELION STAR file lists, and their pixel size.

    Parameters
    ----------
    path : str or PathLike
        A RELION micrograph STAR file (3.0 to 5.0).

    Returns
    -------
    paths : list of str
        The listed files as RELION names them when they are found from the
        working directory, else joined to the first of the STAR file's folders
        (nearest first) that holds them, relative to the working directory.
    pixel_size_A : float or None
        None when the file gives none.

    Raises
    ------
    ValueError
        As for :func:`list_micrographs`.
    """
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    blocks = read_star_file(path)
    blocks = {name: pd.DataFrame([block]) if isinstance(block, dict) else block for name, block in blocks.items()}
    micrographs = _micrograph_block(path, blocks)
    names = micrographs[NAME_LABEL].astype(str).tolist()
    return _found_from_here(path, names), _pixel_size_A(path, micrographs, blocks.get("optics"))


def _files_of(argument: str) -> list[str]:
    """The micrograph files directly in `argument` when it is a folder, else `argument` itself.

    A link whose file is gone is listed too, so that it is reported as such, not passed over.
    """
    if not Path(argument).is_dir():
        return [argument]
    files = sorted(path for path in Path(argument).iterdir()
                   if not path.is_dir() and path.name.lower().endswith(MICROGRAPH_SUFFIXES)
                   and not micrograph_stem(path).endswith(NOT_MICROGRAPH_STEM_ENDINGS))
    if not files:
        raise ValueError(f"{argument}: a folder with no micrograph file ({', '.join(MICROGRAPH_SUFFIXES)})")
    not_weighted = _not_dose_weighted(files)
    if not_weighted:
        log.warning("%s: %d micrograph(s) also saved without dose weighting (such as %s); taking the dose-weighted "
                    "one(s) only", argument, len(not_weighted), not_weighted[0].name)
    return [str(path) for path in files if path not in not_weighted]


def _without_companions(paths: list[str]) -> list[str]:
    """`paths` without the files that go with a micrograph among them, where they were named with it: its power
    spectrum or icestat's segmentation files (``NOT_MICROGRAPH_STEM_ENDINGS``; a ``_labels.mrc`` taken for a
    micrograph is refused as a label map, and the run fails), and its copy without dose weighting (picked too, its
    particles would be picked twice); each said in a warning."""
    files = [Path(path) for path in paths]
    present = {(path.parent, micrograph_stem(path)) for path in files}
    companions = [path for path in files if any(
        stem.endswith(ending) and (path.parent, stem.removesuffix(ending)) in present
        for stem in [micrograph_stem(path)] for ending in NOT_MICROGRAPH_STEM_ENDINGS)]
    if companions:
        log.warning("%d file(s) named beside their micrograph are its power spectrum or icestat's segmentation files "
                    "(such as %s); leaving them out", len(companions), companions[0])
    not_weighted = _not_dose_weighted(files)
    if not_weighted:
        log.warning("%d micrograph(s) also named without dose weighting (such as %s); taking the dose-weighted one(s) "
                    "only", len(not_weighted), not_weighted[0])
    left_out = set(companions) | set(not_weighted)
    return [path for path, file in zip(paths, files) if file not in left_out]


def _not_dose_weighted(files: list[Path]) -> list[Path]:
    """Those of `files` that have a dose-weighted twin among them in their folder (``DOSE_WEIGHTED_PAIRS``), in
    order."""
    keys = [(path.parent, micrograph_stem(path)) for path in files]
    present = set(keys)
    twinned = set()
    for weighted_ending, plain_ending in DOSE_WEIGHTED_PAIRS:
        for path, (folder, stem) in zip(files, keys):
            twin = stem.removesuffix(plain_ending) + weighted_ending
            if stem.endswith(plain_ending) and twin != stem and (folder, twin) in present:
                twinned.add(path)
    return [path for path in files if path in twinned]


def _is_star(argument: str) -> bool:
    return Path(argument).suffix.lower() == ".star"


def _micrograph_block(path, blocks: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The block listing micrographs: ``data_micrographs``, else the one block with their names."""
    with_names = {name: block for name, block in blocks.items() if NAME_LABEL in block.columns}
    block = with_names.get("micrographs")
    if block is None and len(with_names) == 1:
        block = next(iter(with_names.values()))
    if block is None:
        raise ValueError(f"{path}: no list of micrographs (a loop with _{NAME_LABEL}); "
                         "give a RELION micrograph STAR file such as micrographs_ctf.star")
    if "rlnCoordinateX" in block.columns or "rlnImageName" in block.columns:
        raise ValueError(f"{path}: lists particles, not micrographs; give a RELION micrograph STAR file "
                         "such as micrographs_ctf.star")
    if block.empty:
        raise ValueError(f"{path}: lists no micrographs")
    return block


def _found_from_here(path, names: list[str]) -> list[str]:
    """`names`, relative to the project folder: as they are when found from here, else joined to that folder."""
    relative = [name for name in names if not Path(name).is_absolute()]
    if not relative or any(Path(name).is_file() for name in relative):
        return names
    for project in project_folders(path):
        if any((project / name).is_file() for name in relative):
            return [name if Path(name).is_absolute() else os.path.relpath(project / name) for name in names]
    raise ValueError(f"{path}: none of its {len(names)} micrographs (such as {relative[0]}) found here or from its "
                     "folders; run icestat from the RELION project folder")


def _pixel_size_A(path, micrographs: pd.DataFrame, optics: pd.DataFrame | None) -> float | None:
    """The one pixel size of the listed micrographs, from their optics groups or RELION 3.0's columns."""
    if optics is not None and "rlnMicrographPixelSize" in optics.columns:
        if "rlnOpticsGroup" in micrographs.columns and "rlnOpticsGroup" in optics.columns:
            by_group = optics.set_index("rlnOpticsGroup")["rlnMicrographPixelSize"]
            sizes = micrographs["rlnOpticsGroup"].map(by_group)
        else:
            sizes = optics["rlnMicrographPixelSize"]
    elif {"rlnDetectorPixelSize", "rlnMagnification"} <= set(micrographs.columns):
        sizes = micrographs["rlnDetectorPixelSize"] * A_PER_UM / micrographs["rlnMagnification"]
    else:
        return None
    sizes = np.unique(np.round(sizes.to_numpy(dtype=np.float64), 6))
    if np.isnan(sizes).any() or not (sizes > 0).all():
        raise ValueError(f"{path}: some micrographs have no valid pixel size (optics groups missing or not positive)")
    if len(sizes) > 1:
        raise ValueError(f"{path}: micrographs of {len(sizes)} pixel sizes ({', '.join(f'{s:g}' for s in sizes)} Å); "
                         "give each optics group in its own run")
    return float(sizes[0])
