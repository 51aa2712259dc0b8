"""The run-level decisions of :mod:`icestat.batch`, on summary rows as pick_micrograph writes them."""

from __future__ import annotations

import dataclasses
import logging
import math
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from icestat import batch
from icestat._atomic import held_lock
from icestat.batch import BLOBS, FAILED, GIVEN, PICKED, RUN, failed_row
from icestat.run_decisions import RunDiameter, to_pick_with_run_diameter


def _row(name, source, diameter_px, blob_diameter_px, particle_fraction=0.3, pixel_size_A=None):
    return dict(micrograph=name, status=PICKED, pixel_size_A=pixel_size_A, n_picks=10,
                particle_fraction=particle_fraction, diameter_px=diameter_px, diameter_source=source,
                blob_diameter_px=blob_diameter_px, crowded=math.nan if source == GIVEN else particle_fraction > 0.5)


def _without_own_estimates(run):
    return dataclasses.replace(run, own_estimates={})


def test_the_run_diameter_is_the_median_of_the_estimates_and_far_ones_are_picked_again():
    rows = [
        _row("a", BLOBS, 60.0, 60.0),
        _row("b", BLOBS, 64.0, 64.0),
        _row("c", BLOBS, 40.0, 40.0),                          # 0.69 of the run's: picked again
        _row("d", BLOBS, 12.0, 12.0, particle_fraction=0.7),   # crowded: counted as the others, picked again
        _row("e", BLOBS, math.nan, math.nan),                  # no estimate: picked again
        _row("f", RUN, 62.0, 56.0),                            # picked with an earlier run's diameter: counts by 56
        _row("i", RUN, 80.0, 58.0),                            # ... whose diameter was far from this run's
        _row("g", GIVEN, 200.0, 150.0),                        # a given diameter is left alone
        failed_row("h.mrc", ValueError("unreadable")),
    ]
    paths = [f"/data/{name}.mrc" for name in "ihgfedcba"]
    run, again = to_pick_with_run_diameter(paths, rows)
    # The median of a, b, c, d, f and i (60, 64, 40, 12, 56, 58); no pixel sizes: pixels.
    assert _without_own_estimates(run) == RunDiameter(57.0, in_A=False, n_micrographs=6, all_crowded=False)
    # what those picked again report as their own estimate
    assert run.own_estimates["i"] == dict(blob_diameter_px=58.0, crowded=False)
    assert run.own_estimates["d"] == dict(blob_diameter_px=12.0, crowded=True)
    assert set(run.own_estimates) == set("abcdefi")
    assert again == ["/data/i.mrc", "/data/e.mrc", "/data/d.mrc", "/data/c.mrc"]
    assert run.px(2.0) == 57.0


def test_with_pixel_sizes_the_run_diameter_is_in_angstrom():
    # The same particles, 150 Å, on micrographs of 1.5 and 3 Å per pixel: 100 and 50 px.
    rows = [_row("a", BLOBS, 100.0, 100.0, pixel_size_A=1.5), _row("b", BLOBS, 52.0, 52.0, pixel_size_A=3.0),
            _row("c", BLOBS, 20.0, 20.0, pixel_size_A=3.0, particle_fraction=0.8)]
    run, again = to_pick_with_run_diameter(["a.mrc", "b.mrc", "c.mrc"], rows)
    assert run.in_A and run.value == pytest.approx(150.0)
    assert again == ["c.mrc"] and run.px(3.0) == pytest.approx(50.0)
    assert str(run) == "150.0 Å"
    assert run.n_micrographs == 3 and not run.all_crowded


def test_when_every_micrograph_is_crowded_the_run_diameter_says_so():
    rows = [_row("a", BLOBS, 30.0, 30.0, particle_fraction=0.6), _row("b", BLOBS, 12.0, 12.0, particle_fraction=0.7),
            _row("c", BLOBS, 20.0, 20.0, particle_fraction=0.8), _row("d", GIVEN, 50.0, 40.0, particle_fraction=0.1)]
    run, again = to_pick_with_run_diameter(["a.mrc", "b.mrc", "c.mrc", "d.mrc"], rows)
    assert _without_own_estimates(run) == RunDiameter(20.0, in_A=False, n_micrographs=3, all_crowded=True)
    assert again == ["a.mrc", "b.mrc"]


