"""Picking on a real Dask cluster (2 worker processes on loopback): a worker killed, a run interrupted, GPU pinning."""

from __future__ import annotations

import logging
import os
import platform
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import starfile

from cluster_tasks import pick_but_die_the_first_time, threads_in_a_task, visible_gpu, warn_about
from icestat.batch import PickSettings, failed_row, pick_micrograph
from icestat.cli import main
from icestat.records import record_file
from icestat.simulate import SimulationParams, simulate_set, write_simulation
from icestat.workers import map_unordered
from page_faults import faults_of_a_block_again

pytest.importorskip("dask.distributed", reason="Dask (icestat[distributed]) is not installed")

PARAMS = SimulationParams(shape_px=(512, 512), pixel_size_A=3.0, n_particles=25, particle_diameter_A=150.0)
SETTINGS = PickSettings(diameter_A=150.0)


@pytest.fixture(scope="module")
def micrographs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    write_simulation(folder, simulate_set(4, PARAMS, seed=3), prefix="mic")
    return sorted(str(p) for p in folder.glob("mic_000?.mrc"))


def test_a_killed_worker_has_its_micrograph_retried_and_every_output_is_complete_once(micrographs, tmp_path):
    output = tmp_path / "picks"
    output.mkdir()
    environment = dict(os.environ)
    rows = list(map_unordered(pick_but_die_the_first_time, micrographs, args=(output, SETTINGS, tmp_path / "marker"),
                              workers=2, on_error=failed_row))
    assert (tmp_path / "marker").exists()  # a worker did die
    assert dict(os.environ) == environment   # not left with Dask's OMP_NUM_THREADS=1 for what this process starts
    assert sorted(row["micrograph"] for row in rows) == [f"mic_000{i}" for i in range(4)]
    assert all(row["status"] == "picked" for row in rows)
    for row in rows:
        assert record_file(output, row["micrograph"]).is_file()
        assert len(starfile.read(output / f"{row['micrograph']}_autopick.star")) == row["n_picks"]
    assert not [p for p in output.iterdir() if p.name.startswith(".")]  # no half-written temporary file

    # The same picks as one process picking them in turn.
    alone = tmp_path / "alone"
    alone.mkdir()
    for path in micrographs:
        pick_micrograph(path, alone, SETTINGS)
    for row in rows:
        name = f"{row['micrograph']}_autopick.star"
        pd.testing.assert_frame_equal(starfile.read(output / name), starfile.read(alone / name))


@pytest.mark.parametrize("gpus, expected", [([0, 1], {"gpu-0": "0", "gpu-1": "1"}),
                                            ([3], {"gpu-0": "3", "gpu-1": "3"})])
def test_local_gpu_workers_see_one_gpu_each(gpus, expected):
    # No GPU is needed: the pinning is each worker process's CUDA_VISIBLE_DEVICES.
    environment = dict(os.environ)
    seen = list(map_unordered(visible_gpu, range(8), workers=2, gpus=gpus))
    assert dict(os.environ) == environment
    assert len(seen) == 8
    assert dict(seen) == expected  # every worker ran tasks, each always with its own GPU
    assert len(set(seen)) == 2


@pytest.mark.parametrize("level, shown", [(logging.WARNING, True), (logging.ERROR, False)])
def test_local_workers_report_warnings_as_this_process_does(level, shown, capfd, monkeypatch):
    # As `icestat pick --workers 2` with and without --quiet: "WARNING: <message>" on stderr, or nothing.
    monkeypatch.setattr(logging.getLogger("icestat"), "level", level)
    assert sorted(map_unordered(warn_about, range(3), workers=2)) == [0, 1, 2]
    err = capfd.readouterr().err
    assert "PixelSizeWarning" not in err   # never Python's own format, with the worker's source line
    for item in range(3):
        assert (f"WARNING: mic_{item}.png: the file gives no pixel size" in err) == shown


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's settings are glibc's")
@pytest.mark.parametrize("gpus", [None, [0]])
def test_local_workers_keep_freed_memory(gpus):
    # Each micrograph's large arrays reuse the pages of the last one's (icestat.allocator), in the workers' tasks too,
    # in both kinds of local cluster (no GPU is needed to pin workers to one).
    faults = list(map_unordered(faults_of_a_block_again, range(2), workers=2, gpus=gpus))
    assert len(faults) == 2
    for first, again in faults:
        assert first > 0 and again <= first // 20


@pytest.mark.parametrize("gpus", [None, [0]])
def test_local_workers_split_the_cores_in_the_threads_their_tasks_run_in(gpus):
    # numba's count is per thread: set in a worker's main thread (as a worker plugin's setup is), a task's thread
    # kept numba's default, every core, and 2 workers on 2 cores ran 4 threads of numba kernels
    from icestat.cluster import usable_cores

    share = max(1, usable_cores() // 2)
    assert list(map_unordered(threads_in_a_task, range(2), workers=2, gpus=gpus)) == [(share, share, share)] * 2


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is set through Linux's sched_setaffinity")
def test_local_workers_share_only_the_cores_this_process_may_use():
    # As under SLURM or taskset: the workers' threads are divided from the cores granted, not from all the machine's.
    from icestat.cluster import usable_cores

    granted = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(granted)})
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, granted)
    assert usable_cores() == len(granted)


def test_an_interrupted_cluster_run_is_finished_by_a_rerun_doing_only_what_is_missing(tmp_path):
    folder = tmp_path / "sim"
    write_simulation(folder, simulate_set(12, PARAMS, seed=5), prefix="mic")
    micrographs = sorted(str(p) for p in folder.glob("mic_00??.mrc"))
    output = tmp_path / "picks"
    command = [sys.executable, "-m", "icestat", "pick", *micrographs, "-o", str(output), "--diameter-A", "150",
               "--workers", "2", "--quiet"]
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(output.glob("*_summary.json")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)  # the client, its cluster and its workers, as a scheduler's kill would
    run.wait()
    done_before = {p.name.removesuffix("_summary.json") for p in output.glob("*_summary.json")}
    assert 0 < len(done_before) < 12, "the run must be interrupted part way for this test to say anything"
    assert not (output / "summary.csv").exists()

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = pd.read_csv(output / "summary.csv")
    assert sorted(summary["micrograph"]) == [f"mic_{i:04d}" for i in range(12)]
    statuses = dict(zip(summary["micrograph"], summary["status"]))
    assert {name for name, status in statuses.items() if status == "done before"} == done_before
    assert {name for name, status in statuses.items() if status == "picked"} == set(statuses) - done_before
    particles = starfile.read(output / "particles.star")
    for _, row in summary.iterrows():
        picks = starfile.read(output / f"{row['micrograph']}_autopick.star")
        assert len(picks) == row["n_picks"] > 0
        assert (particles["rlnMicrographName"].str.contains(row["micrograph"])).sum() == row["n_picks"]


@pytest.mark.parametrize("scheduler, problem", [("tcp://127.0.0.1:9", "Timed out trying to connect"),
                                                ("no-such-address", "missing port number")])
def test_a_scheduler_not_reached_is_said_in_one_line(micrographs, tmp_path, capsys, scheduler, problem):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        assert main(["pick", micrographs[0], "-o", str(tmp_path / "picks"), "--scheduler", scheduler, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ERROR: no Dask scheduler reached at {scheduler} (") and problem in err
    assert err.count("\n") == 1
