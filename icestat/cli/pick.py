"""Pick particles in many micrographs: the compact non-ice blobs inside ice.

Writes into the output folder, per micrograph:
  <stem>_autopick.star   RELION coordinate file (x, y, figure of merit)
  <stem>.box/.cbox/...   the other formats asked for with --format
  <stem>_overlay.png     with --overlays or --segmentation: the micrograph, its classes and
                         its picks circled (about 1.5 MB)
  <stem>_labels.mrc, <stem>_ice.mrc   with --segmentation (about 85 MB for 4096x4096)
  <stem>_summary.json    the record that the micrograph is done (written last), with
                         the candidates it scored under the threshold
and per run:
  autopick.star   RELION 4/5 index of the coordinate files (Import or Extract in RELION)
  particles.star  every pick with its micrograph
  overlays.html   with --overlays or --segmentation: every overlay on one page, for a browser
  summary.csv     one row per micrograph: status, picks, candidates rejected (on carbon, on
                  contamination, near the edge, faint), class fractions, diameter, seconds

Without --diameter-A or --diameter-px, each micrograph is picked with the
diameter estimated from its own particle evidence (no wider than its picks'
median spacing); then the run's diameter is the median of those estimates, and
those whose own estimate is more than 20 % off it are picked again with it. The
report at the end gives the run's diameter and says when it rests only on
micrographs crowded with particles (less reliable).

With --polarity auto (the default), each micrograph's particles are judged dark
(raw) or bright (inverted: segmented and picked negated); where most of the run
looks inverted (taken as bright, or as dark yet leaning inverted) and some was
taken as dark, a few of the micrographs that look inverted are asked
which way the model sees particles more clearly, and where most say negated
(and at least two), the run's dark ones are picked again as bright
(summary.csv: polarity_source).

A rerun skips micrographs already done with the same settings unless
--overwrite; one at another --threshold writes their files again from the
candidates they scored (no picking again). A micrograph that cannot be read or
picked is reported in the summary and on stderr; the others finish and the exit
code is then 1. Where the output folder's storage is full (or over quota, or
read-only), the run stops at once, keeping what is done: the same command again,
once there is room, picks the rest (a warning after the first micrograph says
when the rest will not fit).

Examples:
    icestat pick mics/*.mrc -o picks/ --diameter-A 150
    icestat pick mics/*.mrc -o picks/ --diameter-A 150 --threshold 0.2   # again, more picks: no picking
    icestat pick mics/*.mrc -o picks2/ --format star,cbox --workers 2 --overlays
    icestat pick CtfFind/job003/micrographs_ctf.star -o picks/ --diameter-A 150   # in a RELION project
"""

from __future__ import annotations

import argparse
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from icestat._atomic import is_storage_error
from icestat._logging import failure_reporter
from icestat.batch import (
    FAILED,
    PICKED,
    RUN,
    STORAGE_REFUSED,
    THRESHOLD_CHANGED,
    PickSettings,
    bytes_written,
    cached_model,
    check_names,
    done_before,
    failed_row,
    pick_in_turn,
    pick_micrograph,
    picked_by_other_runs,
    write_run_files,
)
from icestat.cli._common import (PIXEL_SIZE_HELP, add_diameter_args, add_model_run_args, add_polarity_arg,
                                device_usable, expand_micrographs, n_micrographs, output_folder)
