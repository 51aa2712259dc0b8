"""``icestat pick``, ``icestat evaluate`` and ``icestat demo`` as a user runs them, on small simulated files."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import starfile
from scipy.spatial.distance import cdist

from icestat.classes import CONTAMINATION, PARTICLE
import icestat.batch as batch
import icestat.run_decisions as run_decisions
from icestat.bright_field import negated_gain
from icestat.cli import main
from icestat.cli import pick as pick_cli
from icestat.cli.relion import run_as_job
from icestat.coords import pick_table, read_picks, write_picks
from icestat.diameter import far_from_run_diameter
from icestat.manifest import load_labelled
from icestat.micrograph import PixelSizeWarning, read_image, read_micrograph, write_mrc
from icestat.model import load_model
from icestat.overlay import PICK_COLOUR
from icestat.records import overlay_labels
from icestat.pick import pick
from icestat.polarity import MIN_BRIGHT_BALANCE
from icestat.segment import MIN_BRIGHTER_FRACTION, segment
from icestat.simulate import SimulationParams, simulate_micrograph, simulate_set, write_simulation

PARAMS = SimulationParams(shape_px=(768, 768), pixel_size_A=2.0, n_particles=40, particle_diameter_A=150.0,
                          carbon_fraction=0.2)


@pytest.fixture(scope="module")
def trpv1_run(shared_data, tmp_path_factory):
    """Two EMPIAR-10059 micrographs picked in one process without a diameter: (output folder, paths, stdout, stderr).

    The shipped model labels more than half of each micrograph particle (crowded); their own estimates are within
    12 % of each other (and 1.05-1.2 times the particle, 35.8 px), so each is picked with its own.
    """
    folder = shared_data / "empiar-10059" / "micrographs"
    micrographs = [str(folder / f"stack_000{i}_2x_dfpt_10059.png") for i in (5, 2)]
    output = tmp_path_factory.mktemp("trpv1") / "run"
    with contextlib.redirect_stdout(io.StringIO()) as stdout, contextlib.redirect_stderr(io.StringIO()) as stderr:
        assert main(["pick", *micrographs, "-o", str(output)]) == 0
    return output, micrographs, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Three simulated micrographs with their truth, and a truncated copy of one."""
    folder = tmp_path_factory.mktemp("sim")
    manifest = write_simulation(folder, simulate_set(3, PARAMS, seed=11), prefix="mic")
    broken = folder / "broken.mrc"
    broken.write_bytes((folder / "mic_0000.mrc").read_bytes()[:5000])
    return manifest, sorted(str(p) for p in folder.glob("mic_000?.mrc")), str(broken)


def test_pick_writes_star_files_a_summary_and_other_formats_and_reports_a_broken_file(simulated, tmp_path, capsys):
    manifest, micrographs, broken = simulated
    out = tmp_path / "picks"
    code = main(["pick", *micrographs, broken, "-o", str(out), "--diameter-A", "150", "--format", "star,cbox,tsv",
                 "--quiet"])
    assert code == 1  # the broken micrograph fails, the others are picked
    err = capsys.readouterr().err
    assert "broken.mrc" in err and "truncated" in err
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["micrograph"]) == ["mic_0000", "mic_0001", "mic_0002", "broken"]
    assert list(summary["status"]) == ["picked"] * 3 + ["failed"]
    assert "broken.mrc" in summary["error"].iloc[3]
    assert (summary["n_picks"].iloc[:3] > 5).all()
    assert summary["diameter_px"].iloc[:3].tolist() == pytest.approx([75.0] * 3)
    assert (summary["diameter_source"].iloc[:3] == "given").all() and summary["blob_diameter_px"].isna().all()
    assert (summary["carbon_fraction"].iloc[:3] > 0.05).all()
    assert (summary["brighter_than_ice_fraction"].iloc[:3] < MIN_BRIGHTER_FRACTION).all()   # the film is darker
    # Why candidates were turned down, as pick() counts them on the first micrograph; none for the broken one.
    rejected = pick(segment(read_micrograph(micrographs[0]), load_model()), diameter_px=75.0).n_rejected
    assert summary.loc[0, [f"rejected_{reason}" for reason in rejected]].tolist() == list(rejected.values())
    assert rejected["carbon"] > 0 and summary.filter(like="rejected_").iloc[3].isna().all()

    for name, n_picks in zip(summary["micrograph"].iloc[:3], summary["n_picks"].iloc[:3]):
        coordinates = starfile.read(out / f"{name}_autopick.star")
        assert len(coordinates) == n_picks
        assert {"rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit"} <= set(coordinates.columns)
        assert coordinates["rlnAutopickFigureOfMerit"].between(0, 1).all()
        assert coordinates["rlnCoordinateX"].between(0, 767).all()
        assert len(read_picks(out / f"{name}.cbox")) == n_picks
        assert len(read_picks(out / f"{name}.tsv")) == n_picks
    index = starfile.read(out / "autopick.star")
    assert len(index) == 3 and index["rlnMicrographName"].tolist() == micrographs
    particles = starfile.read(out / "particles.star")
    assert len(particles) == summary["n_picks"].sum()
    assert set(particles["rlnMicrographName"]) == set(micrographs)
    assert [hidden.name for hidden in out.glob(".*")] == [batch.RUN_FILES_LOCK]  # no temporary files left behind


def test_a_fault_met_on_one_micrograph_fails_it_alone_in_one_line(simulated, tmp_path, capsys, monkeypatch):
    # An error icestat does not expect (a bug met on one micrograph) must not stop the run's other micrographs.
    _, micrographs, _ = simulated
    segment_and_pick = batch.segment_and_pick

    def faulty_on_the_second(micrograph, *args, **kwargs):
        if micrograph.name == "mic_0001":
            raise IndexError("index 7 is out of bounds for axis 0 with size 7")
        return segment_and_pick(micrograph, *args, **kwargs)

    monkeypatch.setattr(batch, "segment_and_pick", faulty_on_the_second)
    out = tmp_path / "picks"
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150", "-vv"]) == 1
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["status"]) == ["picked", "failed", "picked"] and (summary["n_picks"].iloc[[0, 2]] > 5).all()
    error = summary["error"].iloc[1]
    assert error.startswith(f"{micrographs[1]}: icestat failed unexpectedly (IndexError: index 7 is out of bounds")
    assert "\n" not in error and "please report it" in error
    err = capsys.readouterr().err
    assert "Traceback" in err and "faulty_on_the_second" in err   # -vv shows where
    assert len(starfile.read(out / "autopick.star")) == 2


def test_an_interrupted_run_writes_the_run_files_of_what_it_did_and_a_rerun_does_the_rest(simulated, tmp_path, capsys,
                                                                                          monkeypatch):
    # Ctrl-C part way: the micrographs done are in summary.csv, autopick.star and particles.star at once.
    _, micrographs, _ = simulated
    segment_and_pick = batch.segment_and_pick

    def stopped_at_the_second(micrograph, *args, **kwargs):
        if micrograph.name == "mic_0001":
            raise KeyboardInterrupt
        return segment_and_pick(micrograph, *args, **kwargs)

    monkeypatch.setattr(batch, "segment_and_pick", stopped_at_the_second)
    out = tmp_path / "picks"
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150", "-q"]) == 130
    assert capsys.readouterr().err == (f"ERROR: interrupted: 1 of 3 micrographs done ({out / 'summary.csv'}); the same "
                                       "command again picks the rest\n")
    _run_files_of_the_first_alone(out)
    assert starfile.read(out / "autopick.star")["rlnMicrographName"].tolist() == micrographs[:1]

    monkeypatch.setattr(batch, "segment_and_pick", segment_and_pick)
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150", "-q"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["done before", "picked", "picked"]


def test_run_files_that_cannot_be_written_are_said_in_one_line_and_written_by_a_rerun(simulated, tmp_path, capsys,
                                                                                     monkeypatch):
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    write_run_files = pick_cli.write_run_files

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pick_cli, "write_run_files", disk_full)
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-A", "150", "-q"]) == 1
    assert capsys.readouterr().err == (f"ERROR: {out}: the run's files could not be written (No space left on device); "
                                       "the same command again writes them from what the micrographs' own files hold\n")
    monkeypatch.setattr(pick_cli, "write_run_files", write_run_files)
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-A", "150", "-q"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["done before"] * 2


def test_a_full_disk_stops_the_run_at_once_keeping_what_is_done_and_a_rerun_does_the_rest(simulated, tmp_path, capsys,
                                                                                         monkeypatch):
    # Every micrograph after the first the storage refuses would fail alike: the run stops there, not after minutes
    # of picking each micrograph for nothing, and says so once.
    _, micrographs, _ = simulated
    write_picks = batch.write_picks
    monkeypatch.setattr(batch, "write_picks", _full_from("mic_0001", write_picks))
    out = tmp_path / "picks"
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150", "-q"]) == 1
    assert capsys.readouterr().err == (f"ERROR: {out}: No space left on device, so the run stopped with 1 of 3 "
                                       "micrographs done; once there is room, the same command again picks the rest\n")
    _run_files_of_the_first_alone(out)
    assert sorted(path.name for path in out.glob("mic_*")) == ["mic_0000_autopick.star", "mic_0000_summary.json"]

    monkeypatch.setattr(batch, "write_picks", write_picks)
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150", "-q"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["done before", "picked", "picked"]


def test_a_run_that_will_not_fit_says_so_after_its_first_micrograph(simulated, tmp_path, capsys, monkeypatch):
    # Hours before the storage fills: the first micrograph's files times the micrographs left, against what is free.
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(pick_cli.shutil, "disk_usage", lambda path: usage._replace(free=50_000))
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150", "--segmentation"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "free there" in line]
    first = sum(path.stat().st_size for path in out.glob("mic_0000_*"))
    assert first > 1e6   # the overlay and maps of --segmentation
    assert warnings == [f"WARNING: {out}: each micrograph's files take {pick_cli._size(first)}, so the 2 left need "
                        f"{pick_cli._size(2 * first)}, more than the 0.05 MB free there; the run will stop when it "
                        "fills (the maps of --segmentation take the most)"]
    assert (pd.read_csv(out / "summary.csv")["status"] == "picked").all()   # a warning only: here it did fit
    monkeypatch.setattr(pick_cli.shutil, "disk_usage", lambda path: usage._replace(free=int(2.5 * first)))
    assert main(["pick", *micrographs, "-o", str(tmp_path / "again"), "--diameter-A", "150", "--segmentation"]) == 0
    assert "free there" not in capsys.readouterr().err


