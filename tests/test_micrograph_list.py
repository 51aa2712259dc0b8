"""Micrographs named on the command line: files, folders, or RELION STAR files listing them (``icestat.micrograph_list``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile

from icestat.cli import main
from icestat.micrograph import write_mrc
from icestat.micrograph_list import list_micrographs

NAMES = ["MotionCorr/job002/Movies/a.mrc", "MotionCorr/job002/Movies/b.mrc", "MotionCorr/job002/Movies/c.mrc"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A RELION project folder holding three (empty) micrograph files, made the working directory."""
    for name in NAMES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "CtfFind" / "job003").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_star(path, groups=(1, 1, 2), pixel_sizes_A={1: 1.06, 2: 1.06}, names=NAMES):
    """A RELION 3.1-5 micrograph STAR file: optics groups and micrographs."""
    optics = pd.DataFrame({"rlnOpticsGroupName": [f"opticsGroup{g}" for g in pixel_sizes_A],
                           "rlnOpticsGroup": list(pixel_sizes_A),
                           "rlnMicrographOriginalPixelSize": [0.53] * len(pixel_sizes_A),
                           "rlnVoltage": [300.0] * len(pixel_sizes_A),
                           "rlnMicrographPixelSize": list(pixel_sizes_A.values())})
    micrographs = pd.DataFrame({"rlnMicrographName": names, "rlnOpticsGroup": list(groups),
                                "rlnDefocusU": [15000.0] * len(names)})
    starfile.write({"optics": optics, "micrographs": micrographs}, path, overwrite=True)
    return str(path)


def test_a_relion_star_file_gives_its_micrographs_in_order_and_their_pixel_size(project):
    star = write_star(project / "CtfFind" / "job003" / "micrographs_ctf.star")
    listed = list_micrographs([star])
    assert listed.paths == NAMES   # as RELION names them, so autopick.star pairs with its micrographs
    assert listed.pixel_size_A == pytest.approx(1.06)


def test_micrograph_files_are_kept_as_given_without_a_pixel_size(project):
    listed = list_micrographs(NAMES[::-1])
    assert listed.paths == NAMES[::-1] and listed.pixel_size_A is None


def test_star_files_listed_together_are_concatenated(project):
    first = write_star(project / "first.star", groups=(1,), names=NAMES[:1])
    second = write_star(project / "second.star", groups=(1, 2), names=NAMES[1:])
    assert list_micrographs([first, second]).paths == NAMES


def test_a_relion_3_0_file_gives_the_pixel_size_from_detector_and_magnification(project):
    star = project / "old.star"
    starfile.write(pd.DataFrame({"rlnMicrographName": NAMES, "rlnDetectorPixelSize": [5.0] * 3,
                                 "rlnMagnification": [50000.0] * 3}), star, overwrite=True)
    listed = list_micrographs([str(star)])
    assert listed.paths == NAMES and listed.pixel_size_A == pytest.approx(1.0)


def test_a_star_file_without_a_pixel_size_leaves_it_to_the_headers(project):
    star = project / "names.star"
    starfile.write({"micrographs": pd.DataFrame({"rlnMicrographName": NAMES})}, star, overwrite=True)
    assert list_micrographs([str(star)]).pixel_size_A is None


