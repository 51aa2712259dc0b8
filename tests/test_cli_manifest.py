"""``icestat manifest`` as a user runs it: micrographs paired with the pick files holding their particles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile

from icestat.cli import main
from icestat.coords import box_side_files, read_picks, write_picks
from icestat.coords.relion import write_particles_star, write_star
from icestat.manifest import iter_labelled, read_manifest
from icestat.model import load_model
from icestat.simulate import SimulationParams, simulate_set, write_simulation

PIXEL_SIZE_A = 3.5
PARAMS = SimulationParams(shape_px=(384, 384), pixel_size_A=PIXEL_SIZE_A, n_particles=20, particle_diameter_A=140.0)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Three simulated micrographs with their true centres (``_truth.star``, with the diameter)."""
    folder = tmp_path_factory.mktemp("sim") / "mics"
    write_simulation(folder, simulate_set(3, PARAMS, seed=11), prefix="mic")
    return folder


def _truth(folder) -> pd.DataFrame:
    return pd.concat([read_picks(path) for path in sorted(folder.glob("*_truth.star"))], ignore_index=True)


def test_per_micrograph_pick_files_make_a_manifest_that_reads_back_their_particles(simulated, tmp_path, capsys):
    output = tmp_path / "sets" / "labelled.csv"   # elsewhere: its paths are relative to its own folder
    code = main(["manifest", str(simulated), "--picks", *map(str, sorted(simulated.glob("*_truth.star"))),
                 "-o", str(output), "--dataset", "my-specimen"])
    assert code == 0
    assert "3 micrographs, 60 particles" in capsys.readouterr().out
    written = pd.read_csv(output)
    assert not any(Path(cell).is_absolute() for cell in written["micrograph"])
    assert [(output.parent / cell).resolve() for cell in written["micrograph"]] == [
        (simulated / f"mic_000{i}.mrc").resolve() for i in range(3)]
    assert (written["dataset"] == "my-specimen").all() and written["n_particles"].tolist() == [20, 20, 20]
    truth = _truth(simulated)
    for item in iter_labelled(output):   # each micrograph with its own particles, and their diameter
        mine = truth[truth["micrograph"] == item.micrograph.name]
        np.testing.assert_allclose(item.picks[["x_px", "y_px"]], mine[["x_px", "y_px"]])
        np.testing.assert_allclose(item.picks["diameter_px"], 140.0 / PIXEL_SIZE_A, rtol=1e-4)
    # the picks scored against it: every one right (paired with another micrograph's particles, hardly any)
    capsys.readouterr()
    truth_files = sorted(simulated.glob("*_truth.star"))
    assert main(["evaluate", *map(str, truth_files), "--truth", str(output)]) == 0
    overall = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert overall[0] == "overall" and overall[1:4] == ["60", "60", "60"]


def test_one_file_of_all_picks_needs_a_diameter_and_warns_of_micrographs_without_picks(simulated, tmp_path, capsys):
    truth = _truth(simulated)
    particles = tmp_path / "particles.star"   # RELION's: no diameter; picks of two of the three, and of another
    others = truth[truth["micrograph"] != "mic_0002"].assign(micrograph=lambda t: "Micrographs/" + t["micrograph"]
                                                             + ".mrc")
    stranger = truth.iloc[:3].assign(micrograph="Micrographs/elsewhere.mrc")
    write_particles_star(pd.concat([others, stranger]), particles)
    output = tmp_path / "labelled.csv"
    assert main(["manifest", str(simulated), "--picks", str(particles), "-o", str(output)]) == 2
    error = capsys.readouterr().err
    assert f"{particles}: gives no particle diameter" in error and "--diameter-A" in error and not output.exists()

    assert main(["manifest", str(simulated), "--picks", str(particles), "-o", str(output), "--diameter-A", "140"]) == 0
    error = capsys.readouterr().err
    assert "1 micrograph given without picks in the pick files, left out: mic_0002" in error
    assert "1 micrograph with picks in the pick files not among those given: elsewhere" in error
    manifest = read_manifest(output)
    assert [row.split("/")[-1] for row in manifest["micrograph"]] == ["mic_0000.mrc", "mic_0001.mrc"]
    np.testing.assert_allclose(manifest["particle_diameter_px"], 140.0 / PIXEL_SIZE_A)   # by each header's pixel size
    items = list(iter_labelled(manifest))
    assert [len(item.picks) for item in items] == [20, 20]
    np.testing.assert_allclose(items[1].picks["diameter_px"], 40.0)


