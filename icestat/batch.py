"""Picking many micrographs: one job per micrograph, its files written atomically, a record of what was done.

Every micrograph's outputs go into the run's output folder, the record
``<stem>_summary.json`` last (:mod:`icestat.records`), so a micrograph is done
exactly when its record exists, names the same settings, and every output it
lists is there. A rerun (:func:`is_done`) skips those; an interrupted run
leaves no half-written file (each is written to a temporary name and renamed).
The run's own files (``summary.csv``, ``autopick.star``, ``particles.star``)
are rebuilt from the records and coordinate files at the end
(:func:`write_run_files`), so they always cover every micrograph done so far.

Picked in one process (:func:`pick_in_turn`), the next micrographs are read
in a background thread while one is picked, so reading overlaps computing.

What a run decides over all its micrographs (one diameter, one polarity), and
which of them it picks again so, is :mod:`icestat.run_decisions`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import mrcfile
import numpy as np
import pandas as pd
from tqdm import tqdm

from icestat._atomic import atomic_path, held_lock, is_storage_error, remove_leftovers
from icestat.backend import cpu_threads, parse_device
from icestat.bright_field import segment_and_pick
from icestat.candidates import noise_candidate_heights
from icestat.coords import read_star, write_autopick_index, write_particles_star, write_picks
from icestat.coords.star_file import star_text
from icestat.coords.table import MICROGRAPH_COLUMN, pick_table
from icestat.diameter import given_diameter_px, is_crowded
from icestat.evaluate import scored_at_least
from icestat.features import compute_features
from icestat.micrograph import (SEGMENTATION_FILE_ENDINGS, file_error, micrograph_stem,
                                read_micrograph, write_mrc)
from icestat.model import IceModel, load_model
from icestat.overlay import shrunk, write_overlay
from icestat.pick import DEFAULT_THRESHOLD
from icestat.polarity import check_polarity
from icestat.records import (RECORD_ENDING, UNDER_THRESHOLD_COLUMNS, overlay_labels, read_record, record_file,
                              under_threshold, write_record)

if TYPE_CHECKING:   # the run's decisions read this module's summary rows
    from icestat.run_decisions import RunDiameter

log = logging.getLogger(__name__)

#: Columns of ``summary.csv``, one row per micrograph. ``rejected_<reason>`` count the candidates rejected for each
#: reason of :attr:`icestat.pick.Picks.n_rejected` (on carbon, on contamination, too near the edge, too faint): what
#: to look at when a micrograph has few picks; ``threshold`` is the lowest score of its picks asked for (empty in a
#: record from before the column). ``polarity`` says whether its particles were taken as dark or bright,
#: and ``polarity_source`` by whom (said, judged on the micrograph, or the run's); ``bright_balance`` what ``--polarity
#: auto`` judged the image by (:attr:`icestat.pick.Picks.bright_balance`, -1 to 1: above +0.15 it looks inverted; empty
#: where the polarity was given or the run's). Micrographs whose particles are bright are
#: segmented and picked negated (:func:`icestat.bright_field.segment_and_pick`). ``brighter_than_ice_fraction`` is
#: the fraction of the micrograph brighter than what is called ice (:func:`icestat.segment.brighter_than_ice`); at
#: ``icestat.segment.MIN_BRIGHTER_FRACTION`` or more, a micrograph mostly of carbon film, or an inverted one read as
#: raw, segmented wrong, or holes in the ice; check its overlay.
SUMMARY_COLUMNS = (
    "micrograph", "status", "pixel_size_A", "n_picks", "threshold", "rejected_carbon", "rejected_contamination",
    "rejected_edge", "rejected_faint", "ice_fraction", "particle_fraction", "carbon_fraction", "contamination_fraction",
    "brighter_than_ice_fraction", "diameter_px",
    "diameter_source", "blob_diameter_px", "crowded", "polarity", "polarity_source", "bright_balance", "seconds", "error",
)
#: Values of the ``diameter_source`` column: the diameter used was given, estimated from the blobs of the
#: micrograph's own particle evidence (``blob_diameter_px``, :func:`icestat.diameter.estimate_diameter_px`, no wider
#: than its picks' spacing, :func:`icestat.diameter.spacing_bound_px`; also reported when the run's is used, as made
#: before it was, empty when the diameter is given), or the run's diameter.
#: ``crowded`` says whether the micrograph was crowded with particles where its own estimate was made
#: (:func:`icestat.diameter.is_crowded`: that estimate is less reliable; the run's diameter says when it rests on
#: crowded micrographs alone); empty when the diameter is given.
GIVEN, BLOBS, RUN = "given", "blobs", "run"
#: Values of the ``polarity_source`` column besides ``given`` (``--polarity dark`` or ``bright``) and ``run`` (the
#: run's, :func:`icestat.run_decisions.to_pick_as_bright`): judged on the micrograph by ``--polarity auto``.
JUDGED = "judged"
#: Values of the ``status`` column: ``threshold changed`` is a micrograph picked before at another threshold, whose
#: files now hold the candidates it scored then that score at least this run's (:func:`is_done`).
PICKED, DONE_BEFORE, THRESHOLD_CHANGED, FAILED = "picked", "done before", "threshold changed", "failed"
#: The key (not a summary column) under which a failed row holds ``(errno, strerror)`` where the output's storage
#: refused the micrograph's files (:func:`failed_row`): every micrograph after it would meet the same, so a run
#: stops there. A row, not a raised error, so that a Dask worker neither logs its traceback nor tries it again.
STORAGE_REFUSED = "storage_refused"
#: Micrographs read ahead of the one being picked, in one process.
READ_AHEAD = 2
#: Seconds of making a model's feature kernels ready over which ``-v`` says they were compiled (cached: 0.5 s).
COMPILE_NOTICE_S = 3.0
#: The file locked while a run writes its run files (:func:`write_run_files`), hidden in its output folder.
RUN_FILES_LOCK = ".icestat-run-files.lock"
#: Pick formats written besides RELION STAR; file name ending per format.
EXTRA_FORMAT_ENDINGS = {"box": ".box", "cbox": ".cbox", "tsv": ".tsv", "csv": ".csv"}


@dataclass(frozen=True)
class PickSettings:
    """How every micrograph of a run is picked and what is written for it.

    Attributes
    ----------
    model_path : str or None
        Model file; the default model when None.
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.
    diameter_A, diameter_px : float or None
        Particle diameter in ångström (needs the pixel size) or in pixels; at
        most one; estimated from the particle evidence when both are None.
    threshold : float
        Lowest pick score kept.
    polarity : str
        The particles are ``dark`` (raw micrographs), ``bright`` (inverted
        ones) or ``auto`` (:func:`icestat.bright_field.segment_and_pick`).
    formats : tuple of str
        Pick formats written besides STAR (``box``, ``cbox``, ``tsv``, ``csv``).
    write_segmentation : bool
        Also write ``<stem>_labels.mrc``, ``<stem>_ice.mrc`` and ``<stem>_overlay.png`` (about 85 MB for a 4096x4096
        micrograph, nearly all of it the two maps).
    write_overlay : bool
        Also write ``<stem>_overlay.png`` (about 1.5 MB); True wherever `write_segmentation` is.
    pixel_size_A : float or None
        Pixel size overriding the micrographs' headers.
    carbon_regions : bool
        Carbon decided per region (:mod:`icestat.carbon`), or per pixel when False.
    refine : bool
        Use the model's CNN boundary refiner; False scores the picks from the
        patch classifier's probabilities alone (:func:`icestat.segment.segment`).
    """

    model_path: str | None = None
    device: str = "cpu"
    diameter_A: float | None = None
    diameter_px: float | None = None
    threshold: float = DEFAULT_THRESHOLD
    polarity: str = "auto"
    formats: tuple[str, ...] = field(default=())
    write_segmentation: bool = False
    write_overlay: bool = False
    pixel_size_A: float | None = None
    carbon_regions: bool = True
    refine: bool = True

    def __post_init__(self):
        if self.diameter_A is not None and self.diameter_px is not None:
            raise ValueError("give the particle diameter in ångström or in pixels, not both")
        check_polarity(self.polarity)
        if self.write_segmentation:   # its files hold the overlay
            object.__setattr__(self, "write_overlay", True)
        unknown = set(self.formats) - set(EXTRA_FORMAT_ENDINGS) - {"star"}
        if unknown:
            raise ValueError(f"unknown pick format(s) {', '.join(sorted(unknown))}; "
                             f"use star, {', '.join(EXTRA_FORMAT_ENDINGS)}")

    @property
    def records_overlay_labels(self) -> bool:
        """Whether each micrograph's record keeps the labels its overlay shows: an overlay without the label map of
        ``write_segmentation`` to draw it again over (:func:`icestat.records.overlay_labels`)."""
        return self.write_overlay and not self.write_segmentation

    def outputs(self, output: Path, stem: str) -> dict[str, Path]:
        """The files written for the micrograph of `stem`, by kind, the STAR coordinate file last."""
        files = {fmt: output / f"{stem}{EXTRA_FORMAT_ENDINGS[fmt]}" for fmt in self.formats if fmt != "star"}
        if self.write_segmentation:
            files.update({kind: output / f"{stem}{ending}" for kind, ending in SEGMENTATION_FILE_ENDINGS.items()})
        elif self.write_overlay:
            files["overlay"] = output / f"{stem}{SEGMENTATION_FILE_ENDINGS['overlay']}"
        files["star"] = coordinate_file(output, stem)
        return files

    def to_dict(self) -> dict:
        """JSON-ready values."""
        values = asdict(self)
        values["formats"] = sorted(self.formats)
        return values


def bytes_written(output: Path, settings: PickSettings, stem: str) -> int:
    """How many bytes the files of the micrograph of `stem` take in `output`, its record too."""
    files = [*settings.outputs(output, stem).values(), record_file(output, stem)]
    return sum(path.stat().st_size for path in files if path.exists())


def coordinate_file(output: Path, stem: str) -> Path:
    """The RELION coordinate file of a micrograph: ``<output>/<stem>_autopick.star``."""
    return Path(output) / f"{stem}_autopick.star"


def picked_by_other_runs(output: Path, paths: list[str]) -> list[str]:
    """The names of the micrographs with a record in `output` that are not among `paths` (sorted)."""
    this_run = {micrograph_stem(path) for path in paths}
    return sorted(name for record in Path(output).glob(f"*{RECORD_ENDING}")
                  if (name := record.name[:-len(RECORD_ENDING)]) not in this_run)


def check_names(paths: list[str], output: Path) -> None:
    """Raise ValueError when two micrographs would write the same output files, or the name of a micrograph or of
    the output folder (in every coordinate file's) cannot be written to the run's STAR files."""
    check_stems(paths)
    star_text(str(output))
    for path in paths:
        star_text(str(path))


def check_stems(paths: list[str]) -> None:
    """Raise ValueError when two micrographs would write the same output files."""
    seen: dict[str, str] = {}
    for path in paths:
        stem = micrograph_stem(path)
        if stem in seen and seen[stem] != str(path):
            raise ValueError(f"{seen[stem]} and {path} share the name {stem!r}; their outputs would collide")
        seen[stem] = str(path)


def is_done(path: str, output: Path, settings: PickSettings) -> dict | None:
    """The summary row of a micrograph already picked with these settings, or None when it must be (re)done.

    The device does not count: CPU and GPU pick the same particles. Nor do the
    pick formats asked for besides STAR: those a micrograph picked before lacks
    are written from its STAR file, in seconds for a whole run. Nor does the
    threshold: a candidate's score does not depend on it, and the record keeps
    every candidate scored under the threshold it was picked at, so the picks
    at another threshold, higher or lower, are those of the STAR file and the
    record scoring at least it (the same as picking again, but for a score
    within the files' rounding of the threshold); every file of the micrograph
    is written again with them, its overlay drawn again over the labels of
    ``--segmentation`` or those its record keeps (:func:`_rewrite_from_record`).
    A record written before icestat kept those candidates has its micrograph
    picked again for another threshold. A setting
    added to icestat after the record was written counts as its default, so an
    upgrade does not redo earlier runs; a summary column added since is empty
    (its row holds every one of ``SUMMARY_COLUMNS``).
    """
    try:
        done = read_record(output, micrograph_stem(path))
        recorded, outputs, row = _comparable(done["settings"]), list(done["outputs"]), dict(done["row"])
        under = under_threshold(done)
    except (OSError, ValueError, KeyError, TypeError):   # no record, or not one icestat wrote: picked again
        return None
    asked = _comparable(settings.to_dict())
    if {**recorded, "formats": asked["formats"], "threshold": asked["threshold"]} != asked:
        log.info("%s: picked before with other settings; picking again", path)
        return None
    rethreshold = asked["threshold"] != recorded["threshold"]
    if rethreshold and under is None:
        log.info("%s: picked before at threshold %g by an icestat that kept no candidates under it; picking again",
                 path, recorded["threshold"])
        return None
    if not all(Path(name).is_file() for name in outputs):
        return None
    row = {column: row.get(column, math.nan) for column in SUMMARY_COLUMNS}
    if rethreshold or recorded["formats"] != asked["formats"]:
        try:
            row = _rewrite_from_record(path, output, settings, done, row, under, rethreshold)
        except (OSError, ValueError, KeyError, TypeError):   # its files are not as written, or its micrograph is gone
            return None
    return row | {"status": THRESHOLD_CHANGED if rethreshold else DONE_BEFORE}


def done_before(paths: list[str], output: Path, settings: PickSettings) -> Iterator[dict | None]:
    """:func:`is_done` of each micrograph, in the order of `paths`, in as many threads as this process has cores: a
    rerun at another threshold draws each micrograph's overlay again (reading it and writing a PNG, which leave
    Python's lock free)."""
    with ThreadPoolExecutor(max_workers=cpu_threads(), thread_name_prefix="icestat-done") as pool:
        yield from pool.map(lambda path: is_done(path, output, settings), paths)


def _rewrite_from_record(path: str, output: Path, settings: PickSettings, record: dict, row: dict,
                         under: pd.DataFrame | None, rethreshold: bool) -> dict:
    """Write the files of a micrograph picked before as `settings` ask, record them, and return its summary row.

    The candidates are the picks of its STAR file and, where its `record` kept them (`under`), those it scored under
    the threshold, with the diameter of its summary `row`. The pick formats (:func:`_write_pick_formats`) are
    written with those scoring at least the threshold of `settings`; where it changed (`rethreshold`), so are the
    STAR file and the overlay (drawn again from the micrograph and its labels: the label map of ``--segmentation``,
    or those the record keeps, :func:`icestat.records.overlay_labels`).
    """
    shown_labels = overlay_labels(record) if settings.records_overlay_labels else None
    name = micrograph_stem(path)
    files = settings.outputs(output, name)
    picked = read_star(files["star"])
    if len(picked) != row["n_picks"]:   # a run stopped between its STAR file and its record: picked again
        raise ValueError(f"{files['star']}: {len(picked)} picks where its record says {row['n_picks']}")
    # the picks, then those under the threshold where kept, all scored under the picks': highest first, as picked
    candidates = pd.concat([picked[list(UNDER_THRESHOLD_COLUMNS)], *([] if under is None else [under])],
                           ignore_index=True)
    candidates = pick_table(candidates["x_px"], candidates["y_px"], score=candidates["score"],
                            diameter_px=row["diameter_px"], micrograph=str(path))
    table, under_now = _split_at(candidates, settings.threshold)
    redraw = rethreshold and settings.write_overlay
    if redraw:   # read before anything is written: where the micrograph is gone, its files stay as they were
        image = read_micrograph(path, settings.pixel_size_A).data
        labels = shown_labels if settings.records_overlay_labels else mrcfile.read(files["labels"])
    _write_pick_formats(table, settings, output, name)
    if redraw:
        write_overlay(files["overlay"], image, labels, table)
    if rethreshold:
        write_picks(table, files["star"], "star")
    row = row | {"n_picks": len(table), "threshold": settings.threshold}
    write_record(output, path, settings.to_dict(), list(files.values()), row, None if under is None else under_now,
                 shown_labels)
    return row


def _write_pick_formats(table: pd.DataFrame, settings: PickSettings, output: Path, name: str) -> None:
    """Write the picks of the micrograph of `name` in the formats besides STAR that `settings` ask for, and in those
    an earlier run left in `output` for it: written again, so that no file of its picks holds others."""
    for fmt, ending in EXTRA_FORMAT_ENDINGS.items():
        file = output / f"{name}{ending}"
        if fmt in settings.formats or file.is_file():
            write_picks(table, file, fmt)


def _split_at(candidates: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The candidates scoring at least `threshold` (the picks), and the others."""
    return scored_at_least(candidates, threshold), candidates[candidates["score"] < threshold]


def _comparable(settings: dict) -> dict:
    """Recorded settings as compared: without the device, and with any setting the record lacks at its default."""
    values = {**PickSettings().to_dict(), **settings}
    del values["device"]
    values["write_overlay"] = bool(values["write_overlay"] or values["write_segmentation"])   # a record from before
    return values


@lru_cache(maxsize=2)
def cached_model(model_path: str | None, device: str) -> IceModel:
    """Load a model once per process (and per device), with what picking makes once per process made.

    That is the candidates of white noise that picks must stand out of
    (:func:`icestat.candidates.noise_candidate_heights`, 0.5 s) and the CPU feature
    kernels: Numba compiles them on their first call on a machine, about 12 s
    on 2 cores, and keeps them in its cache for every later process. Made
    here, that time is not counted as the first micrograph's (the compilation's
    is said with ``-v``). The CUDA kernels compile on their first call, with
    the first micrograph picked on a GPU, and are kept in numba's cache too
    (:mod:`icestat.features.gpu`).
    """
    model = load_model(model_path, device=device)
    noise_candidate_heights()
    if parse_device(device).is_gpu:
        return model
    start = time.perf_counter()
    settings = model.settings
    compute_features(np.random.default_rng(0).normal(size=(2 * settings.patch_px,) * 2).astype(np.float32),
                     settings.patch_px, settings.stride_px, settings.features)
    compile_s = time.perf_counter() - start
    if compile_s > COMPILE_NOTICE_S:
        log.info("the feature kernels took %.0f s to compile for this machine (once: Numba keeps them)", compile_s)
    return model


def pick_micrograph(path: str, output: Path, settings: PickSettings, reading: Future | None = None,
                    run_diameter: RunDiameter | None = None, run_polarity: str | None = None) -> dict:
    """Pick one micrograph and write its files; never raises for a bad micrograph, nor for a fault met on it.

    Parameters
    ----------
    path : str
        Micrograph file.
    output : Path
        The run's output folder (it must exist).
    settings : PickSettings
    reading : Future, optional
        The micrograph being read already (:func:`pick_in_turn`); read here when None.
    run_diameter : icestat.run_decisions.RunDiameter, optional
        The run's particle diameter, used when `settings` give none
        (:func:`icestat.run_decisions.to_pick_with_run_diameter`); the micrograph's own estimate when None.
    run_polarity : {"dark", "bright"}, optional
        The run's particle polarity (:func:`icestat.run_decisions.to_pick_as_bright`), used instead
        of `settings`'; theirs when None.

    Returns
    -------
    dict
        Its summary row (``SUMMARY_COLUMNS``); ``status`` is ``failed`` with
        the one-line ``error`` when the micrograph could not be picked.
    """
    start = time.perf_counter()
    name = micrograph_stem(path)
    try:
        model = cached_model(settings.model_path, settings.device).with_carbon_regions(settings.carbon_regions)
        start = time.perf_counter()   # loaded once per process (a cluster worker's first task), not this micrograph's
        micrograph = reading.result() if reading is not None else read_micrograph(path, settings.pixel_size_A)
        diameter_px = given_diameter_px(settings.diameter_A, settings.diameter_px, micrograph.pixel_size_A, path)
        source = GIVEN if diameter_px is not None else RUN if run_diameter is not None else BLOBS
        if source == RUN:
            diameter_px = run_diameter.px(micrograph.pixel_size_A)
        # No warning per crowded micrograph: the run's diameter settles them (to_pick_with_run_diameter), and
        # `icestat pick` says once whether it rests on crowded micrographs only. Nor an estimate from faint bumps:
        # the run's diameter picks a micrograph without an estimate, and empty holes' speckle would pull it.
        polarity = run_polarity or settings.polarity
        # Every candidate scored (threshold 0): those under the threshold are kept in the record (UNDER_THRESHOLD).
        segmentation, picks = segment_and_pick(micrograph, model, diameter_px, 0.0, polarity, settings.device,
                                               settings.refine, warn_if_crowded=False, faint_bumps=False)
        if source == BLOBS:
            own_estimate = dict(blob_diameter_px=picks.diameter_px,
                                crowded=is_crowded(segmentation.class_fractions()["particle"]))
        elif source == RUN:   # the run's diameter rests on each micrograph's own estimate
            own_estimate = run_diameter.own_estimates[name]
        else:
            own_estimate = dict(blob_diameter_px=math.nan, crowded=math.nan)
        files = settings.outputs(output, name)
        remove_leftovers([*files.values(), record_file(output, name)])   # of a worker killed while writing them
        table, under = _split_at(picks.table.assign(**{MICROGRAPH_COLUMN: str(path)}), settings.threshold)
        _write_pick_formats(table, settings, output, name)
        if settings.write_segmentation:
            write_mrc(files["labels"], segmentation.labels, micrograph.pixel_size_A)
            write_mrc(files["ice"], segmentation.ice_probability, micrograph.pixel_size_A)
        if settings.write_overlay:
            write_overlay(files["overlay"], micrograph.data, segmentation.labels, table)
        write_picks(table, files["star"], "star")
        fractions = segmentation.class_fractions()
        rejected = {f"rejected_{reason}": count for reason, count in picks.n_rejected.items()}
        row = _row(name, PICKED, pixel_size_A=micrograph.pixel_size_A, n_picks=len(table),
                   threshold=settings.threshold, **rejected, ice_fraction=fractions["ice"],
                   particle_fraction=fractions["particle"], carbon_fraction=fractions["carbon"],
                   contamination_fraction=fractions["contamination"],
                   brighter_than_ice_fraction=segmentation.brighter_than_ice_fraction, diameter_px=picks.diameter_px,
                   diameter_source=source, **own_estimate, polarity=picks.polarity,
                   polarity_source=RUN if run_polarity else JUDGED if polarity == "auto" else GIVEN,
                   bright_balance=picks.bright_balance, seconds=time.perf_counter() - start)
        # for a rerun at another threshold to draw the overlay again
        shown_labels = shrunk(segmentation.labels) if settings.records_overlay_labels else None
        write_record(output, path, settings.to_dict(), list(files.values()), row, under, shown_labels)   # last
    except Exception as err:   # a bad micrograph, or a fault met on it alone (file_error says which): the rest go on
        return failed_row(path, err, seconds=time.perf_counter() - start)
    return row


def pick_in_turn(paths: Iterable[str], output: Path, settings: PickSettings, read_ahead: int = READ_AHEAD,
                 run_diameter: RunDiameter | None = None, run_polarity: str | None = None) -> Iterator[dict]:
    """Pick micrographs one after another in this process, the next `read_ahead` read meanwhile.

    `run_diameter` and `run_polarity` are passed on to :func:`pick_micrograph`.

    Yields
    ------
    dict
        Each micrograph's summary row (:func:`pick_micrograph`), in order.
    """
    paths = iter(paths)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="icestat-read") as reader:
        def start_reading(path: str) -> tuple[str, Future]:
            return path, reader.submit(read_micrograph, path, settings.pixel_size_A)

        queue = deque(start_reading(path) for path in islice(paths, 1 + read_ahead))
        while queue:
            path, reading = queue.popleft()
            row = pick_micrograph(path, output, settings, reading, run_diameter, run_polarity)
            following = next(paths, None)
            if following is not None:
                queue.append(start_reading(following))
            yield row


def failed_row(path: str, err: Exception, seconds: float = math.nan) -> dict:
    """The summary row of a micrograph that could not be picked, with the error in one line.

    Where `err` is the output's storage refusing the micrograph's files (full, over quota, read-only:
    :func:`icestat._atomic.is_storage_error`), the row also holds ``STORAGE_REFUSED``.
    """
    row = _row(micrograph_stem(path), FAILED, seconds=seconds, error=file_error(path, err))
    if is_storage_error(err):
        row[STORAGE_REFUSED] = (err.errno, err.strerror or str(err))
    return row


def write_run_files(paths: list[str], output: Path, rows: list[dict], show_progress: bool = False) -> pd.DataFrame:
    """Write ``summary.csv``, ``autopick.star`` and ``particles.star`` for the micrographs of a run.

    The three are written holding the lock of ``RUN_FILES_LOCK`` in `output`
    (:func:`icestat._atomic.held_lock`): runs over parts of a dataset ending at
    once into one folder (a SLURM array's jobs) each leave three files of one
    run, the last one's, not a mix.

    Parameters
    ----------
    paths : list of str
        The run's micrographs, in order.
    output : Path
        The run's output folder.
    rows : list of dict
        Summary rows, one per micrograph (any order).
    show_progress : bool
        Show a progress bar over the coordinate files read, where that takes
        over 2 s (a run of thousands of micrographs: about 7 ms each).

    Returns
    -------
    DataFrame
        The summary, in the order of `paths`.
    """
    by_name = {row["micrograph"]: row for row in rows}
    tables = {}   # each micrograph's picks, by its path
    for path in tqdm(paths, unit="mic", desc="writing the run files", delay=2, disable=not show_progress):
        name = micrograph_stem(path)
        if by_name[name]["status"] == FAILED:
            continue
        try:
            tables[str(path)] = read_star(coordinate_file(output, name)).assign(**{MICROGRAPH_COLUMN: str(path)})
        except (OSError, ValueError) as err:   # changed since it was picked: its record goes, so a rerun picks it
            record_file(output, name).unlink(missing_ok=True)
            by_name[name] = failed_row(path, RuntimeError(f"its coordinate file cannot be read ({err}); the same "
                                                          "command again picks it again"))
            log.error("%s", by_name[name]["error"])
    summary = pd.DataFrame([by_name[micrograph_stem(path)] for path in paths], columns=list(SUMMARY_COLUMNS))
    picked = [table for table in tables.values() if len(table)]
    particles = pd.concat(picked, ignore_index=True) if picked else pick_table([], [], micrograph=[])
    with held_lock(output / RUN_FILES_LOCK):   # the three files of one run, where several runs end at once
        with atomic_path(output / "summary.csv") as tmp:
            summary.to_csv(tmp, index=False, float_format="%.6g")
        write_autopick_index({path: str(coordinate_file(output, micrograph_stem(path))) for path in tables},
                             output / "autopick.star")
        write_particles_star(particles, output / "particles.star")
    return summary


def _row(name: str, status: str, **values) -> dict:
    row = {column: math.nan for column in SUMMARY_COLUMNS}
    row.update(micrograph=name, status=status, n_picks=0, error="")
    row.update(values)
    return row