def test_names_are_found_from_the_project_folder_when_run_elsewhere(project, monkeypatch):
    star = write_star(project / "CtfFind" / "job003" / "micrographs_ctf.star")
    monkeypatch.chdir(project / "CtfFind")
    listed = list_micrographs(["job003/micrographs_ctf.star"])
    assert listed.paths == [f"../{name}" for name in NAMES]
    assert all((project / "CtfFind" / path).is_file() for path in listed.paths)
    assert star


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("data_\nloop_\n_rlnMicrographName #1\n"), "lists no micrographs"),
    (lambda p: None, "bad.star: no such file"),
    (lambda p: p.write_bytes(b"\x00\x01 not a star file \xff" * 10), "no list of micrographs"),
    (lambda p: p.write_text("data_\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\na.mrc 1 3\n"),
     "not a readable STAR file (Length mismatch"),
    (lambda p: starfile.write(pd.DataFrame({"rlnCoordinateX": [1.0], "rlnCoordinateY": [2.0]}), p),
     "no list of micrographs"),
    (lambda p: starfile.write(pd.DataFrame({"rlnMicrographName": NAMES[:1], "rlnCoordinateX": [1.0],
                                            "rlnCoordinateY": [2.0]}), p), "lists particles, not micrographs"),
    (lambda p: write_star(p, pixel_sizes_A={1: 1.06, 2: 0.83}), "micrographs of 2 pixel sizes (0.83, 1.06 Å)"),
    (lambda p: write_star(p, groups=(1, 1, 3)), "no valid pixel size"),
    (lambda p: write_star(p, names=["elsewhere/x.mrc"], groups=(1,)), "none of its 1 micrographs"),
    # as RELION writes a name with '#': bare (starfile would cut it short)
    (lambda p: p.write_text("data_\nloop_\n_rlnMicrographName #1\ngrid#2/a.mrc\n"),
     "line 4 (grid#2/a.mrc) has a '#' inside a value"),
    (lambda p: p.write_text("data_\nloop_\n_rlnMicrographName #1\n'grid 1/a.mrc'\nit's.mrc\n"),
     "line 5 (it's.mrc) has a quote mark (') inside a value"),
])
def test_a_bad_star_file_is_refused_in_one_line_naming_it(project, make, message):
    star = project / "CtfFind" / "job003" / "bad.star"
    make(star)
    with pytest.raises(ValueError, match="bad.star") as caught:
        list_micrographs([str(star)])
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_star_files_and_micrograph_files_are_not_mixed(project):
    star = write_star(project / "mics.star")
    with pytest.raises(ValueError, match="not both"):
        list_micrographs([star, NAMES[0]])


def test_star_files_of_different_pixel_sizes_are_refused(project):
    first = write_star(project / "first.star", pixel_sizes_A={1: 1.06, 2: 1.06})
    second = write_star(project / "second.star", pixel_sizes_A={1: 0.83, 2: 0.83})
    with pytest.raises(ValueError, match="several pixel sizes"):
        list_micrographs([first, second])


def test_a_folder_stands_for_the_micrograph_files_directly_in_it_in_name_order(tmp_path):
    for name in ("b.mrc", "a.MRC", "c.mrc.gz", "d.tiff", "e.jpg", "notes.txt", "mics.star", "f.ctf", "b_PS.mrc",
                 "a_labels.mrc", "a_ice.mrc", "a_overlay.png"):   # RELION's power spectra, icestat's own outputs
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.mrc").mkdir()              # a folder, even one named like a micrograph, is not one
    (tmp_path / "sub.mrc" / "g.mrc").write_bytes(b"")
    listed = list_micrographs([str(tmp_path)])
    assert [path.rsplit("/", 1)[1] for path in listed.paths] == ["a.MRC", "b.mrc", "c.mrc.gz", "d.tiff", "e.jpg"]
    assert listed.pixel_size_A is None


def test_a_link_in_a_folder_whose_micrograph_is_gone_is_reported_not_passed_over(tmp_path, rng, capsys):
    # RELION's Import links the micrographs; a link left after its file moved must show in the run, not vanish from it.
    write_mrc(tmp_path / "a.mrc", rng.normal(size=(96, 128)).astype(np.float32), pixel_size_A=1.2)
    (tmp_path / "b.mrc").symlink_to(tmp_path / "moved" / "b.mrc")
    assert [path.rsplit("/", 1)[1] for path in list_micrographs([str(tmp_path)]).paths] == ["a.mrc", "b.mrc"]
    assert main(["info", str(tmp_path)]) == 1
    line = capsys.readouterr().out.strip().splitlines()[1]
    target = tmp_path / "moved" / "b.mrc"
    assert line == f"{tmp_path / 'b.mrc'}\tUNUSABLE\tno such file (a link to {target}, which is not there)"