def test_a_given_diameter_is_every_particles_over_the_box_side_of_box_files(simulated, tmp_path, capsys):
    boxes = [tmp_path / "mic_0000.box", tmp_path / "mic_0001.cbox"]   # boxes twice the particle, as users box them
    for box in boxes:
        write_picks(read_picks(simulated / f"{box.stem}_truth.star"), box, box_size_px=80)
    cbox = starfile.read(boxes[1], always_dict=True)   # a .cbox without crYOLO's size estimates: its box sides too
    starfile.write({"cryolo": cbox["cryolo"].drop(columns=["EstWidth", "EstHeight"])}, boxes[1], overwrite=True)
    output = tmp_path / "labelled.csv"
    assert main(["manifest", str(simulated), "--picks", *map(str, boxes), "-o", str(output)]) == 0
    error = capsys.readouterr().err
    assert f"{boxes[0]}: its picks' diameters are their boxes' sides" in error
    assert all((item.picks["diameter_px"] == 80).all() for item in iter_labelled(output))
    assert box_side_files(boxes) == list(map(str, boxes))

    assert main(["manifest", str(simulated), "--picks", *map(str, boxes), "-o", str(output), "--diameter-A", "140"]) == 0
    assert "boxes' sides" not in capsys.readouterr().err
    items = list(iter_labelled(output))
    assert [len(item.picks) for item in items] == [20, 20]
    for item in items:   # the particles' own diameter (40 px at 3.5 A), which training and scoring then use
        np.testing.assert_allclose(item.picks["diameter_px"], 140.0 / PIXEL_SIZE_A, rtol=1e-4)
    write_picks(read_picks(simulated / "mic_0001_truth.star"), boxes[1], box_size_px=80)   # with estimates: not warned
    assert box_side_files(boxes) == [str(boxes[0])]


def test_evaluate_against_eman_box_files_warns_that_their_box_side_sets_the_matching_radius(simulated, tmp_path,
                                                                                            capsys):
    truth = read_picks(simulated / "mic_0000_truth.star")
    box = tmp_path / "mic_0000.box"   # boxes twice the particle (40 px): a radius of 40 px, not 20
    write_picks(truth, box, box_size_px=80)
    off = tmp_path / "off.csv"   # every pick 25 px off its particle: wrong at half the particle's diameter
    write_picks(truth.assign(x_px=truth["x_px"] + 25), off)
    assert main(["evaluate", str(off), "--truth", str(box)]) == 0
    out, error = capsys.readouterr()
    assert f"{box}: its picks' diameters are their boxes' sides" in error and "--radius-px" in error
    assert "within 40 px (half the particle diameter)" in out   # said above the table
    assert out.strip().splitlines()[-1].split()[1:4] == ["20", "20", "20"]
    assert main(["evaluate", str(off), "--truth", str(box), "--radius-px", "20"]) == 0
    out, error = capsys.readouterr()
    assert out.splitlines()[0] == "each pick matched one to one to a true centre within 20 px"
    n_picks, n_true, n_correct = out.strip().splitlines()[-1].split()[1:4]
    assert "boxes' sides" not in error and (n_picks, n_true) == ("20", "20") and int(n_correct) <= 2   # a neighbour


def test_an_empty_pick_file_keeps_its_micrograph_and_bad_files_are_named(simulated, tmp_path, capsys):
    empty = tmp_path / "mic_0000_manualpick.star"   # looked at and found to hold no particle
    write_star(read_picks(simulated / "mic_0000_truth.star").iloc[:0], empty)
    picks = [str(empty), str(simulated / "mic_0001_truth.star")]
    output = tmp_path / "labelled.csv"
    assert main(["manifest", str(simulated / "mic_0000.mrc"), str(simulated / "mic_0001.mrc"), "--picks", *picks,
                 "-o", str(output)]) == 0
    assert pd.read_csv(output)["n_particles"].tolist() == [0, 20]

    twice = tmp_path / "mic_0001.cbox"
    write_picks(read_picks(simulated / "mic_0001_truth.star"), twice)
    assert main(["manifest", str(simulated), "--picks", *picks, str(twice), "-o", str(tmp_path / "two.csv")]) == 2
    error = capsys.readouterr().err
    assert f"mic_0001: its particles are in two pick files, {simulated / 'mic_0001_truth.star'} and {twice}" in error

    assert main(["manifest", str(simulated), "--picks", str(tmp_path / "none.star"), "-o", str(tmp_path / "x.csv")]) == 2
    assert "none.star: no such pick file" in capsys.readouterr().err

    broken = tmp_path / "broken"   # a micrograph cut short: named, and the others still written
    broken.mkdir()
    for name in ("mic_0000.mrc", "mic_0001.mrc"):
        (broken / name).write_bytes((simulated / name).read_bytes())
    (broken / "mic_0001.mrc").write_bytes((simulated / "mic_0001.mrc").read_bytes()[:5000])
    assert main(["manifest", str(broken), "--picks", *picks, "-o", str(output)]) == 1
    error = capsys.readouterr().err
    assert str(broken / "mic_0001.mrc") in error and len(error.strip().splitlines()) == 1
    assert pd.read_csv(output)["micrograph"].tolist() == ["broken/mic_0000.mrc"]


def test_a_model_trains_on_the_manifest_of_pick_files(simulated, tmp_path, capsys):
    output = tmp_path / "labelled.csv"
    assert main(["manifest", str(simulated), "--picks", *map(str, sorted(simulated.glob("*_truth.star"))),
                 "-o", str(output)]) == 0
    model_file = tmp_path / "mine.icestat"
    assert main(["train", str(output), "-o", str(model_file), "--simulated", "0", "--n-estimators", "10",
                 "--refiner-steps", "0"]) == 0
    assert len(load_model(model_file).metadata["training_micrographs"]) == 3