def _run_files_of_the_first_alone(out: Path) -> None:
    """Assert that the run files in `out` are those of a run stopped after its first micrograph, picked."""
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["micrograph"]) == ["mic_0000"] and list(summary["status"]) == ["picked"]
    assert len(starfile.read(out / "particles.star")) == summary["n_picks"].iloc[0] > 5


def _full_from(name_part: str, write_picks):
    """`write_picks` as on a disk that has no room for the pick files whose names hold `name_part`."""
    def full(table, path, *args, **kwargs):
        if name_part in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_picks(table, path, *args, **kwargs)
    return full


def test_a_failed_row_says_when_the_storage_refused_its_files_for_the_run_to_stop_on_dask_workers_too():
    # failed_row is what a micrograph that failed becomes, on a Dask worker too (and a task that raised, its
    # on_error): the run stops on a row whose files the storage refused, and on no other.
    row = batch.failed_row("mics/a.mrc", PermissionError(errno.EACCES, "Permission denied", "mics/a.mrc"))
    assert row["status"] == batch.FAILED and row["error"] == "[Errno 13] Permission denied: 'mics/a.mrc'"
    assert batch.STORAGE_REFUSED not in row
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        row = batch.failed_row("mics/a.mrc", OSError(code, os.strerror(code)))
        assert row["status"] == batch.FAILED and row[batch.STORAGE_REFUSED] == (code, os.strerror(code))


@pytest.mark.parametrize("folder", ["mics", "grid 2: square 5"])   # a path may hold ": " itself
def test_micrographs_failing_alike_are_named_for_the_first_few(tmp_path, capsys, folder):
    # A folder of PNGs (no pixel size) given --diameter-A: every micrograph fails, for the same reason.
    rng = np.random.default_rng(0)
    mics = tmp_path / folder
    mics.mkdir()
    for i in range(6):
        iio.imwrite(mics / f"mic_{i}.png", rng.integers(0, 255, (96, 96), dtype=np.uint8))
    (mics / "mic_9.png").write_text("not an image")   # and one for a reason of its own, after them
    assert main(["pick", str(mics), "-o", str(tmp_path / "picks"), "--diameter-A", "150", "-q"]) == 1
    errors = capsys.readouterr().err.splitlines()
    alike = "pixel size unknown, so --diameter-A cannot be used; give --pixel-size-A or --diameter-px"
    assert errors == [f"ERROR: {mics / f'mic_{i}.png'}: {alike}" for i in range(3)] + [
        f"ERROR: {mics / 'mic_3.png'}: {alike} [further files failing so are not shown: summary.csv lists them]",
        f"ERROR: {mics / 'mic_9.png'}: is a text file, not a micrograph"]
    assert (pd.read_csv(tmp_path / "picks" / "summary.csv")["status"] == "failed").sum() == 7


def test_run_files_name_micrographs_a_bare_star_value_would_misread_as_they_are(simulated, tmp_path):
    _, micrographs, _ = simulated
    odd = [tmp_path / "grid#2" / "_0001.mrc", tmp_path / "grid#2" / "data_2.mrc"]
    odd[0].parent.mkdir()
    for copy in odd:
        shutil.copy(micrographs[0], copy)
    out = tmp_path / "picks"
    assert main(["pick", *map(str, odd), "-o", str(out), "--diameter-A", "150", "--quiet"]) == 0
    for run_file in ("autopick.star", "particles.star"):
        picked = read_picks(out / run_file)
        assert set(picked["micrograph"]) == set(map(str, odd)), run_file
        assert len(picked) == 2 * len(read_picks(out / "_0001_autopick.star"))