def test_a_micrograph_named_twice_is_taken_once(tmp_path, caplog):
    # by the same name, another path to it, a link to it, or a folder holding it: picked twice, its particles would
    # be extracted twice
    for name in ("a.mrc", "b.mrc"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.mrc").symlink_to(tmp_path / "a.mrc")
    arguments = [str(tmp_path / "a.mrc"), str(tmp_path / "a.mrc"), str(tmp_path / "sub" / ".." / "b.mrc"),
                 str(tmp_path / "link.mrc"), str(tmp_path)]
    assert list_micrographs(arguments).paths == arguments[:1] + arguments[2:3]
    assert f"5 micrograph name(s) repeat a micrograph named before (such as {tmp_path / 'a.mrc'})" in caplog.text


def test_star_files_listing_a_micrograph_twice_give_it_once(project):
    write_star(project / "CtfFind" / "job003" / "one.star", names=NAMES[:2], groups=(1, 1))
    write_star(project / "CtfFind" / "job003" / "two.star", names=NAMES[1:], groups=(1, 2))
    listed = list_micrographs(["CtfFind/job003/one.star", "CtfFind/job003/two.star"])
    assert listed.paths == NAMES and listed.pixel_size_A == pytest.approx(1.06)


def test_a_folder_takes_the_dose_weighted_one_of_a_micrograph_saved_both_ways(tmp_path, caplog):
    for name in ("a.mrc", "a_DW.mrc",          # MotionCor2
                 "b.mrc", "b_noDW.mrc",        # RELION's own motion correction
                 "e_patch_aligned.mrc", "e_patch_aligned_doseweighted.mrc",   # cryoSPARC's Patch Motion Correction
                 "c.mrc", "c_noDW_x.mrc", "DW.mrc", "d_DW.mrc", "f_doseweighted_x.mrc"):   # no twins
        (tmp_path / name).write_bytes(b"")
    listed = list_micrographs([str(tmp_path)])
    assert [path.rsplit("/", 1)[1] for path in listed.paths] == [
        "DW.mrc", "a_DW.mrc", "b.mrc", "c.mrc", "c_noDW_x.mrc", "d_DW.mrc", "e_patch_aligned_doseweighted.mrc",
        "f_doseweighted_x.mrc"]
    assert f"{tmp_path}: 3 micrograph(s) also saved without dose weighting (such as a.mrc)" in caplog.text


def test_a_folder_without_micrographs_is_refused_by_name(tmp_path):
    (tmp_path / "notes.txt").write_text("no micrographs here")
    with pytest.raises(ValueError, match=f"^{tmp_path}: a folder with no micrograph file"):
        list_micrographs([str(tmp_path)])


def test_icestat_info_reads_a_folder_of_micrographs(tmp_path, capsys, rng):
    for name in ("mic_2", "mic_1"):
        write_mrc(tmp_path / f"{name}.mrc", rng.normal(size=(96, 128)).astype(np.float32), pixel_size_A=1.2)
    assert main(["info", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "mic_1.mrc" in lines[0] and "mic_2.mrc" in lines[1]


def test_icestat_info_on_a_folder_without_micrographs_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no micrographs here")
    assert main(["info", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"ERROR: {tmp_path}: a folder with no micrograph file")
    assert len(captured.err.strip().splitlines()) == 1


def test_files_named_with_their_micrograph_leave_out_its_spectrum_segmentation_and_copy_without_dose_weighting(
        tmp_path, caplog):
    # What a shell's mics/*.mrc names in a MotionCor2 or RELION output folder, or one icestat simulated into: picked,
    # a label map fails the run, a power spectrum is picked as noise and a copy without dose weighting twice.
    (tmp_path / "other").mkdir()
    names = ["a.mrc", "a_DW.mrc", "a_DW_PS.mrc", "b.mrc", "b_labels.mrc", "b_ice.mrc", "b_overlay.png",
             "c_noDW.mrc", "c.mrc", "other/b_labels.mrc", "other/d.mrc", "other/d_DW.mrc", "e_PS.mrc", "f_labels.mrc"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    listed = list_micrographs([str(tmp_path / name) for name in names])
    # alone, a file keeps its place: reported for what it is when read, not silently passed over
    assert [str(Path(path).relative_to(tmp_path)) for path in listed.paths] == [
        "a_DW.mrc", "b.mrc", "c.mrc", "other/b_labels.mrc", "other/d_DW.mrc", "e_PS.mrc", "f_labels.mrc"]
    assert (f"4 file(s) named beside their micrograph are its power spectrum or icestat's segmentation files (such as "
            f"{tmp_path / 'a_DW_PS.mrc'}); leaving them out") in caplog.text
    assert (f"3 micrograph(s) also named without dose weighting (such as {tmp_path / 'a.mrc'}); taking the "
            "dose-weighted one(s) only") in caplog.text