from icestat.diameter import RUN_DIAMETER_TOLERANCE
from icestat.evaluate import check_threshold
from icestat.micrograph import micrograph_stem
from icestat.model import ModelError
from icestat.overlay_index import INDEX_FILE, write_overlay_index
from icestat.pick import DEFAULT_THRESHOLD
from icestat.run_decisions import RunDiameter, to_pick_as_bright, to_pick_with_run_diameter
from icestat.segment import MIN_BRIGHTER_FRACTION
from icestat.workers import gpu_pinning, map_unordered

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat pick``."""
    add_model_run_args(parser)
    add = parser.add_argument
    add_diameter_args(parser)
    add("--threshold", type=float, default=DEFAULT_THRESHOLD,
        help="lowest pick score kept, 0 to 1 (default: %(default)s); changed on a rerun, the "
        "files are written again from the candidates scored before, without picking again")
    add_polarity_arg(parser)
    add("--format", default="star", help="pick formats, comma-separated: star, box, cbox, tsv, csv "
        "(default: %(default)s; STAR is always written)")
    add("--overlays", action="store_true", help="also write each micrograph's overlay: its classes tinted and "
        "its picks circled, a PNG of about 1.5 MB")
    add("--segmentation", action="store_true", help="also write the labels and ice probability maps (about 85 MB "
        "for a 4096x4096 micrograph) with the overlay")
    add("--pixel-size-A", type=float, help=PIXEL_SIZE_HELP)
    add("--workers", type=int, default=1, help="micrographs picked at once: more than 1 starts a local Dask "
        "cluster of that many worker processes (default: %(default)s)")
    add("--scheduler", metavar="ADDRESS", help="send one task per micrograph to a running Dask scheduler, "
        "e.g. tcp://host:8786 (workers must see the micrographs and the output folder)")
    add("--overwrite", action="store_true", help="pick again micrographs already done")


def main(args: argparse.Namespace) -> int:
    """Pick every micrograph; 2 for unusable arguments or model, 1 if any micrograph failed, else 0."""
    if not expand_micrographs(args):
        return 2
    try:
        settings = PickSettings(
            model_path=args.model, device=args.device, diameter_A=args.diameter_A, diameter_px=args.diameter_px,
            threshold=args.threshold, polarity=args.polarity,
            formats=tuple(f.strip().lower() for f in args.format.split(",") if f.strip()),
            write_segmentation=args.segmentation, write_overlay=args.overlays, pixel_size_A=args.pixel_size_A,
            carbon_regions=not args.carbon_per_pixel, refine=not args.no_refine,
        )
        check_threshold(args.threshold, "--threshold")
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        check_names(args.micrographs, Path(args.output))
    except ValueError as err:
        log.error("%s", err)
        return 2
    if not device_usable(args.device):
        return 2
    try:
        cached_model(args.model, args.device)  # fail once, here; kept for the micrographs picked in this process
    except (ModelError, RuntimeError, ValueError) as err:
        log.error("%s", err)
        return 2
    gpus = None
    if args.workers > 1 and args.scheduler is None:  # a local cluster's GPU workers: one GPU each
        gpus, worker_device = gpu_pinning(args.device)
        settings = replace(settings, device=worker_device)
    output = output_folder(args.output)
    if output is None:
        return 2

    rows, to_pick = _done_and_to_pick(args, output, settings)   # summary rows by micrograph name; to pick
    report_failure = failure_reporter(listed_in="summary.csv")

    def pick_all(paths: list[str], run_diameter: RunDiameter | None = None, run_polarity: str | None = None,
                 desc: str = "picking", check_room: bool = False) -> None:
        """Pick `paths`, their rows replacing any earlier ones in `rows` (with `check_room`, warning after the first
        one picked where the rest would not fit: :func:`_warn_if_short_of_room`)."""
        if not paths:   # all done before: no cluster to start
            return
        if args.workers <= 1 and args.scheduler is None:  # here, reading the next micrographs meanwhile
            results = pick_in_turn(paths, output, settings, run_diameter=run_diameter, run_polarity=run_polarity)
        else:   # no more local workers than micrographs: each loads the model first
            results = map_unordered(pick_micrograph, paths, args=(output, settings, None, run_diameter, run_polarity),
                                    workers=min(args.workers, len(paths)), scheduler=args.scheduler,
                                    on_error=failed_row, gpus=gpus)
        path_by_name = {micrograph_stem(path): str(path) for path in paths}
        bar = tqdm(total=len(paths), unit="mic", desc=desc, disable=args.quiet)
        n_picks = sum(row["n_picks"] for row in rows.values())
        with bar, logging_redirect_tqdm(loggers=[logging.getLogger("icestat")]):
            for row in results:
                if STORAGE_REFUSED in row:   # so would every micrograph after it: the run stops (main)
                    raise OSError(*row[STORAGE_REFUSED])
                earlier = rows.get(row["micrograph"])
                n_picks += row["n_picks"] - (earlier["n_picks"] if earlier else 0)
                rows[row["micrograph"]] = row
                if row["status"] == FAILED:
                    report_failure(path_by_name[row["micrograph"]], row["error"])
                elif check_room:
                    check_room = False
                    _warn_if_short_of_room(output, bytes_written(output, settings, row["micrograph"]),
                                           len(paths) - bar.n - 1)
                bar.set_postfix(picks=n_picks)
                bar.update()

    estimating = settings.diameter_A is None and settings.diameter_px is None
    try:
        pick_all(to_pick, check_room=True)
        if settings.polarity == "auto":
            again = to_pick_as_bright(args.micrographs, list(rows.values()), settings)
            if again:
                log.info("most micrographs look inverted, and the model sees their particles more clearly negated: "
                         "picking again %s as bright", n_micrographs(len(again)))
                pick_all(again, run_polarity="bright", desc="picking as bright")
        # Taken as bright by the run (now or in an earlier run): so when picked again with the run's diameter.
        run_polarity = "bright" if any(row.get("polarity_source") == RUN for row in rows.values()) else None
        if estimating:
            run_diameter, again = to_pick_with_run_diameter(args.micrographs, list(rows.values()))
            if again:
                log.info("the run's particle diameter is %s; picking again %s whose own estimate is far from it",
                         run_diameter, n_micrographs(len(again)))
                pick_all(again, run_diameter, run_polarity, desc="picking with the run's diameter")
    except RuntimeError as err:  # Dask asked for but not installed, or its scheduler not reached
        log.error("%s", err)
        return 2
    except KeyboardInterrupt:   # what is done is kept: the run's files name it, and the same command does the rest
        n_done = _write_run_files_so_far(args.micrographs, output, rows)
        log.error("interrupted: %d of %d micrographs done (%s); the same command again picks the rest", n_done,
                  len(args.micrographs), output / "summary.csv")
        return 130
    except OSError as err:   # the storage refused a micrograph's files (batch.STORAGE_REFUSED): all would fail
        if not is_storage_error(err):
            raise
        n_done = _write_run_files_so_far(args.micrographs, output, rows)
        log.error("%s: %s, so the run stopped with %d of %d micrographs done; once there is room, the same command "
                  "again picks the rest", output, err.strerror or err, n_done, len(args.micrographs))
        return 1

    try:
        summary = write_run_files(args.micrographs, output, list(rows.values()), show_progress=not args.quiet)
        if settings.write_overlay:
            write_overlay_index(summary, output)
    except OSError as err:   # a full disk, most often: what each micrograph wrote is kept
        log.error("%s: the run's files could not be written (%s); the same command again writes them from what the "
                  "micrographs' own files hold", output, err.strerror or err)
        return 1
    n_failed = int((summary["status"] == FAILED).sum())
    n_picked = int((summary["status"] == PICKED).sum())
    n_rethresholded = int((summary["status"] == THRESHOLD_CHANGED).sum())
    n_picks = int(summary["n_picks"].sum())
    if estimating:
        _report_estimated_diameter(summary, run_diameter)
    if args.polarity == "auto":
        _report_polarity(summary)
    _report_brighter_than_ice(summary)
    print(f"{n_picks} particles in {len(summary) - n_failed} of {len(summary)} micrographs "
          f"({n_picked} picked now, {len(summary) - n_failed - n_picked} done before"
          f"{f' ({n_rethresholded} at the new threshold)' if n_rethresholded else ''}, {n_failed} failed); "
          f"see {output / 'summary.csv'} and {output / 'particles.star'}"
          f"{f', the overlays in {output / INDEX_FILE}' if settings.write_overlay else ''}")
    others = picked_by_other_runs(output, args.micrographs)
    if others:
        log.warning("%s also holds %s picked by another run (such as %s), which this run's files leave out; a run "
                    "over all of them writes run files that name them all, picking again none that is done",
                    output, n_micrographs(len(others)), others[0])
    return 1 if n_failed else 0


def _warn_if_short_of_room(output: Path, bytes_per_micrograph: int, n_left: int) -> None:
    """Warn where `n_left` micrographs more, each writing `bytes_per_micrograph`, need more room than the storage of
    `output` has free: said after the first micrograph, not when the storage fills hours later."""
    free_bytes = shutil.disk_usage(output).free
    if bytes_per_micrograph * n_left > free_bytes:
        log.warning("%s: each micrograph's files take %s, so the %d left need %s, more than the %s free there; the "
                    "run will stop when it fills (the maps of --segmentation take the most)", output,
                    _size(bytes_per_micrograph), n_left, _size(bytes_per_micrograph * n_left),
                    _size(free_bytes))


def _size(n_bytes: int) -> str:
    """`n_bytes` in MB, or in GB from 1 GB, to three significant digits."""
    value, unit = (n_bytes / 1e9, "GB") if n_bytes >= 1e9 else (n_bytes / 1e6, "MB")
    return f"{float(f'{value:.3g}'):g} {unit}"


def _write_run_files_so_far(paths: list[str], output: Path, rows: dict) -> int:
    """Write the run's files for those of `paths` done (or failed) so far, where the storage still lets them be
    written (each micrograph's own files are there either way, and a rerun writes them); how many those are."""
    done = [path for path in paths if micrograph_stem(path) in rows]
    try:
        write_run_files(done, output, list(rows.values()))
    except OSError as err:
        log.error("%s: the run's files could not be written (%s)", output, err.strerror or err)
    return len(done)


def _done_and_to_pick(args: argparse.Namespace, output: Path, settings: PickSettings) -> tuple[dict, list[str]]:
    """The summary rows of the micrographs done before, by name (their files written again at another threshold), and
    the micrographs to pick; how many were done is said."""
    rows, to_pick = {}, []
    records = [None] * len(args.micrographs) if args.overwrite else done_before(args.micrographs, output, settings)
    # shown where it takes a while: a rerun at another threshold writes each micrograph's files again
    bar = tqdm(records, total=len(args.micrographs), unit="mic", desc="reading what is done", delay=2,
               disable=args.quiet)
    with bar, logging_redirect_tqdm(loggers=[logging.getLogger("icestat")]):
        for done, path in zip(bar, args.micrographs):   # the records first: their threads end with the last
            if done:
                rows[done["micrograph"]] = done
            else:
                to_pick.append(path)
    if rows:
        n_rethresholded = sum(row["status"] == THRESHOLD_CHANGED for row in rows.values())
        rethresholded = (f"; {n_rethresholded} of them picked at another threshold, their picks now the candidates "
                         f"then scored at least {args.threshold:g}")
        log.warning("%d of %d micrographs already done in %s (skipped%s; --overwrite picks them again)",
                    len(rows), len(args.micrographs), output, rethresholded if n_rethresholded else "")
    return rows, to_pick


def _report_estimated_diameter(summary: pd.DataFrame, run_diameter: RunDiameter | None) -> None:
    """Print the particle diameter estimated for the run, what it rests on, and how many were picked with it."""
    if run_diameter is None:
        if (summary["status"] != FAILED).any():
            print("the particle diameter could not be estimated (fewer than two bumps of particle evidence on "
                  "every micrograph); give --diameter-A or --diameter-px")
        return
    basis = (f"median over {n_micrographs(run_diameter.n_micrographs)}"
             + (", unreliable: all are crowded with particles" if run_diameter.all_crowded else ""))
    n_run = int((summary["diameter_source"] == RUN).sum())
    repicked = (f"; {n_micrographs(n_run)} whose own estimate was more than {RUN_DIAMETER_TOLERANCE - 1:.0%} off "
                "picked with it" if n_run else "")
    print(f"particle diameter estimated from the particle evidence: {run_diameter} ({basis}){repicked}; "
          "give --diameter-A or --diameter-px if you know it")


def _report_polarity(summary: pd.DataFrame) -> None:
    """Warn when the ``auto`` polarity took the particles of some micrographs as dark and others as bright."""
    judged = summary[(summary["status"] != FAILED) & summary["polarity"].isin(["dark", "bright"])]
    counts = judged["polarity"].value_counts()
    if len(counts) < 2:
        return
    fewer = counts.index[-1]
    example = judged.loc[judged["polarity"] == fewer, "micrograph"].iloc[0]
    log.warning("the particles were taken as %s on %s (such as %s) and as %s on %d; if they are all one, give "
                "--polarity (summary.csv's polarity column says which is which)", fewer,
                n_micrographs(int(counts.iloc[-1])), example, counts.index[0], int(counts.iloc[0]))


def _report_brighter_than_ice(summary: pd.DataFrame) -> None:
    """Warn, once for the run, of the micrographs with a part brighter than what is called ice."""
    flagged = summary.loc[summary["brighter_than_ice_fraction"].ge(MIN_BRIGHTER_FRACTION), "micrograph"]
    if len(flagged):
        log.warning("%s with a part brighter than what is called ice (such as %s; brighter_than_ice_fraction in "
                    "summary.csv): mostly carbon film, inverted, or holes in the ice; check their overlays "
                    "(--overlays) or leave them out", n_micrographs(len(flagged)), flagged.iloc[0])