def test_a_micrograph_whose_name_has_a_quote_mark_is_refused_before_any_work(simulated, tmp_path, capsys):
    _, micrographs, _ = simulated
    shutil.copy(micrographs[0], tmp_path / "grid's.mrc")
    assert main(["pick", micrographs[1], str(tmp_path / "grid's.mrc"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "grid's.mrc" in err and "quote mark" in err and len(err.splitlines()) == 1
    assert not list((tmp_path / "out").glob("*"))
    bobs = tmp_path / "Bob's picks"   # named in autopick.star with each coordinate file
    assert main(["pick", micrographs[1], "-o", str(bobs)]) == 2
    assert f'{bobs}": a name with a quote mark' in capsys.readouterr().err
    assert not bobs.exists()


def test_runs_over_parts_into_one_folder_say_so_and_a_run_over_all_names_every_part(simulated, tmp_path, capsys):
    # as the jobs of a SLURM array over parts of a dataset, sharing one output folder
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    for part in (micrographs[:2], micrographs[2:]):
        assert main(["pick", *part, "-o", str(out), "--diameter-A", "150"]) == 0
    err = capsys.readouterr().err   # the first part found the folder empty; the second, the first's micrographs
    assert err.count("picked by another run") == 1
    assert f"{out} also holds 2 micrographs picked by another run (such as mic_0000)" in err
    assert pd.read_csv(out / "summary.csv")["micrograph"].tolist() == ["mic_0002"]   # the last part's alone

    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150"]) == 0
    assert "picked by another run" not in capsys.readouterr().err
    summary = pd.read_csv(out / "summary.csv")
    assert summary["status"].tolist() == ["done before"] * 3
    assert set(read_picks(out / "particles.star")["micrograph"]) == set(micrographs)


def test_a_rerun_with_workers_starts_no_more_of_them_than_micrographs_left(simulated, tmp_path, monkeypatch):
    # each local worker loads the model before its first micrograph: none for a run all done, one for one left
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    started = []

    def map_here(function, items, args, workers, **_):   # the tasks run here; the cluster's own tests are elsewhere
        started.append(workers)
        return (function(item, *args) for item in items)

    monkeypatch.setattr(pick_cli, "map_unordered", map_here)
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--workers", "4", "--quiet"]) == 0
    assert started == []
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-px", "75", "--workers", "4", "--quiet"]) == 0
    assert started == [1] and list(pd.read_csv(out / "summary.csv")["status"]) == ["done before"] * 2 + ["picked"]


def test_rerun_skips_what_is_done_and_redoes_what_changed(simulated, tmp_path, capsys):
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    first = (out / "mic_0000_autopick.star").stat().st_mtime_ns
    (out / "mic_0001_autopick.star").unlink()  # as if the run had been stopped before it was written

    assert main(["pick", *micrographs, "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["status"]) == ["done before", "picked", "picked"]
    assert (out / "mic_0000_autopick.star").stat().st_mtime_ns == first
    assert len(starfile.read(out / "autopick.star")) == 3

    # Another threshold writes the files again from the candidates scored (test_a_rerun_at_another_threshold_...);
    # --overwrite picks again.
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--threshold", "0.9", "--quiet"]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["threshold changed"]
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--threshold", "0.9", "--overwrite",
                 "--quiet"]) == 0
    record = json.loads((out / "mic_0000_summary.json").read_text())
    assert record["settings"]["threshold"] == 0.9
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--threshold", "0.9",
                 "--carbon-per-pixel", "--quiet"]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["picked"]   # carbon decided otherwise: redone
    assert json.loads((out / "mic_0000_summary.json").read_text())["settings"]["carbon_regions"] is False
    dark = starfile.read(out / "mic_0000_autopick.star")
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--threshold", "0.9",
                 "--carbon-per-pixel", "--polarity", "bright", "--quiet"]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["picked"]   # said to be bright: redone
    assert json.loads((out / "mic_0000_summary.json").read_text())["settings"]["polarity"] == "bright"
    bright = starfile.read(out / "mic_0000_autopick.star")
    # the simulated particles are dark: read negated as bright ones are, none of them is picked
    dark_xy, bright_xy = (table[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy() for table in (dark, bright))
    assert len(dark_xy) and (not len(bright_xy) or cdist(bright_xy, dark_xy).min() > 20)


def test_a_folder_picked_again_as_micrographs_arrive_picks_each_once_and_one_being_written_next_time(
        simulated, tmp_path, capsys):
    _, micrographs, _ = simulated
    arriving = tmp_path / "Micrographs"
    arriving.mkdir()
    shutil.copy(micrographs[0], arriving)
    written = Path(micrographs[1]).read_bytes()
    (arriving / "mic_0001.mrc").write_bytes(written[:len(written) // 3])   # still being written
    out = tmp_path / "picks"
    assert main(["pick", str(arriving), "-o", str(out), "--diameter-A", "150", "-q"]) == 1
    assert "mic_0001.mrc: truncated" in capsys.readouterr().err
    (arriving / "mic_0001.mrc").write_bytes(written)
    shutil.copy(micrographs[2], arriving)   # and another arrives
    assert main(["pick", str(arriving), "-o", str(out), "--diameter-A", "150", "-q"]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["done before", "picked", "picked"]
    assert len(read_picks(out / "autopick.star")["micrograph"].unique()) == 3


def test_a_rerun_asking_for_other_pick_formats_writes_them_from_the_star_files_without_picking_again(simulated, tmp_path):
    # Picked for RELION, then wanted for crYOLO and EMAN: seconds for the whole run, not the picking again.
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    first = pd.read_csv(out / "summary.csv")
    star = {name: (out / f"{name}_autopick.star").stat().st_mtime_ns for name in first["micrograph"]}
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--format", "BOX, cbox", "--quiet"]) == 0
    again = pd.read_csv(out / "summary.csv")   # (the formats' names in any case, spaced or not)
    assert list(again["status"]) == ["done before"] * 2
    pd.testing.assert_series_equal(again["seconds"], first["seconds"])
    for name, n_picks in zip(first["micrograph"], first["n_picks"]):
        assert (out / f"{name}_autopick.star").stat().st_mtime_ns == star[name]
        picked = read_picks(out / f"{name}_autopick.star")
        for ending in (".box", ".cbox"):
            written = read_picks(out / f"{name}{ending}")
            assert len(written) == n_picks > 5
            np.testing.assert_allclose(written[["x_px", "y_px"]], picked[["x_px", "y_px"]], atol=0.5)
            assert (written["diameter_px"] == 75).all()
        assert json.loads((out / f"{name}_summary.json").read_text())["settings"]["formats"] == ["box", "cbox"]


def test_a_rerun_at_another_threshold_writes_what_picking_at_it_would_without_picking_again(simulated, tmp_path, capsys):
    # A run looked at (overlays) and found to pick too little, or too much: another threshold takes seconds, as every
    # candidate's score is kept.
    _, micrographs, _ = simulated
    options = ["--diameter-px", "75", "--format", "cbox", "--segmentation"]
    out, fresh = tmp_path / "picks", tmp_path / "fresh"
    assert main(["pick", *micrographs[:2], "-o", str(out), *options, "--threshold", "0.6", "--quiet"]) == 0
    first = pd.read_csv(out / "summary.csv")
    first_files = _files_of(out, first["micrograph"])
    capsys.readouterr()
    assert main(["pick", *micrographs[:2], "-o", str(out), *options, "--threshold", "0.3"]) == 0
    lowered = pd.read_csv(out / "summary.csv")
    said = capsys.readouterr()
    assert "2 of them picked at another threshold, their picks now the candidates then scored at least 0.3" in said.err
    assert "2 done before (2 at the new threshold)" in said.out
    assert list(lowered["status"]) == ["threshold changed"] * 2
    assert (first["threshold"] == 0.6).all() and (lowered["threshold"] == 0.3).all()
    pd.testing.assert_series_equal(lowered["seconds"], first["seconds"])   # not picked again
    assert main(["pick", *micrographs[:2], "-o", str(fresh), *options, "--threshold", "0.3", "--quiet"]) == 0
    picked = pd.read_csv(fresh / "summary.csv")
    assert (0 < first["n_picks"]).all() and (first["n_picks"] < picked["n_picks"]).all()
    same = [column for column in lowered.columns if column not in ("status", "seconds")]
    pd.testing.assert_frame_equal(lowered[same], picked[same])
    assert _files_of(out, picked["micrograph"]) == _files_of(fresh, picked["micrograph"], renamed=(fresh, out))
    # and back up: the files of the first run again
    assert main(["pick", *micrographs[:2], "-o", str(out), *options, "--threshold", "0.6", "--quiet"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["threshold changed"] * 2
    assert _files_of(out, first["micrograph"]) == first_files
    assert main(["pick", *micrographs[:2], "-o", str(out), *options, "--threshold", "0.6", "--quiet"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["done before"] * 2
    # a record of an icestat that kept no candidates under the threshold: picked again
    record_path = out / "mic_0000_summary.json"
    record = json.loads(record_path.read_text())
    assert len(record.pop("under_threshold")["score"]) > 0
    record_path.write_text(json.dumps(record))
    # other formats are still written from its STAR file, its record still without candidates
    assert main(["pick", *micrographs[:2], "-o", str(out), *options, "--format", "cbox,box", "--threshold", "0.6",
                 "--quiet"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["done before"] * 2
    assert len(read_picks(out / "mic_0000.box")) == first["n_picks"][0]
    assert "under_threshold" not in json.loads(record_path.read_text())
    assert main(["pick", *micrographs[:2], "-o", str(out), *options, "--threshold", "0.3", "--quiet"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["picked", "threshold changed"]
    assert _files_of(out, picked["micrograph"]) == _files_of(fresh, picked["micrograph"], renamed=(fresh, out))
    # the .cbox files of an earlier run are written again too, though not asked for: none holds other picks
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--segmentation", "--threshold",
                 "0.6", "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["status"]) == ["threshold changed"] * 2 and summary["n_picks"].tolist() == first["n_picks"].tolist()
    for name in first["micrograph"]:
        star, cbox = (read_picks(out / f"{name}{ending}") for ending in ("_autopick.star", ".cbox"))
        assert len(cbox) == len(star) and (star["score"] >= 0.6).all()


def test_another_threshold_with_the_micrograph_gone_leaves_its_files_as_they_were(simulated, tmp_path, capsys):
    # The overlay is drawn from the micrograph: moved away since, it fails, and no file of it is half-changed.
    _, micrographs, _ = simulated
    moved = tmp_path / "mic_0000.mrc"
    shutil.copy(micrographs[0], moved)
    out = tmp_path / "picks"
    options = ["--diameter-px", "75", "--format", "cbox", "--segmentation", "--quiet"]
    assert main(["pick", str(moved), "-o", str(out), *options, "--threshold", "0.6"]) == 0
    before = {name: (out / name).read_bytes() for name in ("mic_0000.cbox", "mic_0000_autopick.star",
                                                             "mic_0000_overlay.png", "mic_0000_summary.json")}
    moved.unlink()
    capsys.readouterr()
    assert main(["pick", str(moved), "-o", str(out), *options, "--threshold", "0.3"]) == 1
    assert "mic_0000.mrc" in capsys.readouterr().err
    assert {name: (out / name).read_bytes() for name in before} == before


def test_a_coordinate_file_that_is_not_as_its_record_says_has_its_micrograph_picked_again(simulated, tmp_path):
    # A run stopped between a micrograph's STAR file and its record: the two would give some candidates twice.
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    star = out / "mic_0000_autopick.star"
    picks = read_picks(star)
    write_picks(picks.iloc[:-1], star)
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--threshold", "0.2", "--quiet"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["picked"]
    again = read_picks(star)
    assert len(again) >= len(picks) and not again[["x_px", "y_px"]].duplicated().any()


def _files_of(out: Path, names, renamed: tuple[Path, Path] | None = None) -> dict:
    """What a run wrote into `out` for the micrographs `names` and itself: the text of its pick and STAR files
    (without their dated comments; the path `renamed[0]` in them read as `renamed[1]`), the pixels of its overlays."""
    files = {}
    for name in names:
        for ending in ("_autopick.star", ".cbox"):
            files[f"{name}{ending}"] = _undated(out / f"{name}{ending}")
        files[f"{name}_overlay.png"] = iio.imread(out / f"{name}_overlay.png").tobytes()
    for run_file in ("autopick.star", "particles.star"):
        files[run_file] = _undated(out / run_file)
    if renamed:
        files = {key: value.replace(str(renamed[0]), str(renamed[1])) if isinstance(value, str) else value
                 for key, value in files.items()}
    return files


def _undated(path: Path) -> str:
    """The text of a file, without the comment lines (starfile's say when it was written)."""
    return "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("#"))


@pytest.mark.parametrize("spoil", [lambda record: record.pop("row"), lambda record: record.update(settings="cpu"),
                                   lambda record: record.update(outputs=None)])
def test_a_record_not_as_icestat_writes_them_has_its_micrograph_picked_again(simulated, tmp_path, spoil):
    # edited by hand, or written by something else: the micrograph is picked again, not the run stopped
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    record_path = out / "mic_0000_summary.json"
    record = json.loads(record_path.read_text())
    spoil(record)
    record_path.write_text(json.dumps(record))
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["picked"]


def test_a_coordinate_file_damaged_since_it_was_written_fails_its_micrograph_and_a_rerun_picks_it(simulated, tmp_path,
                                                                                                  capsys):
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    (out / "mic_0001_autopick.star").write_text("data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1.0\n")
    capsys.readouterr()
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 1
    assert capsys.readouterr().err.startswith(f"ERROR: {micrographs[1]}: its coordinate file cannot be read (")
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["status"]) == ["done before", "failed"]
    assert starfile.read(out / "autopick.star")["rlnMicrographName"].tolist() == micrographs[:1]
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["status"]) == ["done before", "picked"]


def test_overlays_alone_are_those_of_segmentation_without_its_maps(simulated, tmp_path, capsys):
    # Overlays to look over thousands of micrographs, without 85 MB of maps for each.
    _, micrographs, _ = simulated
    out, full = tmp_path / "overlays", tmp_path / "segmentation"
    options = ["--diameter-px", "75", "--threshold", "0.6", "--quiet"]
    assert main(["pick", micrographs[0], "-o", str(out), "--overlays", *options]) == 0
    assert sorted(path.name for path in out.glob("mic_*")) == [
        "mic_0000_autopick.star", "mic_0000_overlay.png", "mic_0000_summary.json"]
    assert f"the overlays in {out / 'overlays.html'}" in capsys.readouterr().out   # one page of them all
    assert 'src="mic_0000_overlay.png"' in (out / "overlays.html").read_text()
    assert main(["pick", micrographs[0], "-o", str(full), "--segmentation", *options]) == 0
    assert (full / "overlays.html").is_file()
    assert main(["pick", micrographs[0], "-o", str(tmp_path / "plain"), *options]) == 0
    assert not (tmp_path / "plain" / "overlays.html").exists()
    overlay = iio.imread(out / "mic_0000_overlay.png")
    assert np.array_equal(overlay, iio.imread(full / "mic_0000_overlay.png"))
    n_picks = pd.read_csv(out / "summary.csv")["n_picks"][0]
    assert n_picks > 0 and (overlay == PICK_COLOUR).all(axis=-1).any()

    assert main(["pick", micrographs[0], "-o", str(out), "--overlays", *options]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["done before"]
    # --segmentation writes the overlay: asked with it or not, the same settings (records from before it too)
    record_path = full / "mic_0000_summary.json"
    record = json.loads(record_path.read_text())
    assert record["settings"]["write_overlay"] is True
    del record["settings"]["write_overlay"]
    record_path.write_text(json.dumps(record))
    assert main(["pick", micrographs[0], "-o", str(full), "--segmentation", "--overlays", *options]) == 0
    assert pd.read_csv(full / "summary.csv")["status"].tolist() == ["done before"]

    # Another threshold: the overlay is drawn again over the labels its record keeps (some 30 kB), without picking
    # again, as --segmentation draws it over its label map.
    assert len((out / "mic_0000_summary.json").read_bytes()) < len((full / "mic_0000_summary.json").read_bytes()) + 1e5
    lower = ["--diameter-px", "75", "--threshold", "0.3", "--quiet"]
    for folder, asked in ((out, "--overlays"), (full, "--segmentation")):
        assert main(["pick", micrographs[0], "-o", str(folder), asked, *lower]) == 0
        summary = pd.read_csv(folder / "summary.csv")
        assert summary["status"].tolist() == ["threshold changed"] and summary["n_picks"][0] > n_picks
    assert np.array_equal(iio.imread(out / "mic_0000_overlay.png"), iio.imread(full / "mic_0000_overlay.png"))
    assert main(["pick", micrographs[0], "-o", str(fresh := tmp_path / "fresh"), "--overlays", *lower]) == 0
    assert np.array_equal(iio.imread(out / "mic_0000_overlay.png"), iio.imread(fresh / "mic_0000_overlay.png"))
    # labels damaged in the record, or of another shape than the micrograph's as shown: picked again
    record_path = out / "mic_0000_summary.json"
    for damage in (None, "codes", "shape"):
        record = json.loads(record_path.read_text())
        kept = record["overlay_labels"]
        if damage == "codes":
            kept["codes"] = kept["codes"][:-40]
        elif damage == "shape":
            kept["shape"] = [*kept["shape"], 1]
        record["row"]["threshold"] = record["settings"]["threshold"] = 0.6   # as if picked at 0.6
        record_path.write_text(json.dumps(record))
        assert main(["pick", micrographs[0], "-o", str(out), "--overlays", *lower]) == 0
        expected = "threshold changed" if damage is None else "picked"
        assert pd.read_csv(out / "summary.csv")["status"].tolist() == [expected]


def test_a_record_from_before_a_setting_existed_counts_as_that_setting_at_its_default(simulated, tmp_path):
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    record_path = out / "mic_0000_summary.json"
    record = json.loads(record_path.read_text())
    del record["settings"]["carbon_regions"]  # as an icestat from before --carbon-per-pixel wrote it
    record["row"]["bright_skew"] = record["row"].pop("bright_balance")   # and before the balance replaced the skew
    record_path.write_text(json.dumps(record))

    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary["status"].tolist() == ["done before"] and summary["n_picks"][0] == record["row"]["n_picks"]
    assert "bright_skew" not in summary and summary["bright_balance"].isna().all()
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--carbon-per-pixel", "--quiet"]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["picked"]


def test_no_refine_picks_from_the_patch_classifier_alone(simulated, tmp_path):
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--no-refine", "--quiet"]) == 0
    written = starfile.read(out / "mic_0000_autopick.star")
    micrograph = read_micrograph(micrographs[0])
    expected = pick(segment(micrograph, refine=False), diameter_px=75.0).table
    refined = pick(segment(micrograph), diameter_px=75.0).table
    assert written["rlnCoordinateX"].to_numpy() == pytest.approx(expected["x_px"].to_numpy(), abs=1e-3)
    assert written["rlnAutopickFigureOfMerit"].to_numpy() == pytest.approx(expected["score"].to_numpy(), abs=1e-4)
    assert len(expected) != len(refined) or not (expected["x_px"].to_numpy() == refined["x_px"].to_numpy()).all()
    assert json.loads((out / "mic_0000_summary.json").read_text())["settings"]["refine"] is False

    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["picked"]   # with the refiner: redone
    assert len(starfile.read(out / "mic_0000_autopick.star")) == len(refined)


def test_a_rerun_removes_what_a_writer_killed_mid_write_left(simulated, tmp_path):
    import subprocess
    import sys

    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    out.mkdir()
    killed_mid_write = ("import os, sys\nfrom icestat._atomic import atomic_path\n"
                        "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_text('half')\n    os._exit(9)\n")
    for name in ("mic_0000_autopick.star", "mic_0000_summary.json", "mic_0001_autopick.star"):
        subprocess.run([sys.executable, "-c", killed_mid_write, str(out / name)], check=False)
    assert len(list(out.glob(".*.tmp*"))) == 3   # what the killed writers left

    assert main(["pick", micrographs[0], "-o", str(out), "--diameter-px", "75", "--quiet"]) == 0
    left = [leftover.name for leftover in out.glob(".*") if leftover.name != batch.RUN_FILES_LOCK]
    assert len(left) == 1 and left[0].startswith(".mic_0001_autopick.star.")   # only the micrograph not redone


def test_two_workers_give_the_same_picks_as_one(trpv1_run, tmp_path, capfd):
    # Without a diameter, so both rounds (each micrograph's own estimate, then the run's) run on the cluster.
    one, micrographs, _, _ = trpv1_run
    two = tmp_path / "two"
    assert main(["pick", *micrographs, "-o", str(two), "--workers", "2", "--overlays", "--quiet"]) == 0
    assert "crowded (" not in capfd.readouterr().err   # no warning per crowded micrograph from the workers either
    # the workers' overlays, and the labels they show kept in their records (icestat.records.overlay_labels)
    for name in ("stack_0005_2x_dfpt_10059", "stack_0002_2x_dfpt_10059"):
        overlay = iio.imread(two / f"{name}_overlay.png")
        kept = overlay_labels(json.loads((two / f"{name}_summary.json").read_text()))
        assert kept.shape == overlay.shape[:2] and (kept == PARTICLE).mean() > 0.3   # crowded with particles
    # Each worker runs on one thread and the single process on two, so sums run in another order (the particle
    # evidence differs by up to 2e-3): the same picks, their scores within 5e-4 (up to 9e-5 seen; two picks whose
    # scores differ by less may be listed the other way round).
    for name in ("stack_0005_2x_dfpt_10059", "stack_0002_2x_dfpt_10059"):
        alone, shared = (starfile.read(run / f"{name}_autopick.star").sort_values(
            ["rlnCoordinateX", "rlnCoordinateY"], ignore_index=True) for run in (one, two))
        pd.testing.assert_frame_equal(alone[["rlnCoordinateX", "rlnCoordinateY"]],
                                      shared[["rlnCoordinateX", "rlnCoordinateY"]], check_exact=True)
        np.testing.assert_allclose(alone["rlnAutopickFigureOfMerit"], shared["rlnAutopickFigureOfMerit"], atol=5e-4)
    columns = ["micrograph", "n_picks", "diameter_px", "diameter_source", "blob_diameter_px"]
    pd.testing.assert_frame_equal(pd.read_csv(one / "summary.csv")[columns], pd.read_csv(two / "summary.csv")[columns])


@pytest.mark.parametrize("arguments, message", [
    (["--device", "cuda:7"], "--device cuda:7"),
    (["--model", "no-such-model.icestat"], "no-such-model.icestat"),
    (["--threshold", "2"], "--threshold must be between 0 and 1, got 2"),
    (["--format", "star,pdf"], "pdf"),
    (["--pixel-size-A", "0"], "--pixel-size-A must be a positive number of ångström, got 0.0"),
    (["--pixel-size-A", "nan"], "--pixel-size-A must be a positive number of ångström, got nan"),
])
def test_unusable_arguments_fail_in_one_line_before_any_work(simulated, tmp_path, capsys, arguments, message):
    _, micrographs, _ = simulated
    assert main(["pick", micrographs[0], "-o", str(tmp_path / "out"), *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "summary.csv").exists()


@pytest.mark.parametrize("command", ["pick", "segment"])
@pytest.mark.parametrize("arguments, message", [
    (["--diameter-A", "-150"], "argument --diameter-A: must be a positive number, got -150"),
    (["--diameter-px", "0"], "argument --diameter-px: must be a positive number, got 0"),
    (["--diameter-px", "inf"], "argument --diameter-px: must be a positive number, got inf"),
    (["--diameter-A", "big"], "argument --diameter-A: must be a positive number, got 'big'"),
])
def test_a_diameter_that_is_not_a_positive_number_is_refused_before_any_micrograph(simulated, tmp_path, capsys,
                                                                                   command, arguments, message):
    # once for the run, not once for each micrograph (each failing alike)
    _, micrographs, _ = simulated
    with pytest.raises(SystemExit) as refused:
        main([command, *micrographs[:2], "-o", str(tmp_path / "out"), *arguments])
    assert refused.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
    assert not (tmp_path / "out").exists()


def test_an_inverted_micrograph_is_picked_as_its_raw_self_and_the_mixed_run_is_pointed_out(tmp_path, capsys):
    # No carbon: inverted, it is brighter than the ice, and the shipped model does not see it as carbon.
    raw = simulate_micrograph(replace(PARAMS, carbon_fraction=0.0), seed=12).image
    folder = tmp_path / "mics"
    folder.mkdir()
    write_mrc(folder / "a_raw.mrc", raw, PARAMS.pixel_size_A)
    write_mrc(folder / "b_inverted.mrc", -raw, PARAMS.pixel_size_A)   # particles brighter than the ice
    assert main(["pick", str(folder), "-o", str(tmp_path / "picks"), "--diameter-A", "150", "--segmentation"]) == 0
    summary = pd.read_csv(tmp_path / "picks" / "summary.csv")
    assert summary["polarity"].tolist() == ["dark", "bright"]
    assert "taken as bright on 1 micrograph (such as b_inverted) and as dark on 1" in capsys.readouterr().err
    assert summary["bright_balance"][0] < -MIN_BRIGHT_BALANCE < MIN_BRIGHT_BALANCE < summary["bright_balance"][1]
    # Segmented and picked negated: the same picks and labels as the raw micrograph.
    picks = {name: read_picks(tmp_path / "picks" / f"{name}_autopick.star") for name in ("a_raw", "b_inverted")}
    assert len(picks["a_raw"]) > 20
    assert np.allclose(picks["b_inverted"][["x_px", "y_px", "score"]], picks["a_raw"][["x_px", "y_px", "score"]])
    labels = {name: read_image(tmp_path / "picks" / f"{name}_labels.mrc") for name in ("a_raw", "b_inverted")}
    assert np.array_equal(labels["a_raw"], labels["b_inverted"])


@pytest.mark.filterwarnings("ignore::icestat.micrograph.PixelSizeWarning")   # 8-bit PNGs: none needed
def test_inverted_micrographs_are_picked_as_their_raw_selves_and_one_too_noisy_to_judge_by_the_runs_vote(
        trpv1_run, shared_data, tmp_path, capsys):
    # Inverted, the TRPV1 micrographs of EMPIAR-10059 are mostly bright blobs, so each is taken as bright and picked
    # as its raw self, the diameter estimated as for it. A third, with white noise of 1.5 image sd added, leans
    # bright too little to be taken so alone; the run, most of it inverted, asks them which way the model sees
    # particles more clearly, and picks it again as bright.
    folder = tmp_path / "inverted"
    folder.mkdir()
    raw_output, micrographs, _, raw_stderr = trpv1_run
    for path in micrographs:
        write_mrc(folder / f"{Path(path).stem}.mrc", -read_micrograph(path).data)
    noisy = -read_micrograph(shared_data / "empiar-10059" / "micrographs" / "stack_0003_2x_dfpt_10059.png").data
    noisy += np.random.default_rng(0).normal(0.0, 1.5 * noisy.std(), noisy.shape).astype(np.float32)
    write_mrc(folder / "z_noisy.mrc", noisy)
    assert main(["pick", str(folder), "-o", str(tmp_path / "picks"), "-v"]) == 0
    err = capsys.readouterr().err
    summary = pd.read_csv(tmp_path / "picks" / "summary.csv").set_index("micrograph").sort_index()
    assert (summary["polarity"] == "bright").all()
    assert summary["polarity_source"].tolist() == ["judged", "judged", "run"]
    assert "model sees their particles more clearly negated: picking again 1 micrograph as bright" in err
    assert "but were picked as dark" not in err and "taken as" not in err
    judged = summary[summary["polarity_source"] == "judged"]
    assert (judged["bright_balance"] > MIN_BRIGHT_BALANCE).all()
    raw = pd.read_csv(raw_output / "summary.csv").set_index("micrograph").sort_index()
    assert judged["diameter_px"].tolist() == raw["diameter_px"].tolist()
    for path in micrographs:
        stem = Path(path).stem
        inverted, picked_raw = (read_picks(run / f"{stem}_autopick.star") for run in (tmp_path / "picks", raw_output))
        assert len(picked_raw) > 50
        assert np.allclose(inverted[["x_px", "y_px", "score"]], picked_raw[["x_px", "y_px", "score"]])
    assert summary.loc["z_noisy", "n_picks"] > 50
    # Raw, the same micrographs are mostly dark blobs, and nothing is asked or said.
    assert (raw["bright_balance"] < -MIN_BRIGHT_BALANCE).all() and "look inverted" not in raw_stderr
    assert raw["polarity_source"].tolist() == ["judged", "judged"]
    # Told, the polarity is not judged.
    assert main(["pick", str(folder / "z_noisy.mrc"), "-o", str(tmp_path / "told"), "--diameter-px", "46",
                 "--polarity", "bright"]) == 0
    told = pd.read_csv(tmp_path / "told" / "summary.csv").iloc[0]
    assert told["polarity"] == "bright" and np.isnan(told["bright_balance"]) and told["polarity_source"] == "given"


def test_a_raw_run_whose_carbon_the_model_misses_is_taken_as_dark_without_asking(tmp_path, capsys, monkeypatch):
    # Most of these raw simulations' carbon is missed by the model, and the rim of the hole made the skewness of the
    # Laplacian of Gaussian, judged before, say bright; an edge is not a blob, so the balance says dark.
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=3.0, n_particles=154, particle_diameter_A=120.0,
                              carbon_fraction=0.4, n_contamination=2, ice_thickness_A=340.0)
    for seed in (1, 2):
        write_mrc(tmp_path / f"raw_{seed}.mrc", simulate_micrograph(params, seed=seed).image, params.pixel_size_A)
    gains = []
    monkeypatch.setattr(run_decisions, "negated_gain", lambda *args: gains.append(negated_gain(*args)) or gains[-1])
    assert main(["pick", str(tmp_path), "-o", str(tmp_path / "picks"), "--diameter-A", "120"]) == 0
    err = capsys.readouterr().err
    summary = pd.read_csv(tmp_path / "picks" / "summary.csv")
    assert (summary["polarity"] == "dark").all() and (summary["polarity_source"] == "judged").all()
    assert (summary["bright_balance"] < -MIN_BRIGHT_BALANCE).all()
    assert not gains and "look inverted" not in err and (summary["n_picks"] > 50).all()


def test_a_micrograph_mostly_of_film_is_flagged_in_the_summary_and_pointed_out(tmp_path, capsys):
    # the shipped model takes the film over 85 % of it, and the hole's ice, brighter, for ice (segmented again
    # relative to that small hole, it finds no film); the micrograph with 40 % film is segmented right, its film
    # darker than the ice
    folder = tmp_path / "mics"
    folder.mkdir()
    for name, film_fraction in [("a_film", 0.85), ("b_hole", 0.4)]:
        params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=40, particle_diameter_A=180.0,
                                  carbon_fraction=film_fraction, n_contamination=1, ice_thickness_A=400.0)
        write_mrc(folder / f"{name}.mrc", simulate_micrograph(params, seed=0).image, params.pixel_size_A)
    assert main(["pick", str(folder), "-o", str(tmp_path / "picks"), "--diameter-A", "180"]) == 0
    summary = pd.read_csv(tmp_path / "picks" / "summary.csv")
    brighter = summary["brighter_than_ice_fraction"]
    assert brighter[0] > 0.1 > MIN_BRIGHTER_FRACTION > brighter[1]
    assert summary["carbon_fraction"][0] < 0.1 < 0.2 < summary["carbon_fraction"][1]
    err = capsys.readouterr().err
    assert re.search(r"a_film: \d+% of it is brighter than what is called ice", err) and "b_hole:" not in err
    assert "1 micrograph with a part brighter than what is called ice (such as a_film;" in err


def test_evaluate_scores_picks_against_the_simulated_truth(simulated, tmp_path, capsys):
    manifest, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", *micrographs, "-o", str(out), "--diameter-A", "150", "--quiet"]) == 0
    capsys.readouterr()
    table_file = tmp_path / "scores.csv"
    assert main(["evaluate", str(out / "autopick.star"), "--truth", str(manifest), "-o", str(table_file)]) == 0
    assert "average_precision" in capsys.readouterr().out
    scores = pd.read_csv(table_file, index_col=0)
    assert list(scores.index) == ["mic_0000", "mic_0001", "mic_0002", "overall"]
    overall = scores.loc["overall"]
    assert overall["n_true"] == sum(len(read_picks(manifest.parent / f"mic_000{i}_truth.star")) for i in range(3))
    assert overall["precision"] > 0.7 and overall["recall"] > 0.4

    # The same truth as coordinate files gives the same scores.
    truth_files = [str(manifest.parent / f"mic_000{i}_truth.star") for i in range(3)]
    assert main(["evaluate", str(out / "particles.star"), "--truth", *truth_files, "-o", str(table_file)]) == 0
    again = pd.read_csv(table_file, index_col=0)
    pd.testing.assert_series_equal(again.loc["overall"], overall)

    # A truth without diameters (manual picks) is matched with the diameter the run picked with, from its records:
    # 150 Å at 2 Å/px. Its picks copied elsewhere, without the records, know none.
    bare = tmp_path / "manual.csv"
    pd.concat([read_picks(name)[["micrograph", "x_px", "y_px"]] for name in truth_files]).to_csv(bare, index=False)
    capsys.readouterr()
    assert main(["evaluate", str(out / "autopick.star"), "--truth", str(bare), "-o", str(table_file)]) == 0
    assert "within 37.5 px (half the particle diameter)" in capsys.readouterr().out
    pd.testing.assert_series_equal(pd.read_csv(table_file, index_col=0).loc["overall"], overall)
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / "particles.star").write_bytes((out / "particles.star").read_bytes())
    assert main(["evaluate", str(copied / "particles.star"), "--truth", str(bare)]) == 2
    assert "give --radius-px" in capsys.readouterr().err


def test_evaluate_scores_only_the_micrographs_picked_of_a_truth_that_labels_more(simulated, tmp_path, capsys):
    manifest, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", *micrographs[:2], "-o", str(out), "--diameter-A", "150", "--quiet"]) == 0
    capsys.readouterr()
    table_file = tmp_path / "scores.csv"
    assert main(["evaluate", str(out / "autopick.star"), "--truth", str(manifest), "-o", str(table_file)]) == 0
    scores = pd.read_csv(table_file, index_col=0)
    assert list(scores.index) == ["mic_0000", "mic_0001", "overall"]   # not mic_0002, which was not picked
    assert scores.loc["overall", "n_true"] == sum(len(read_picks(manifest.parent / f"mic_000{i}_truth.star"))
                                                  for i in range(2))
    # a micrograph picked with no particle found still counts: its truth is all missed
    empty = out / "mic_0001_autopick.star"
    write_picks(pick_table([], []), empty)
    assert main(["evaluate", str(out / "mic_0000_autopick.star"), str(empty), "--truth", str(manifest),
                 "-o", str(table_file)]) == 0
    scores = pd.read_csv(table_file, index_col=0)
    assert scores.loc["mic_0001", "n_picks"] == 0 and scores.loc["mic_0001", "recall"] == 0
    assert scores.loc["mic_0001", "n_true"] > 0


def test_evaluate_at_a_threshold_scores_what_picking_at_it_would_pick(simulated, tmp_path, capsys, monkeypatch):
    manifest, micrographs, _ = simulated
    for threshold in ("0", "0.5"):
        assert main(["pick", *micrographs, "-o", str(tmp_path / threshold), "--diameter-A", "150", "--threshold",
                     threshold, "--quiet"]) == 0
    capsys.readouterr()
    scores = {}
    for name, picks, extra in [("picked at 0.5", "0.5", []), ("picked at 0, evaluated at 0.5", "0", ["0.5"]),
                               ("sweep", "0", ["0,0.5,0.9"]), ("picked at 0.5, sweep", "0.5", ["0,0.5,0.9"]),
                               ("picked at 0.5, evaluated at 0", "0.5", ["0"]), ("picked at 0", "0", [])]:
        out = tmp_path / f"{name}.csv"
        threshold = ["--threshold", *extra] if extra else []
        assert main(["evaluate", str(tmp_path / picks / "autopick.star"), "--truth", str(manifest), *threshold,
                     "-o", str(out)]) == 0
        scores[name] = pd.read_csv(out, index_col=0)
    pd.testing.assert_frame_equal(scores["picked at 0, evaluated at 0.5"], scores["picked at 0.5"])
    # under the run's threshold, the candidates its records keep count: what picking at it would have picked
    pd.testing.assert_frame_equal(scores["picked at 0.5, sweep"], scores["sweep"])
    pd.testing.assert_frame_equal(scores["picked at 0.5, evaluated at 0"], scores["picked at 0"])
    assert scores["picked at 0.5"].loc["overall", "n_picks"] < scores["picked at 0"].loc["overall", "n_picks"]
    sweep = scores["sweep"]
    assert sweep.index.tolist() == [0.0, 0.5, 0.9]
    pd.testing.assert_series_equal(sweep.loc[0.5], scores["picked at 0.5"].loc["overall"], check_names=False)
    assert sweep["n_picks"].is_monotonic_decreasing and sweep["n_picks"].iloc[0] > sweep["n_picks"].iloc[-1]
    assert (sweep["n_true"] == sweep["n_true"].iloc[0]).all()
    # the sweep reads each labelled micrograph once, not once per threshold
    read = []
    monkeypatch.setattr("icestat.evaluate.load_labelled", lambda row: read.append(row) or load_labelled(row))
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "0" / "autopick.star"), "--truth", str(manifest), "--threshold",
                 "0,0.3,0.5,0.9", "-o", str(tmp_path / "four.csv")]) == 0
    assert len(read) == len(micrographs)
    four = pd.read_csv(tmp_path / "four.csv", index_col=0)["f1"]   # the best of them said, for the pick command
    assert f"best F1 {four.max():.3f} at threshold {four.idxmax():g} (of those asked" in capsys.readouterr().out
    # a threshold outside [0, 1], or picks without scores, are refused in one line
    with pytest.raises(SystemExit):
        main(["evaluate", str(tmp_path / "0" / "autopick.star"), "--truth", str(manifest), "--threshold", "0.5,2"])
    assert "a score threshold must be between 0 and 1, got 2" in capsys.readouterr().err
    boxes = tmp_path / "mic_0000.box"
    write_picks(read_picks(tmp_path / "0" / "mic_0000_autopick.star"), boxes, box_size_px=64)
    capsys.readouterr()
    assert main(["evaluate", str(boxes), "--truth", str(manifest), "--threshold", "0.3"]) == 2
    assert "no scores to threshold" in capsys.readouterr().err


def test_evaluate_without_a_diameter_asks_for_a_radius(tmp_path, capsys):
    picks, truth = tmp_path / "a.csv", tmp_path / "b.csv"
    picks.write_text("micrograph,x_px,y_px\nm,1,1\n")
    truth.write_text("micrograph,x_px,y_px\nm,2,1\n")
    assert main(["evaluate", str(picks), "--truth", str(truth)]) == 2
    error_lines = capsys.readouterr().err.splitlines()   # that line alone (pandas 2.2 warned of an empty slice)
    assert len(error_lines) == 1 and "--radius-px" in error_lines[0]
    assert main(["evaluate", str(picks), "--truth", str(truth), "--radius-px", "3"]) == 0
    assert "1.000" in capsys.readouterr().out


def test_evaluate_matches_a_per_micrograph_csv_by_its_name(tmp_path, capsys):
    picks, truth = tmp_path / "mic_1_autopick.star", tmp_path / "mic_1.csv"
    write_picks(pick_table([10.0, 50.0, 90.0], [10.0, 50.0, 90.0], score=[0.9, 0.8, 0.7]), picks)
    truth.write_text("x_px,y_px\n11,10\n50,53\n200,200\n")   # no micrograph column: it is mic_1's
    assert main(["evaluate", str(picks), "--truth", str(truth), "--radius-px", "4", "-o", str(tmp_path / "s.csv")]) == 0
    scores = pd.read_csv(tmp_path / "s.csv", index_col=0)
    assert list(scores.index) == ["mic_1", "overall"]
    assert scores.loc["mic_1", ["n_picks", "n_true", "n_correct"]].tolist() == [3, 3, 2]


def test_demo_picks_and_scores_simulated_micrographs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    overall = next(line.split() for line in printed.splitlines() if line.startswith("overall"))
    n_picks, n_true, n_correct, precision, recall = map(float, overall[1:6])
    assert n_true == 420 and precision > 0.8 and recall > 0.6
    summary = pd.read_csv(out / "picks" / "summary.csv")
    assert summary["carbon_fraction"][0] > 0.1 and summary["contamination_fraction"][1] > 0.02
    assert len(list((out / "picks").glob("demo_*_overlay.png"))) == 3 and not list((out / "picks").glob("*.mrc"))
    assert printed.strip().endswith(f"-o {out / 'picks'} --diameter-A 150 --overlays")
    assert len(starfile.read(out / "picks" / "particles.star")) == n_picks
    assert main(["info", *map(str, sorted((out / "micrographs").glob("demo_????.mrc")))]) == 0


def test_pick_and_evaluate_a_real_held_out_micrograph_against_its_particle_mask(shared_data, tmp_path, capsys):
    manifest = pd.read_csv(shared_data / "manifest.csv")
    row = manifest[manifest["micrograph"].str.contains("311_10028")].iloc[0]
    out = tmp_path / "picks"
    assert main(["pick", str(shared_data / row["micrograph"]), "-o", str(out), "--diameter-px",
                 str(row["particle_diameter_px"]), "--quiet"]) == 0
    capsys.readouterr()
    # against the whole labelled set: 36 micrographs, one (the raw one) without a diameter, none of it needed
    assert main(["evaluate", str(out / "autopick.star"), "--truth", str(shared_data / "manifest.csv"),
                 "-o", str(tmp_path / "s.csv")]) == 0
    assert capsys.readouterr().err == ""   # not a warning for each PNG's unknown pixel size: scoring is in pixels
    scores = pd.read_csv(tmp_path / "s.csv", index_col=0)
    assert list(scores.index) == ["311_10028", "overall"]
    overall = scores.loc["overall"]
    # Mask-based: 311_10028 is held out of the default model's training (benchmarks: P 0.75, R 0.99 on its set).
    assert overall["n_true"] > 50
    assert overall["recall"] > 0.8 and overall["precision"] > 0.5


def test_picks_stay_off_the_contamination_of_a_real_raw_micrograph(shared_data, labelled_micrograph, tmp_path):
    # MicrographCleaner's predicted contamination (>= 0.5) and a RELION autopick run, 12 of whose 45 picks fall on
    # it, come with the micrograph (it is in the default model's training: benchmarks/contamination.md also gives
    # a model that never saw it).
    with pytest.warns(PixelSizeWarning, match="placeholder"):
        item = labelled_micrograph("Ucsf_stack_1142_DW.mrc")
    contamination = item.regions == CONTAMINATION
    out = tmp_path / "picks"
    micrograph = shared_data / "raw-contamination" / "micrographs" / "Ucsf_stack_1142_DW.mrc"
    assert main(["pick", str(micrograph), "-o", str(out), "--diameter-px", "40", "--segmentation",
                 "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv").iloc[0]
    assert summary["contamination_fraction"] == pytest.approx(contamination.mean(), abs=0.03)
    assert summary["rejected_contamination"] > 10
    picks = read_picks(out / "Ucsf_stack_1142_DW_autopick.star")
    on_contamination = contamination[picks["y_px"].round().astype(int), picks["x_px"].round().astype(int)]
    relion = item.picks
    relion_on_contamination = contamination[relion["y_px"].round().astype(int), relion["x_px"].round().astype(int)]
    assert len(picks) > 50 and on_contamination.mean() < 0.05 < 0.2 < relion_on_contamination.mean()
    # the overlay tints contamination red (and nothing is called particle here to be tinted green)
    overlay = iio.imread(out / "Ucsf_stack_1142_DW_overlay.png").astype(int)
    red, green = overlay[contamination][:, 0], overlay[contamination][:, 1]
    assert np.mean(red > green + 30) > 0.9


def test_a_crowded_micrograph_alone_gives_a_diameter_said_to_be_unreliable(trpv1_run, capsys, tmp_path):
    _, (_, crowded), _, stderr = trpv1_run
    alone = tmp_path / "alone"
    assert main(["pick", crowded, "-o", str(alone)]) == 0
    captured = capsys.readouterr()
    # Said once for the run, not once per crowded micrograph (pick()'s warning is dropped).
    assert "px (median over 1 micrograph, unreliable: all are crowded with particles)" in captured.out
    assert "crowded" not in captured.err and "crowded" not in stderr
    own = pd.read_csv(alone / "summary.csv").iloc[0]
    assert own["diameter_source"] == "blobs" and own["particle_fraction"] > 0.5 and own["crowded"]
    assert own["diameter_px"] == own["blob_diameter_px"]


@pytest.mark.filterwarnings("ignore::icestat.micrograph.PixelSizeWarning")   # 8-bit PNGs: none needed
def test_a_lower_threshold_gives_the_picks_scoring_at_least_it_where_the_diameter_is_estimated(trpv1_run, tmp_path):
    # The diameter estimate rests on the candidates at the default threshold, whatever the threshold asked.
    run, micrographs, _, _ = trpv1_run
    rethresholded, fresh = tmp_path / "rethresholded", tmp_path / "fresh"
    shutil.copytree(run, rethresholded)
    for out in (rethresholded, fresh):
        assert main(["pick", *micrographs, "-o", str(out), "--threshold", "0.15", "--quiet"]) == 0
    summaries = [pd.read_csv(out / "summary.csv") for out in (run, rethresholded, fresh)]
    assert list(summaries[1]["status"]) == ["threshold changed"] * 2
    assert list(summaries[2]["status"]) == ["picked"] * 2
    assert (summaries[1]["n_picks"] > summaries[0]["n_picks"]).all()
    same = [column for column in summaries[1].columns if column not in ("status", "seconds")]
    pd.testing.assert_frame_equal(summaries[1][same], summaries[2][same])
    for name in summaries[2]["micrograph"]:
        assert _undated(rethresholded / f"{name}_autopick.star") == _undated(fresh / f"{name}_autopick.star")


@pytest.mark.filterwarnings("ignore::icestat.micrograph.PixelSizeWarning")   # 8-bit PNGs: none needed
def test_micrographs_whose_own_estimate_strays_are_picked_with_the_diameter_of_the_run(trpv1_run, tmp_path):
    # stack_0005 and a copy of stack_0002 at twice its size, neither with a pixel size, so the run's diameter is in
    # pixels: the median of their own estimates; those more than 20 % off it are picked again with it, and a rerun
    # keeps that.
    run, (uncrowded, crowded), _, _ = trpv1_run
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_mrc(folder / "double_size.mrc", np.kron(read_micrograph(crowded).data, np.ones((2, 2), np.float32)))
    output = tmp_path / "picks"
    said = []
    for _ in range(2):
        with contextlib.redirect_stdout(io.StringIO()) as stdout:
            assert main(["pick", uncrowded, str(folder / "double_size.mrc"), "-o", str(output), "--quiet"]) == 0
        said.append(stdout.getvalue())
        summary = pd.read_csv(output / "summary.csv").set_index("micrograph")
        by_run = (summary["diameter_source"] == "run").to_numpy()
        run_px = summary["diameter_px"][by_run].iloc[0]
        assert by_run.any() and (summary["diameter_px"][by_run] == run_px).all()
        # the others, picked with their own estimate, are within 20 % of the run's diameter
        own_px = summary["blob_diameter_px"][~by_run]
        assert (summary["diameter_px"][~by_run] == own_px).all() and not far_from_run_diameter(own_px, run_px).any()
        for name in summary.index:
            row = json.loads((output / f"{name}_summary.json").read_text())["row"]
            assert row["diameter_source"] == summary["diameter_source"][name]
            assert len(read_picks(output / f"{name}_autopick.star")) == summary["n_picks"][name]
        # picked with its own estimate, a micrograph has picks (at the run's, here 1.7-2.3 times its own
        # particles' diameter, it may have none: they stand out less at the wrong scale)
        assert (summary["n_picks"][~by_run] > 0).all()
    n_by_run = int(by_run.sum())
    assert said[1].splitlines()[0] == said[0].splitlines()[0]   # the same diameter, resting on the same estimates
    assert f"particle evidence: {run_px:.1f} px" in said[0]
    assert f"{n_by_run} micrograph{'s' * (n_by_run > 1)} whose own estimate was more than 20% off" in said[0]


def test_without_a_diameter_it_is_estimated_and_reported(simulated, tmp_path, capsys):
    _, micrographs, _ = simulated
    out = tmp_path / "picks"
    assert main(["pick", micrographs[0], "-o", str(out), "--quiet"]) == 0
    out_text = capsys.readouterr().out
    assert "diameter estimated from the particle evidence: 1" in out_text and "Å (median over 1 micrograph)" in out_text
    assert "unreliable" not in out_text and "picked with it" not in out_text
    summary = pd.read_csv(out / "summary.csv")
    assert summary["diameter_source"][0] == "blobs" and summary["pixel_size_A"][0] == 2.0
    assert summary["diameter_px"][0] == summary["blob_diameter_px"][0]
    assert 0.8 * 75 < summary["diameter_px"][0] < 1.25 * 75   # true diameter 150 Å at 2 Å/px
    assert summary["n_picks"][0] > 5


@pytest.fixture(scope="module")
def relion_project(simulated, tmp_path_factory):
    """A RELION project folder: two micrographs whose headers say 4 Å/px, a truncated one, and STAR files listing
    them (their optics group: 2 Å/px): ``CtfFind/job003/micrographs_ctf.star`` the two good ones, ``broken.star``
    the truncated one, ``some_broken.star`` all three. Returns (folder, names of the good ones)."""
    _, micrographs, broken = simulated
    project = tmp_path_factory.mktemp("relion")
    names = [f"MotionCorr/job002/Movies/mic_{i}.mrc" for i in range(2)]
    (project / "MotionCorr" / "job002" / "Movies").mkdir(parents=True)
    for source, name in zip(micrographs, names):
        write_mrc(project / name, read_micrograph(source).data, pixel_size_A=4.0)
    bad = "MotionCorr/job002/Movies/bad.mrc"
    (project / bad).write_bytes(Path(broken).read_bytes())
    (project / "CtfFind" / "job003").mkdir(parents=True)
    for star, listed in [("CtfFind/job003/micrographs_ctf.star", names), ("broken.star", [bad]),
                         ("some_broken.star", [*names, bad])]:
        starfile.write({"optics": pd.DataFrame({"rlnOpticsGroup": [1], "rlnMicrographPixelSize": [2.0]}),
                        "micrographs": pd.DataFrame({"rlnMicrographName": listed, "rlnOpticsGroup": 1})},
                       project / star)
    return project, names


def test_pick_the_micrographs_of_a_relion_star_file_with_its_pixel_size(relion_project, monkeypatch, capsys):
    project, names = relion_project
    monkeypatch.chdir(project)
    assert main(["info", "CtfFind/job003/micrographs_ctf.star"]) == 0
    assert [line.split("\t")[3] for line in capsys.readouterr().out.splitlines()] == ["2 Å/px"] * 2   # not the 4 of
    assert main(["pick", "CtfFind/job003/micrographs_ctf.star", "-o", "picks", "--diameter-A", "150",  # the headers
                 "--quiet"]) == 0
    summary = pd.read_csv("picks/summary.csv")
    assert summary["micrograph"].tolist() == ["mic_0", "mic_1"] and (summary["status"] == "picked").all()
    assert summary["pixel_size_A"].tolist() == [2.0, 2.0] and summary["diameter_px"].tolist() == [75.0, 75.0]
    assert (summary["n_picks"] > 5).all()
    index = starfile.read("picks/autopick.star")   # names as RELION's, for an Extract job to pair
    assert index["rlnMicrographName"].tolist() == names
    assert set(starfile.read("picks/particles.star")["rlnMicrographName"]) == set(names)
    assert main(["pick", "CtfFind/job003/missing.star", "-o", "x", "--quiet"]) == 2
    assert "missing.star: no such file" in capsys.readouterr().err


def test_a_relion_external_job_picks_and_tells_relion_what_it_made(relion_project, monkeypatch, capsys):
    project, names = relion_project
    monkeypatch.chdir(project)
    job = ["relion", "--o", "External/job010/", "--in_mics", "some_broken.star", "--j", "1", "--diameter_A", "150",
           "--pipeline_control", "External/job010/"]
    assert main(job) == 1   # one micrograph of three is truncated: reported, the others picked
    assert "bad.mrc" in capsys.readouterr().err
    assert Path("External/job010/RELION_JOB_EXIT_SUCCESS").is_file()
    assert not Path("External/job010/RELION_JOB_EXIT_FAILURE").exists()
    nodes = starfile.read("External/job010/RELION_OUTPUT_NODES.star")
    assert nodes.to_dict("list") == {"rlnPipeLineNodeName": ["External/job010/autopick.star"],
                                     "rlnPipeLineNodeTypeLabel": ["MicrographsCoords.star.relion.autopick"]}
    index = starfile.read("External/job010/autopick.star")
    assert index["rlnMicrographName"].tolist() == names
    assert all(Path(coordinates).is_file() for coordinates in index["rlnMicrographCoordinates"])  # from the project
    assert pd.read_csv("External/job010/summary.csv")["diameter_px"].iloc[:2].tolist() == [75.0, 75.0]
    assert not list(Path("External/job010").glob("*_overlay.png"))
    # continued with overlays asked for (RELION's Params are labels and values): picked again, overlays written
    capsys.readouterr()
    assert main([*job, "--overlays", "Yes"]) == 1 and "(2 picked now, 0 done before" in capsys.readouterr().out
    assert sorted(path.name for path in Path("External/job010").glob("*_overlay.png")) == ["mic_0_overlay.png",
                                                                                           "mic_1_overlay.png"]
    assert main([*job, "--overlays", "yes"]) == 1 and "(0 picked now, 2 done before" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        run_as_job([*job[1:], "--overlays", "maybe"])
    assert refused.value.code == 2 and "--overlays: must be yes or no, got 'maybe'" in capsys.readouterr().err
    (Path("External/job010") / "RELION_JOB_EXIT_FAILURE").unlink()   # told to RELION

    # Nothing picked, or a Param icestat cannot use: RELION is told the job failed.
    assert main(["relion", "--o", "External/job011/", "--in_mics", "broken.star"]) == 1
    assert Path("External/job011/RELION_JOB_EXIT_FAILURE").is_file()
    assert not Path("External/job011/RELION_JOB_EXIT_SUCCESS").exists()
    assert main([*job[:-2], "--threshold", "high"]) == 2
    assert "--threshold: invalid float value: 'high'" in capsys.readouterr().err
    (Path("External/job010") / "RELION_JOB_EXIT_FAILURE").unlink()
    assert main([*job[:-4], "--diameter_A", "-150"]) == 2
    assert "--diameter-A: must be a positive number, got -150" in capsys.readouterr().err
    assert Path("External/job010/RELION_JOB_EXIT_FAILURE").is_file()
    assert not Path("External/job010/RELION_JOB_EXIT_SUCCESS").exists()   # the earlier try's is gone
    with pytest.raises(SystemExit) as refused:   # a Param icestat does not know: argparse refuses the whole line
        run_as_job(["--o", "External/job012/", "--in_mics", "some_broken.star", "--box_size", "256", "--j", "1"])
    assert refused.value.code == 2 and "unrecognized arguments: --box_size 256" in capsys.readouterr().err
    assert Path("External/job012/RELION_JOB_EXIT_FAILURE").is_file()
    with pytest.raises(SystemExit) as refused:   # a Param's label is taken as typed, not as an abbreviation
        run_as_job(["--o", "External/job013/", "--in_mics", "some_broken.star", "--thresh", "0.5"])
    assert refused.value.code == 2 and "unrecognized arguments: --thresh 0.5" in capsys.readouterr().err
    assert Path("External/job013/RELION_JOB_EXIT_FAILURE").is_file()


def test_a_relion_external_job_stopped_by_a_full_disk_is_a_failed_job(relion_project, monkeypatch, capsys):
    # RELION must not take a job that picked part of its micrographs for finished: continued, it picks the rest.
    project, names = relion_project
    monkeypatch.chdir(project)
    write_picks = batch.write_picks
    monkeypatch.setattr(batch, "write_picks", _full_from("mic_1", write_picks))
    job = ["relion", "--o", "External/job020/", "--in_mics", "CtfFind/job003/micrographs_ctf.star", "--diameter_A",
           "150"]
    assert main(job) == 1
    assert "External/job020: No space left on device, so the run stopped with 1 of 2" in capsys.readouterr().err
    assert Path("External/job020/RELION_JOB_EXIT_FAILURE").is_file()
    assert not Path("External/job020/RELION_JOB_EXIT_SUCCESS").exists()
    monkeypatch.setattr(batch, "write_picks", write_picks)
    assert main(job) == 0   # continued
    assert Path("External/job020/RELION_JOB_EXIT_SUCCESS").is_file()
    assert not Path("External/job020/RELION_JOB_EXIT_FAILURE").exists()
    assert pd.read_csv("External/job020/summary.csv")["status"].tolist() == ["done before", "picked"]


def test_a_run_of_several_pixel_sizes_shares_one_diameter_in_angstrom(tmp_path, capsys):
    # 150 Å particles at 2.0 and 2.5 Å/px, and 300 Å ones at 3.0 Å/px: the odd micrograph's own estimate is far
    # from the run's (the median in Å), so it is picked again with the run's diameter in its own pixels.
    paths = []
    for name, pixel_size_A, diameter_A in [("a", 2.0, 150.0), ("b", 2.5, 150.0), ("c", 3.0, 300.0)]:
        params = SimulationParams(shape_px=(768, 768), pixel_size_A=pixel_size_A, n_particles=int(6000 // diameter_A),
                                  particle_diameter_A=diameter_A)
        paths.append(str(tmp_path / f"{name}.mrc"))
        write_mrc(paths[-1], simulate_micrograph(params, seed=len(paths)).image, pixel_size_A)
    out = tmp_path / "picks"
    assert main(["pick", *paths, "-o", str(out), "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("micrograph")
    own_A = summary["blob_diameter_px"] * summary["pixel_size_A"]
    run_A = own_A.median()
    assert own_A["c"] > 1.2 * run_A and 0.8 * 150 < run_A < 1.5 * 150
    assert summary["diameter_source"].tolist() == ["blobs", "blobs", "run"]
    assert summary["diameter_px"].tolist() == pytest.approx([*summary["blob_diameter_px"][:2], run_A / 3.0])
    assert (f"particle evidence: {run_A:.1f} Å (median over 3 micrographs); 1 micrograph whose own"
            in capsys.readouterr().out)


def test_one_process_reads_the_next_micrographs_while_picking(simulated, tmp_path, monkeypatch):
    import threading

    import icestat.bright_field as bright_field

    _, micrographs, broken = simulated
    events = []
    read, segment = batch.read_micrograph, bright_field.segment

    def reading(path, *args, **kwargs):
        events.append(("read", path, threading.current_thread().name))
        return read(path, *args, **kwargs)

    def segmenting(micrograph, *args, **kwargs):
        result = segment(micrograph, *args, **kwargs)
        events.append(("segmented", micrograph.name, threading.current_thread().name))
        return result

    monkeypatch.setattr(batch, "read_micrograph", reading)
    monkeypatch.setattr(bright_field, "segment", segmenting)
    paths = micrographs + [broken]
    rows = list(batch.pick_in_turn(paths, tmp_path, batch.PickSettings(diameter_A=150.0), read_ahead=2))
    assert [row["micrograph"] for row in rows] == ["mic_0000", "mic_0001", "mic_0002", "broken"]
    assert [row["status"] for row in rows] == ["picked"] * 3 + ["failed"]  # a bad file still fails in its turn
    reads = [e for e in events if e[0] == "read"]
    assert [e[1] for e in reads] == paths  # each read once, in order, in the reading thread
    assert all(e[2].startswith("icestat-read") for e in reads)
    first_done = events.index(next(e for e in events if e[0] == "segmented"))
    assert {e[1] for e in events[:first_done] if e[0] == "read"} == set(paths[:3])  # read while the first is picked


def test_evaluate_of_picks_and_truth_of_other_micrographs_names_both(tmp_path, capsys):
    # Most often the names differ in a way the user sees at once (a suffix, another run's micrographs).
    picks, truth = tmp_path / "picks.csv", tmp_path / "truth.csv"
    picks.write_text("micrograph,x_px,y_px,score\n" + "".join(f"mic_{i}_DW,10,10,0.9\n" for i in range(5)))
    truth.write_text("micrograph,x_px,y_px\nmic_0,10,10\nmic_1,10,10\n")
    assert main(["evaluate", str(picks), "--truth", str(truth), "--radius-px", "5"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "WARNING: picks of 5 micrographs have no truth and are not scored: mic_0_DW, mic_1_DW, mic_2_DW, mic_3_DW, mic_4_DW",
        "ERROR: no micrograph of the picks has a truth to be scored against; the truth names mic_0, mic_1"]


def test_evaluate_says_what_it_cannot_score(tmp_path, capsys):
    # A labelled micrograph with a mask but no particle diameter, and no single particle in the masks to read one
    # from, cannot be scored: it is left out with a warning, and with nothing else to score against, evaluate fails
    # in one line.
    image = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    write_mrc(tmp_path / "m.mrc", image, pixel_size_A=2.0)
    iio.imwrite(tmp_path / "m_mask.png", np.zeros((64, 64), dtype=np.uint8))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("micrograph,particle_mask\nm.mrc,m_mask.png\n")
    picks = tmp_path / "picks.csv"
    picks.write_text("micrograph,x_px,y_px,score\nm,10,10,0.9\n")
    assert main(["evaluate", str(picks), "--truth", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert ("m: a particle mask without a particle diameter, and no single particle in its dataset's masks to read "
            "one from; not scored") in err
    assert err.strip().splitlines()[-1] == "ERROR: no micrograph of the picks has a truth to be scored against"
    # given the diameter, the same micrograph is scored: its one pick is wrong (the mask is empty)
    manifest.write_text("micrograph,particle_mask,particle_diameter_px\nm.mrc,m_mask.png,10\n")
    assert main(["evaluate", str(picks), "--truth", str(manifest), "--threshold", "0.5"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[:4] == ["overall", "1", "0", "0"]
    with pytest.raises(SystemExit):
        main(["evaluate", str(picks), "--truth", str(manifest), "--threshold", "0.1,high"])
    assert "not a number or comma-separated numbers: '0.1,high'" in capsys.readouterr().err


def test_evaluate_reads_the_particle_diameter_of_disk_masks_without_one(tmp_path, capsys):
    # Masks of disks of 20 px (two touching on one micrograph) and no diameter in the manifest: each particle
    # counts once, so two picks in the touching pair are both right, and a third there is one too many.
    rows, cols = np.indices((96, 96))
    disk = lambda row, col: np.hypot(rows - row, cols - col) <= 9.5
    masks = {"a": disk(30, 30) | disk(70, 60), "b": disk(40, 30) | disk(40, 49)}
    for name, mask in masks.items():
        write_mrc(tmp_path / f"{name}.mrc", np.random.default_rng(0).normal(size=(96, 96)).astype(np.float32), 2.0)
        iio.imwrite(tmp_path / f"{name}_mask.png", (255 * mask).astype(np.uint8))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("micrograph,particle_mask\na.mrc,a_mask.png\nb.mrc,b_mask.png\n")
    picks = tmp_path / "picks.csv"
    picks.write_text("micrograph,x_px,y_px,score\na,30,30,0.9\na,60,70,0.8\nb,30,40,0.9\nb,49,40,0.8\nb,40,40,0.7\n")
    assert main(["evaluate", str(picks), "--truth", str(manifest)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-1].split()[:4] == ["overall", "5", "4", "4"]   # picks, true particles, right


def test_a_run_without_any_estimate_says_to_give_the_diameter(tmp_path, capsys):
    # Two isolated particles make one faint bump of particle evidence (none twice as coarse): no estimate, no pick.
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=4.0, n_particles=2, particle_diameter_A=150.0,
                              carbon_fraction=0.0, n_contamination=0, ice_thickness_A=300.0)
    sim = simulate_micrograph(params, seed=[80, 150, 1024])
    write_mrc(tmp_path / "sparse.mrc", sim.image, pixel_size_A=4.0)
    assert main(["pick", str(tmp_path / "sparse.mrc"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert "could not be estimated (fewer than two bumps of particle evidence on every micrograph); give " \
           "--diameter-A or --diameter-px" in capsys.readouterr().out
    row = pd.read_csv(tmp_path / "out" / "summary.csv").iloc[0]
    assert row["status"] == "picked" and row["n_picks"] == 0 and np.isnan(row["diameter_px"])
    assert main(["pick", str(tmp_path / "sparse.mrc"), "-o", str(tmp_path / "given"), "--diameter-A", "150",
                 "--quiet"]) == 0
    picks = read_picks(tmp_path / "given" / "sparse_autopick.star")   # given the diameter, both are picked
    distances_px = cdist(sim.picks[["x_px", "y_px"]], picks[["x_px", "y_px"]])
    assert (distances_px.min(axis=1) < 150.0 / 4.0 / 2).all()


def test_a_crop_smaller_than_one_patch_at_the_working_scale_is_named_with_both_sizes(simulated, tmp_path, capsys):
    _, micrographs, _ = simulated
    micrograph = read_micrograph(micrographs[0])
    crop = tmp_path / "crop.mrc"
    write_mrc(crop, micrograph.data[:96, :150], micrograph.pixel_size_A)   # 2 Å/px binned 3.5x: 26x42 px
    assert main(["pick", str(crop), "-o", str(tmp_path / "out"), "--diameter-A", "150", "--quiet"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert errors == [f"ERROR: {crop}: 96x150 px binned 3.5x to the working scale is 26x42 px, smaller than one "
                      "32-px patch"]
