"""Picking on a real Dask LocalCluster (2 worker processes on loopback), with a worker killed mid-run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import starfile

from icestat.batch import PickSettings, failed_row, pick_micrograph, record_file
from icestat.simulate import SimulationParams, simulate_set, write_simulation
from icestat.workers import map_unordered

cloudpickle = pytest.importorskip("cloudpickle", reason="Dask (icestat[distributed]) is not installed")
pytest.importorskip("dask.distributed", reason="Dask (icestat[distributed]) is not installed")
# The workers cannot import this test module, so its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

PARAMS = SimulationParams(shape_px=(512, 512), pixel_size_A=3.0, n_particles=25, particle_diameter_A=150.0)
SETTINGS = PickSettings(diameter_A=150.0)


def pick_but_die_the_first_time(path: str, output: Path, settings: PickSettings, marker: Path) -> dict:
    """Kill this worker process, once in the whole run, in the middle of the second micrograph."""
    if path.endswith("_0001.mrc") and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return pick_micrograph(path, output, settings)


@pytest.fixture(scope="module")
def micrographs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    write_simulation(folder, simulate_set(4, PARAMS, seed=3), prefix="mic")
    return sorted(str(p) for p in folder.glob("mic_000?.mrc"))


def test_a_killed_worker_has_its_micrograph_retried_and_every_output_is_complete_once(micrographs, tmp_path):
    output = tmp_path / "picks"
    output.mkdir()
    rows = list(map_unordered(pick_but_die_the_first_time, micrographs, args=(output, SETTINGS, tmp_path / "marker"),
                              workers=2, on_error=failed_row))
    assert (tmp_path / "marker").exists()  # a worker did die
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
