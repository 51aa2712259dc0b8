"""The icestat command as a user runs it."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import threading
import warnings

import mrcfile
import numpy as np
import pandas as pd
import pytest

import icestat.adapt
import icestat.micrograph
from icestat import __version__, read_image, read_micrograph, write_mrc
from icestat._logging import FURTHER_NOT_SHOWN, REPEATS_SHOWN, reading, report_on_stderr
from icestat.cli import main
from icestat.manifest import iter_labelled


def test_version_from_the_installed_console_script():
    result = subprocess.run(["icestat", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"icestat {__version__}"


def test_relion_external_job_command_is_installed_and_says_how_to_set_up_the_job(capsys):
    result = subprocess.run(["icestat-relion", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "External executable:  icestat-relion" in result.stdout and "--in_mics" in result.stdout
    with pytest.raises(SystemExit) as missing:
        main(["relion", "--o", "External/job001/"])
    assert missing.value.code == 2 and "--in_mics" in capsys.readouterr().err


def test_help_lists_every_subcommand():
    result = subprocess.run([sys.executable, "-m", "icestat", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "demo" in result.stdout and "info" in result.stdout


def test_help_info_and_evaluate_do_not_wait_for_pytorch_or_xgboost(tmp_path, rng):
    # Only the module of the subcommand run is imported; `icestat --help` took 4-5 s on 2 cores, nearly all of it
    # importing what `icestat pick` needs (benchmarks/results/cli_start.md).
    write_mrc(tmp_path / "a.mrc", rng.normal(size=(80, 80)).astype(np.float32), pixel_size_A=1.0)
    (tmp_path / "picks.csv").write_text("micrograph,x_px,y_px,score\nm,1,1,0.5\n")
    (tmp_path / "truth.csv").write_text("micrograph,x_px,y_px\nm,2,1\n")
    script = ("import contextlib, io, sys\nfrom icestat.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
              "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
              "    assert main(['info', sys.argv[1] + '/a.mrc']) == 0\n"
              "    assert main(['evaluate', sys.argv[1] + '/picks.csv', '--truth', sys.argv[1] + '/truth.csv',\n"
              "                 '--radius-px', '3', '--threshold', '0.4']) == 0\n"
              "assert 'train' in out.getvalue() and '80x80' in out.getvalue() and '1.000' in out.getvalue()\n"
              "print(*sorted(name for name in ('torch', 'xgboost', 'sklearn') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    # and a subcommand's own options still parse where it is named after icestat's own
    assert main(["-q", "info", str(tmp_path / "a.mrc"), "--pixel-size-A", "2"]) == 0


def test_a_warning_of_the_library_reading_a_file_names_the_file(tmp_path, rng, capsys):
    # mrcfile warns that a file is longer than its header says without naming it; icestat pick reads the next
    # micrographs in a thread of its own, and each file's warning names that file (and is not taken for the other's).
    image = rng.normal(size=(256, 256)).astype(np.float32)
    paths = [tmp_path / f"{name}.mrc" for name in ("a", "b")]
    for path in paths:
        write_mrc(path, image, pixel_size_A=2.0)
        path.write_bytes(path.read_bytes() + bytes(1000))
    assert main(["pick", *map(str, paths), "-o", str(tmp_path / "picks"), "--diameter-px", "30"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "larger than expected" in line]
    assert warned == [f"WARNING: {path}: MRC file is 1000 bytes larger than expected" for path in paths]


def test_a_file_read_while_another_is_normalised_keeps_its_warning(tmp_path, rng, capsys, monkeypatch):
    # icestat pick reads b in a thread of its own while it normalises a's features; a warning filter set there (it
    # ignored RuntimeWarning, Python's filters being global) silenced mrcfile's warning of b. b is read just then.
    image = rng.normal(size=(256, 256)).astype(np.float32)
    paths = [tmp_path / f"{name}.mrc" for name in ("a", "b")]
    for path in paths:
        write_mrc(path, image, pixel_size_A=2.0)
        path.write_bytes(path.read_bytes() + bytes(1000))
    normalising, b_read = threading.Event(), threading.Event()
    column_medians, read_2d = icestat.adapt._column_medians, icestat.micrograph._read_2d

    def medians_while_b_is_read(table):
        normalising.set()
        b_read.wait(timeout=20)
        return column_medians(table)

    def read_b_while_normalising(path):
        if path.name != "b.mrc":
            return read_2d(path)
        normalising.wait(timeout=20)
        try:
            return read_2d(path)
        finally:
            b_read.set()

    monkeypatch.setattr(icestat.adapt, "_column_medians", medians_while_b_is_read)
    monkeypatch.setattr(icestat.micrograph, "_read_2d", read_b_while_normalising)
    assert main(["pick", *map(str, paths), "-o", str(tmp_path / "picks"), "--diameter-px", "30"]) == 0
    assert normalising.is_set() and b_read.is_set()
    warned = [line for line in capsys.readouterr().err.splitlines() if "larger than expected" in line]
    assert warned == [f"WARNING: {path}: MRC file is 1000 bytes larger than expected" for path in paths]


def test_a_library_deprecation_met_reading_a_file_is_no_warning_of_the_file_but_shows_with_vv(tmp_path, rng, capsys,
                                                                                          monkeypatch):
    # mrcfile under NumPy 2.5 warns of a deprecated NumPy call on every file it opens: words to its developers, which
    # `icestat info` and `icestat pick` must not print as a fault of each micrograph (and `-vv` still shows).
    path = tmp_path / "mic.mrc"
    write_mrc(path, rng.normal(size=(64, 64)).astype(np.float32), pixel_size_A=2.0)
    mrcfile_open = mrcfile.open

    def open_deprecated(*args, **kwargs):
        warnings.warn("Setting the dtype on a NumPy array has been deprecated in NumPy 2.5.", DeprecationWarning)
        return mrcfile_open(*args, **kwargs)

    monkeypatch.setattr(mrcfile, "open", open_deprecated)
    with warnings.catch_warnings():
        warnings.simplefilter("always")   # as under pytest or `python -X dev`: deprecations are shown
        assert main(["info", str(path)]) == 0
        out, err = capsys.readouterr()
        assert out.rstrip().endswith("\tok") and "deprecated" not in err
        for verbosity, shown in (([], False), (["-vv"], True)):
            report_on_stderr(logging.DEBUG if verbosity else logging.INFO)
            with reading(path):
                read_micrograph(path, min_side_px=32)
            err = capsys.readouterr().err
            assert "WARNING" not in err and ("deprecated in NumPy 2.5" in err) == shown
            if shown:
                assert err.startswith(f"DEBUG: {path}: Setting the dtype") and "DeprecationWarning from" in err


def test_a_warning_of_many_files_is_shown_for_the_first_few(tmp_path, rng, capsys):
    # A run of thousands of micrographs whose headers give no pixel size: not a warning of each on stderr.
    image = rng.normal(size=(64, 64)).astype(np.float32)
    paths = [tmp_path / f"{name}.mrc" for name in "abcdef"]
    for path in paths:
        write_mrc(path, image, pixel_size_A=None)
    write_mrc(tmp_path / "one.mrc", image, pixel_size_A=1.0)   # another warning: told apart
    report_on_stderr(logging.INFO)
    for path in [*paths, paths[0]]:
        assert read_micrograph(path, min_side_px=32).pixel_size_A is None
    read_micrograph(tmp_path / "one.mrc", min_side_px=32)
    warned = capsys.readouterr().err.splitlines()
    assert len(warned) == REPEATS_SHOWN + 2
    shown = paths[:REPEATS_SHOWN + 1]
    assert [line.split(": ")[1] for line in warned[:-1]] == list(map(str, shown))
    assert all("gives no pixel size" in line for line in warned[:-1])
    assert [line.endswith("are not shown]") for line in warned[:-1]] == [False] * REPEATS_SHOWN + [True]
    assert warned[-1].startswith(f"WARNING: {tmp_path / 'one.mrc'}: header pixel size 1.0 Å is often a placeholder")


def test_a_warning_of_each_micrograph_mostly_of_film_is_shown_for_the_first_few(capsys):
    # A run mostly of carbon film: what segment_and_pick logs of each, while icestat pick's progress bar replaces the
    # stderr handler with tqdm's. A micrograph picked again, with the same words, is not counted again.
    from tqdm.contrib.logging import logging_redirect_tqdm

    from icestat.bright_field import BRIGHTER_THAN_ICE_WARNING

    report_on_stderr(logging.INFO)
    with logging_redirect_tqdm(loggers=[logging.getLogger("icestat")]):
        for name in ["m0", "m1", "m0", "m2", "m3", "m4", "m5"]:
            logging.getLogger("icestat.bright_field").warning(BRIGHTER_THAN_ICE_WARNING, name, 60.0)
        logging.getLogger("icestat.pick").warning("%s: another warning", "m5")
    warned = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1] for line in warned] == ["m0", "m1", "m2", "m3", "m5"]
    assert [line.endswith(FURTHER_NOT_SHOWN.strip()) for line in warned] == [False, False, False, True, False]
    assert all("60% of it is brighter than what is called ice" in line for line in warned[:4])


@pytest.mark.parametrize("quiet", [False, True])
def test_what_a_reading_library_logs_names_the_file_and_is_silenced_by_quiet(tmp_path, capfd, quiet):
    # tifffile logs, rather than warns, that a TIFF of no page could not be reshaped: Python's last resort printed
    # it, naming no path, even under --quiet
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"II*\x00" + bytes(100))
    assert main([*["-q"] * quiet, "info", str(empty)]) == 1
    out, err = capfd.readouterr()
    assert out == f"{empty}\tUNUSABLE\tholds no image\n"
    if quiet:
        assert err == ""
    else:
        assert err.splitlines()[0].startswith(f"WARNING: {empty}: <tifffile.TiffFile 'empty.tif'>")
        assert err.splitlines()[1:] == ["WARNING: 1 of 1 files unusable (the lines marked UNUSABLE)"]


def test_info_describes_good_files_and_reports_bad_ones_without_stopping(tmp_path, rng, capsys):
    good = tmp_path / "good.mrc"
    write_mrc(good, rng.normal(5.0, 1.0, size=(100, 120)).astype(np.float32), pixel_size_A=1.34)
    bad = tmp_path / "bad.mrc"
    bad.write_text("not a micrograph\n")
    also_good = tmp_path / "also_good.mrc"
    write_mrc(also_good, rng.normal(size=(90, 90)).astype(np.float32), pixel_size_A=0.9)

    code = main(["info", str(good), str(bad), str(also_good)])

    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert code == 1
    assert len(lines) == 3 and captured.err == "WARNING: 1 of 3 files unusable (the lines marked UNUSABLE)\n"
    fields = lines[0].split("\t")
    assert fields[:4] == [str(good), "100x120", "MRC mode 2 (float32)", "1.34 Å/px"]
    assert fields[5] == "ok"
    assert lines[1] == f"{bad}\tUNUSABLE\tis a text file, not a micrograph"
    assert lines[2].startswith(f"{also_good}\t90x90")


def test_info_exit_code_is_0_when_all_files_are_usable_and_reports_warnings(tmp_path, rng, capsys):
    path = tmp_path / "placeholder.mrc"
    write_mrc(path, rng.normal(size=(64, 64)).astype(np.float32), pixel_size_A=1.0)
    assert main(["info", str(path)]) == 0
    assert "placeholder" in capsys.readouterr().out


def test_info_pixel_size_override(tmp_path, rng, capsys):
    path = tmp_path / "mic.mrc"
    write_mrc(path, rng.normal(size=(64, 64)).astype(np.float32))
    assert main(["info", "--pixel-size-A", "0.75", str(path)]) == 0
    line = capsys.readouterr().out
    assert "0.75 Å/px" in line and line.rstrip().endswith("ok")


@pytest.mark.parametrize("argv", [["-q", "info"], ["info", "-q"], ["-v", "info"], ["info", "-vv"]])
def test_verbosity_flags_work_before_and_after_the_subcommand(tmp_path, rng, argv):
    path = tmp_path / "mic.mrc"
    write_mrc(path, rng.normal(size=(64, 64)).astype(np.float32), pixel_size_A=1.5)
    assert main(argv + [str(path)]) == 0


def test_simulate_writes_a_reproducible_labelled_set(tmp_path, capsys):
    argv = ["simulate", "--n", "2", "--size", "256", "320", "--pixel-size-A", "1.2", "--particles", "5",
            "--diameter-A", "60", "--carbon-fraction", "0.2", "--seed", "3"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0
    assert main([*argv, "-o", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(
        [f"sim_000{i}{suffix}" for i in (0, 1) for suffix in (".mrc", "_labels.mrc", "_truth.star")]
        + ["manifest.csv", "simulation.json"]
    )
    for name in names:
        if name.endswith(".mrc"):  # the headers differ only in mrcfile's creation time stamp
            np.testing.assert_array_equal(read_image(tmp_path / "a" / name), read_image(tmp_path / "b" / name))
    (item, _) = iter_labelled(tmp_path / "a" / "manifest.csv")
    assert item.micrograph.shape == (256, 320) and item.micrograph.pixel_size_A == 1.2
    assert len(item.picks) == 5


def test_simulate_refuses_bad_parameters(tmp_path, capsys):
    assert main(["simulate", "-o", str(tmp_path), "--carbon-fraction", "2"]) == 2
    assert "carbon_fraction must be in [0, 1)" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_features_table_over_a_batch_with_a_bad_file(tmp_path, rng, capsys, suffix):
    good = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.mrc"
        write_mrc(path, rng.normal(size=(256, 192)).astype(np.float32), pixel_size_A=1.0)
        good.append(str(path))
    bad = tmp_path / "bad.mrc"
    bad.write_bytes(b"\x01\x02" * 600)
    out = tmp_path / f"features{suffix}"

    code = main(["features", good[0], str(bad), good[1], "-o", str(out), "--bin", "2",
                 "--patch-px", "32", "--stride-px", "32", "--features", "intensity", "spectrum_slope"])

    assert code == 1
    assert "bad.mrc" in capsys.readouterr().err
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(table.columns[:5]) == ["micrograph", "patch_row", "patch_col", "y_px", "x_px"]
    assert "spectrum_slope" in table.columns and "glcm_contrast_d1" not in table.columns
    assert table["micrograph"].value_counts().to_dict() == {"a": 12, "b": 12}  # 4 x 3 patches of the 128x96 binned image
    # patch centres are given in original pixels: the first at (15.5 + 0.5) * 2 - 0.5
    assert table["y_px"].min() == pytest.approx(31.5)


def test_features_to_a_file_neither_parquet_nor_csv_is_refused_before_any_work(tmp_path, rng, capsys):
    path = tmp_path / "a.mrc"
    write_mrc(path, rng.normal(size=(128, 128)).astype(np.float32), pixel_size_A=1.5)
    out = tmp_path / "features.xlsx"
    assert main(["features", str(path), "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"ERROR: {out}: the output must end in .parquet or .csv"
    assert not out.exists()


def test_features_to_parquet_without_pyarrow_is_refused_before_any_work(tmp_path, rng, capsys, monkeypatch):
    # pyarrow is an extra (icestat[parquet]): without it, pandas failed only when the whole table was computed.
    path = tmp_path / "a.mrc"
    write_mrc(path, rng.normal(size=(128, 128)).astype(np.float32), pixel_size_A=7.0)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "pyarrow" else find_spec(name, *args))
    out = tmp_path / "features.parquet"
    assert main(["features", str(path), "-o", str(out)]) == 2
    assert capsys.readouterr().err == (f'ERROR: {out}: writing Parquet needs pyarrow (pip install "icestat[parquet]"); '
                                       "or write a .csv\n")
    assert not out.exists()


@pytest.mark.parametrize("argument, value, problem", [
    ("--bin", "-1", "must be a positive number, got -1"),   # had enlarged each micrograph twice, silently
    ("--working-pixel-size-A", "0", "must be a positive number, got 0"),
    ("--patch-px", "2", "must be at least 4, got 2"),   # had failed each micrograph alike
    ("--stride-px", "0", "must be at least 1, got 0"),
])
def test_features_refuses_a_binning_or_patches_out_of_range_before_any_micrograph(tmp_path, rng, capsys, argument,
                                                                                 value, problem):
    path = tmp_path / "a.mrc"
    write_mrc(path, rng.normal(size=(128, 128)).astype(np.float32), pixel_size_A=1.5)
    with pytest.raises(SystemExit) as refused:
        main(["features", str(path), "-o", str(tmp_path / "f.csv"), argument, value])
    assert refused.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"argument {argument}: {problem}")
    assert not (tmp_path / "f.csv").exists()


def test_features_on_a_cuda_device_without_one_says_so_in_one_line(tmp_path, rng, capsys):
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here: the error this test checks cannot happen")
    path = tmp_path / "a.mrc"
    write_mrc(path, rng.normal(size=(128, 128)).astype(np.float32), pixel_size_A=1.5)
    assert main(["features", str(path), "-o", str(tmp_path / "f.csv"), "--device", "cuda"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "ERROR: --device cuda: the CUDA device needs CuPy: pip install 'icestat[gpu]'"
    assert not (tmp_path / "f.csv").exists()


@pytest.mark.parametrize("command", ["pick {mic} -o {out}", "segment {mic} -o {out}", "demo -o {out}",
                                     "simulate -o {out}/sim --n 1", "features {mic} -o {out}/table.csv",
                                     "train {manifest} -o {out}/model.icestat",
                                     "evaluate {picks} --truth {picks} -o {out}/scores.csv",
                                     "relion --o {out} --in_mics {mic}"])
def test_an_output_that_cannot_be_written_is_refused_in_one_line_before_any_work(tmp_path, rng, capsys, command):
    # A file where the output folder (or the output file's folder) should be: said at once, not after the work
    # (a table of features or a trained model was computed, then lost to a traceback).
    write_mrc(tmp_path / "mic.mrc", rng.normal(size=(128, 128)).astype(np.float32), pixel_size_A=7.0)
    (tmp_path / "manifest.csv").write_text("micrograph,particle_mask\nmic.mrc,mic.mrc\n")
    (tmp_path / "picks.csv").write_text("x_px,y_px\n10,20\n")
    in_the_way = tmp_path / "a_file"
    in_the_way.write_text("not a folder")
    argv = command.format(mic=tmp_path / "mic.mrc", manifest=tmp_path / "manifest.csv", picks=tmp_path / "picks.csv",
                          out=in_the_way).split()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ERROR: {in_the_way}") and "cannot be the output folder" in err and err.count("\n") == 1
    assert in_the_way.read_text() == "not a folder"


def test_an_output_file_that_is_a_folder_is_refused_before_any_work(tmp_path, rng, capsys):
    write_mrc(tmp_path / "mic.mrc", rng.normal(size=(128, 128)).astype(np.float32), pixel_size_A=7.0)
    (tmp_path / "table.csv").mkdir()
    assert main(["features", str(tmp_path / "mic.mrc"), "-o", str(tmp_path / "table.csv")]) == 2
    assert capsys.readouterr().err == f"ERROR: {tmp_path / 'table.csv'}: is a folder; give the file to write\n"