def test_crowded_is_where_the_own_estimate_was_made_or_by_the_particle_fraction_in_a_record_from_before_it():
    # "a" was crowded where its own estimate (12 px) was made, and picked again uncrowded with the run's diameter;
    # "b"'s record predates the column: crowded by its particle fraction. Both crowded: the run's diameter says so.
    rows = [dict(_row("a", RUN, 60.0, 12.0), crowded=True), _row("b", BLOBS, 14.0, 14.0, particle_fraction=0.7)]
    del rows[1]["crowded"]
    run, again = to_pick_with_run_diameter(["a.mrc", "b.mrc"], rows)
    assert (run.value, run.n_micrographs, run.all_crowded) == (13.0, 2, True)
    assert run.own_estimates["a"]["crowded"] and run.own_estimates["b"]["crowded"]
    assert again == ["a.mrc"]
    run, _ = to_pick_with_run_diameter(["a.mrc", "b.mrc", "c.mrc"], [*rows, _row("c", BLOBS, 16.0, 16.0)])
    assert (run.value, run.all_crowded) == (14.0, False)


def test_without_estimates_there_is_no_run_diameter():
    rows = [_row("a", GIVEN, 50.0, 40.0), _row("b", BLOBS, math.nan, math.nan), failed_row("c.mrc", OSError("gone"))]
    assert to_pick_with_run_diameter(["a.mrc", "b.mrc", "c.mrc"], rows) == (None, [])
    assert rows[2]["status"] == FAILED


def test_a_model_loaded_for_picking_has_what_picking_makes_once_made(monkeypatch, caplog):
    # Numba compiles the kernels on their first call on a machine (about 12 s on 2 cores), and the noise's
    # candidates are made once per process: in the first micrograph's seconds, and with no word of it, before. In a
    # fresh process, so that no earlier test has made them. The kernels are the parallel functions (the others are
    # compiled into them).
    script = ("import numba\nfrom icestat.batch import cached_model\nfrom icestat.features import cpu\n"
              "kernels = {name: kernel for name, kernel in vars(cpu).items()\n"
              "           if isinstance(kernel, numba.core.registry.CPUDispatcher)\n"
              "           and kernel.targetoptions.get('parallel')}\n"
              "assert len(kernels) == 9, sorted(kernels)\n"
              "cached_model(None, 'cpu')\n"
              "from icestat.candidates import noise_candidate_heights\n"
              "made = {'noise_candidate_heights': noise_candidate_heights.cache_info().currsize == 1}\n"
              "made.update((name, bool(kernel.signatures)) for name, kernel in kernels.items())\n"
              "print(*sorted(name for name, done in made.items() if not done))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""   # nothing left to make on the first micrograph
    # -v says how long they took where it was long (here, however short)
    monkeypatch.setattr(batch, "COMPILE_NOTICE_S", 0.0)
    batch.cached_model.cache_clear()
    with caplog.at_level(logging.INFO, logger="icestat"):
        batch.cached_model(None, "cpu")
    batch.cached_model.cache_clear()
    assert [record.getMessage().startswith("the feature kernels took ") for record in caplog.records] == [True]


def test_run_files_wait_for_another_run_writing_its_own_into_the_same_folder(tmp_path):
    # Two jobs of a SLURM array ending at once: the second writes its three run files once the first has all of its.
    rows = [failed_row("mics/a.mrc", ValueError("not an MRC file"))]
    with held_lock(tmp_path / batch.RUN_FILES_LOCK):   # another run, writing its own
        writer = threading.Thread(target=batch.write_run_files, args=(["mics/a.mrc"], tmp_path, rows))
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive() and not (tmp_path / "summary.csv").exists()
    writer.join(timeout=30)
    assert not writer.is_alive()
    assert pd.read_csv(tmp_path / "summary.csv")["status"].tolist() == [FAILED]
    assert (tmp_path / "autopick.star").exists() and (tmp_path / "particles.star").exists()


def test_run_files_are_written_where_the_file_system_refuses_locks(tmp_path, monkeypatch):
    # An NFS share without a lock manager answers ENOLCK: the run files are written unlocked, as before.
    import errno
    import fcntl

    def no_locks(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    batch.write_run_files(["mics/a.mrc"], tmp_path, [failed_row("mics/a.mrc", ValueError("not an MRC file"))])
    assert pd.read_csv(tmp_path / "summary.csv")["status"].tolist() == [FAILED]
