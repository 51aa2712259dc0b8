"""``icestat train`` and ``icestat segment`` as a user runs them, on small simulated files."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import imageio.v3 as iio
import mrcfile
import numpy as np
import pandas as pd
import pytest

from icestat.classes import CARBON, CONTAMINATION, PARTICLE
from icestat.cli import build_parser, main
from icestat.manifest import read_manifest
from icestat.micrograph import read_image, read_micrograph, write_mrc
from icestat.model import IceModel, load_model
from icestat.segment import segment
from icestat.simulate import SimulationParams, simulate_set, write_simulation
from icestat.training import SHIPPED_CLASSIFIER, SHIPPED_REFINER, SHIPPED_SIMULATED

PARAMS = SimulationParams(shape_px=(512, 512), pixel_size_A=3.5, n_particles=30, carbon_fraction=0.35)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Three simulated micrographs for training and one for validation, each with a manifest."""
    folder = tmp_path_factory.mktemp("sim")
    train = write_simulation(folder / "train", simulate_set(3, PARAMS, seed=5), prefix="train")
    validation = write_simulation(folder / "validation", simulate_set(1, PARAMS, seed=6), prefix="val")
    return train, validation


def test_train_writes_a_model_and_prints_validation_scores(labelled, tmp_path, capsys):
    train, validation = labelled
    output = tmp_path / "small.icestat"
    code = main(["train", str(train), "-o", str(output), "--validation", str(validation), "--simulated", "0",
                 "--n-estimators", "30", "--refiner-steps", "20", "--refiner-networks", "2"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "carbon_iou" in printed and "boundary_f1" in printed
    model = load_model(output)
    assert model.refiner.n_networks == 2
    assert model.metadata["validation"]["n_micrographs"] == 1
    assert model.metadata["validation"]["carbon_iou"] > 0.5
    assert len(model.metadata["training_micrographs"]) == 3


def test_train_reports_a_manifest_without_labels(tmp_path, capsys):
    manifest = tmp_path / "empty.csv"
    manifest.write_text("micrograph\n")
    assert main(["train", str(manifest), "-o", str(tmp_path / "m.icestat")]) == 2
    assert not (tmp_path / "m.icestat").exists()


def test_segment_writes_labels_probabilities_and_overlays_with_the_default_model(labelled, tmp_path, capsys):
    folder = labelled[1].parent
    micrograph = folder / "val_0000.mrc"
    broken = tmp_path / "broken.mrc"
    broken.write_bytes(micrograph.read_bytes()[:2000])
    out = tmp_path / "out"
    code = main(["segment", str(micrograph), str(broken), "-o", str(out)])
    assert code == 1  # the broken file fails, the good one is done
    captured = capsys.readouterr()
    assert "broken.mrc" in captured.err
    header, row = captured.out.splitlines()[:2]
    assert header.split() == ["micrograph", "ice", "%", "particle", "%", "carbon", "%", "contam.", "%", "polarity"]
    assert row.split()[0] == "val_0000" and row.split()[-1] == "dark"   # raw, particles darker than the ice
    with mrcfile.open(out / "val_0000_labels.mrc") as labels, mrcfile.open(out / "val_0000_ice.mrc") as ice:
        assert labels.data.shape == (512, 512) and labels.data.dtype == np.int8
        assert ice.data.dtype == np.float32 and 0 <= ice.data.min() and ice.data.max() <= 1
        assert float(labels.voxel_size.x) == pytest.approx(3.5)
        with mrcfile.open(folder / "val_0000_labels.mrc") as truth:
            true_carbon = truth.data == CARBON
            assert np.mean(labels.data[true_carbon] == CARBON) > 0.5
    overlay = iio.imread(out / "val_0000_overlay.png")
    assert overlay.shape == (512, 512, 3)
    assert not (out / "broken_labels.mrc").exists()


def test_segment_carbon_per_pixel_is_the_model_without_carbon_regions(labelled, tmp_path):
    micrograph = labelled[1].parent / "val_0000.mrc"
    assert main(["segment", str(micrograph), "-o", str(tmp_path / "regions")]) == 0
    assert main(["segment", str(micrograph), "-o", str(tmp_path / "pixels"), "--carbon-per-pixel"]) == 0
    written = {}
    for kind in ("regions", "pixels"):
        with mrcfile.open(tmp_path / kind / "val_0000_labels.mrc") as labels:
            written[kind] = labels.data.copy()
    model, image = load_model(), read_micrograph(micrograph)
    np.testing.assert_array_equal(written["regions"], segment(image, model).labels)
    np.testing.assert_array_equal(written["pixels"], segment(image, model.with_carbon_regions(False)).labels)
    assert (written["regions"] != written["pixels"]).any()


def test_segment_no_refine_writes_the_patch_classifier_alone(labelled, tmp_path):
    micrograph = labelled[1].parent / "val_0000.mrc"
    assert main(["segment", str(micrograph), "-o", str(tmp_path), "--no-refine"]) == 0
    with mrcfile.open(tmp_path / "val_0000_labels.mrc") as labels:
        written = labels.data.copy()
    image = read_micrograph(micrograph)
    np.testing.assert_array_equal(written, segment(image, refine=False).labels)
    assert (written != segment(image).labels).any()


def test_train_reads_the_validation_manifest_before_training(labelled, tmp_path, capsys):
    # A validation manifest that cannot be used ends the command at once, not after minutes of training.
    train, _ = labelled
    no_labels = tmp_path / "no_labels.csv"
    no_labels.write_text(f"micrograph\n{train.parent / 'train_0000.mrc'}\n")
    for validation, problem in [(tmp_path / "absent.csv", "absent.csv"),
                                (no_labels, "no_labels.csv: no labelled micrograph to validate on")]:
        output = tmp_path / "model.icestat"
        assert main(["train", str(train), "-o", str(output), "--validation", str(validation), "--simulated", "0",
                     "--refiner-steps", "0", "--n-estimators", "5"]) == 2
        assert problem in capsys.readouterr().err and not output.exists()


def test_train_names_every_unusable_micrograph_of_the_manifest_at_once_and_trains_on_none(labelled, tmp_path, capsys,
                                                                                         monkeypatch):
    train, _ = labelled
    rows = read_manifest(train)   # its paths absolute
    truncated, text = tmp_path / "truncated.mrc", tmp_path / "notes.mrc"
    truncated.write_bytes(Path(rows["micrograph"][0]).read_bytes()[:3000])
    text.write_text("not a micrograph\n")
    spoiled = pd.concat([rows.iloc[:1], rows.iloc[:1].assign(micrograph=str(truncated)), rows.iloc[1:],
                         rows.iloc[:1].assign(micrograph=str(text))], ignore_index=True)
    spoiled.to_csv(tmp_path / "spoiled.csv", index=False)
    made = []
    monkeypatch.setattr("icestat.examples.make_example", lambda *args, **kwargs: made.append(args[0].name))
    output = tmp_path / "model.icestat"
    assert main(["train", str(tmp_path / "spoiled.csv"), "-o", str(output), "--simulated", "0"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith(f"ERROR: {truncated}: ") and "truncated" in errors[0]
    assert errors[1] == f"ERROR: {text}: is a text file, not a micrograph"
    assert errors[2] == (f"ERROR: {tmp_path / 'spoiled.csv'}: 2 of 5 micrographs cannot be used (each named above); "
                         "fix or remove their rows")
    assert made == ["train_0000"] and not output.exists()   # the good rows after the first unusable one: only read


def test_train_refuses_a_dataset_the_manifest_does_not_have_naming_those_it_has(labelled, tmp_path, capsys):
    train, _ = labelled
    assert main(["train", str(train), "-o", str(tmp_path / "m.icestat"), "--datasets", "simulated", "EMPIAR-10017",
                 "--simulated", "0"]) == 2
    assert capsys.readouterr().err == f"ERROR: {train}: no dataset EMPIAR-10017 (it has simulated)\n"


@pytest.mark.parametrize("arguments, message", [
    (["--n-estimators", "0"], "argument --n-estimators: must be at least 1, got 0"),
    (["--refiner-steps", "-1"], "argument --refiner-steps: must be at least 0, got -1"),
    (["--refiner-networks", "0"], "argument --refiner-networks: must be at least 1, got 0"),
    (["--simulated", "-1"], "argument --simulated: must be at least 0, got -1"),
    (["--simulated", "some"], "argument --simulated: must be a whole number, got 'some'"),
])
def test_train_refuses_training_settings_out_of_range_before_reading_anything(labelled, tmp_path, capsys, arguments,
                                                                              message):
    # --n-estimators 0 had trained (minutes) a classifier of no trees, --refiner-steps -1 an untrained refiner
    train, _ = labelled
    with pytest.raises(SystemExit) as refused:
        main(["train", str(train), "-o", str(tmp_path / "m.icestat"), *arguments])
    assert refused.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
    assert not (tmp_path / "m.icestat").exists()


def test_a_full_disk_is_said_in_one_line_keeping_the_files_written(labelled, tmp_path, capsys, monkeypatch):
    import icestat.cli.segment as segment_cli
    folder = labelled[0].parent
    micrographs = [str(folder / f"train_000{i}.mrc") for i in range(3)]
    written = []

    def full_after_two(path, *args, **kwargs):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write_mrc(path, *args, **kwargs)
        written.append(Path(path).name)

    monkeypatch.setattr(segment_cli, "write_mrc", full_after_two)
    out = tmp_path / "out"
    assert main(["segment", *micrographs, "-o", str(out)]) == 1
    assert capsys.readouterr().err == f"ERROR: {out}: No space left on device; once there is room, run the command again\n"
    assert sorted(path.name for path in out.iterdir()) == ["train_0000_ice.mrc", "train_0000_labels.mrc",
                                                          "train_0000_overlay.png"]


def test_segment_names_the_micrographs_failing_alike_for_the_first_few(tmp_path, capsys):
    for i in range(5):
        (tmp_path / f"notes_{i}.mrc").write_text("not a micrograph\n")
    assert main(["segment", *sorted(map(str, tmp_path.glob("*.mrc"))), "-o", str(tmp_path / "out"), "-q"]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors == [f"ERROR: {tmp_path / f'notes_{i}.mrc'}: is a text file, not a micrograph" for i in range(3)] + [
        f"ERROR: {tmp_path / 'notes_3.mrc'}: is a text file, not a micrograph [further files failing so are not shown]"]


def test_segment_refuses_micrographs_whose_outputs_would_collide_before_any_work(labelled, tmp_path, capsys):
    micrograph = labelled[1].parent / "val_0000.mrc"
    other = tmp_path / "session2" / "val_0000.mrc"   # another session's micrograph of the same name
    other.parent.mkdir()
    other.write_bytes(micrograph.read_bytes())
    assert main(["segment", str(micrograph), str(other), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "share the name 'val_0000'" in err and str(other) in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_segment_refuses_a_wrong_model_file_and_a_missing_gpu(labelled, tmp_path, capsys):
    micrograph = labelled[1].parent / "val_0000.mrc"
    wrong = tmp_path / "wrong.icestat"
    wrong.write_text("{}")
    assert main(["segment", str(micrograph), "-o", str(tmp_path), "--model", str(wrong)]) == 2
    assert "wrong.icestat: not an icestat model" in capsys.readouterr().err
    assert main(["segment", str(micrograph), "-o", str(tmp_path), "--device", "cuda"]) == 2
    assert "--device cuda" in capsys.readouterr().err


def test_segment_with_the_diameter_segments_large_particles_as_pick_does(large_particles, tmp_path, capsys):
    # 300 Å particles at 1.6 Å/px: the model alone calls their dark cores contamination. Told their diameter, or with
    # its estimate, `icestat segment` takes contamination smaller than a particle for particle, as `icestat pick`.
    sim = large_particles
    write_mrc(tmp_path / "large.mrc", sim.image, pixel_size_A=1.6)
    crop = sim.image[:256, :256]
    iio.imwrite(tmp_path / "no_pixel_size.png", np.interp(crop, (crop.min(), crop.max()), (0, 255)).astype(np.uint8))
    model_alone = segment(read_micrograph(tmp_path / "large.mrc"), load_model()).class_fractions()
    assert model_alone["contamination"] > 0.01
    for way, extra in (("estimated", []), ("told", ["--diameter-A", "300"])):
        assert main(["segment", str(tmp_path / "large.mrc"), "-o", str(tmp_path / way), *extra]) == 0
        with mrcfile.open(tmp_path / way / "large_labels.mrc") as labels:
            fractions = np.bincount(labels.data[labels.data >= 0].ravel(), minlength=4) / labels.data.size
        assert fractions[CONTAMINATION] == 0
        assert fractions[PARTICLE] > model_alone["particle"] + 0.01
    capsys.readouterr()
    code = main(["segment", str(tmp_path / "no_pixel_size.png"), "-o", str(tmp_path / "png"), "--diameter-A", "300"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no_pixel_size.png: pixel size unknown, so --diameter-A cannot be used" in err


def test_segment_an_inverted_micrograph_said_bright_as_its_raw_self(labelled, tmp_path, capsys):
    micrograph = labelled[1].parent / "val_0000.mrc"
    raw = read_micrograph(micrograph)
    write_mrc(tmp_path / "inverted.mrc", -raw.data, raw.pixel_size_A)
    written = {}
    for way, extra in (("bright", ["--polarity", "bright"]), ("dark", ["--polarity", "dark"])):
        assert main(["segment", str(tmp_path / "inverted.mrc"), "-o", str(tmp_path / way), *extra]) == 0
        assert capsys.readouterr().out.splitlines()[1].split()[-1] == way
        with mrcfile.open(tmp_path / way / "inverted_labels.mrc") as labels:
            written[way] = labels.data.copy()
    np.testing.assert_array_equal(written["bright"], segment(raw).labels)
    # Read as given, the inverted carbon (brighter than the ice) is not found as the raw one is.
    assert np.mean(written["dark"] == CARBON) < 0.5 * np.mean(written["bright"] == CARBON)


def test_a_model_trained_on_particle_labels_knows_carbon_film_from_the_simulated_micrographs(labelled, tmp_path):
    # The training micrographs have film over a third of the field, labelled only by their particles' centres.
    particles_only = labelled[0].parent / "particles_only.csv"   # beside the micrographs it names
    pd.read_csv(labelled[0]).drop(columns="regions").to_csv(particles_only, index=False)
    validation = read_micrograph(labelled[1].parent / "val_0000.mrc")
    true_film = read_image(labelled[1].parent / "val_0000_labels.mrc") == CARBON
    film_found = {}
    for n_simulated in ("0", "2"):
        output = tmp_path / f"simulated_{n_simulated}.icestat"
        assert main(["train", str(particles_only), "-o", str(output), "--simulated", n_simulated,
                     "--n-estimators", "15", "--refiner-steps", "0"]) == 0
        model = load_model(output)
        assert len(model.metadata["training_micrographs"]) == 3 + int(n_simulated)
        film_found[n_simulated] = segment(validation, model).labels == CARBON
    assert not film_found["0"].any()   # it never saw film: the film is particle or ice to it
    assert (film_found["2"] & true_film).sum() > 0.5 * true_film.sum() and film_found["2"].sum() < 1.3 * true_film.sum()


def test_train_adds_the_shipped_models_simulated_micrographs_by_default():
    args = build_parser().parse_args(["train", "labelled.csv", "-o", "my.icestat"])
    assert (args.simulated, args.n_estimators) == (SHIPPED_SIMULATED, SHIPPED_CLASSIFIER["n_estimators"])
    assert (args.refiner_steps, args.refiner_networks) == (SHIPPED_REFINER["n_steps"], SHIPPED_REFINER["n_networks"])


def test_train_adds_simulated_micrographs_to_those_of_the_manifest(labelled, tmp_path):
    output = tmp_path / "with_simulated.icestat"
    code = main(["train", str(labelled[0]), "-o", str(output), "--simulated", "1",
                 "--n-estimators", "10", "--refiner-steps", "0"])
    assert code == 0
    trained_on = load_model(output).metadata["training_micrographs"]
    assert trained_on == ["simulated/train_0000", "simulated/train_0001", "simulated/train_0002",
                          "simulated_by_train/sim_0000"]


def test_a_model_trained_for_storage_without_room_is_kept_in_the_temporary_folder(labelled, tmp_path, capsys,
                                                                                 monkeypatch):
    # Minutes of training are not lost to a full disk at the end: the model goes to the temporary folder, said so.
    train, _ = labelled
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    save = IceModel.save
    full = [tmp_path / "full"]   # the folders whose storage has no room

    def save_if_room(model, path):
        if Path(path).parent in full or Path(path).parent.parent in full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(model, path)

    monkeypatch.setattr(IceModel, "save", save_if_room)
    output = tmp_path / "full" / "model.icestat"
    output.parent.mkdir()
    arguments = ["train", str(train), "-o", str(output), "--simulated", "0", "--refiner-steps", "0",
                 "--n-estimators", "5"]
    assert main(arguments) == 1
    [kept] = temporary.glob("icestat-train-*/model.icestat")
    assert capsys.readouterr().err.strip() == (f"ERROR: {output}: No space left on device; the model trained is kept in "
                                               f"{kept} instead: move it where you want it once there is room")
    assert len(load_model(kept).metadata["training_micrographs"]) == 3 and not output.exists()

    full.append(temporary)   # the temporary folder on the same full disk
    assert main(arguments) == 1
    assert capsys.readouterr().err.strip() == (
        f"ERROR: {output}: No space left on device, and the temporary folder {temporary} too (No space left on device): "
        "the model trained is lost; once there is room, run the command again")
    assert [path.name for path in temporary.iterdir()] == [kept.parent.name]   # no empty folder left
