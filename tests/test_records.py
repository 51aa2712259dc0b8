"""The records :mod:`icestat.records` keeps of each micrograph picked, and the candidates they give back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from icestat.coords import pick_table
from icestat.records import (OVERLAY_LABELS, UNDER_THRESHOLD, overlay_labels, read_record, record_file,
                             recorded_candidates, with_recorded_diameters, write_record)


def test_a_record_gives_back_its_candidates_under_the_threshold_to_six_decimals_named_as_asked(tmp_path):
    under = pick_table([10.1234567, 20.0], [30.0, 40.9876543], score=[0.2999999, 0.05], diameter_px=12.0)
    write_record(tmp_path, "/data/mics/mic_1.mrc", {"threshold": 0.3}, ["x"], {"diameter_px": 64.0, "n_picks": 2}, under)
    assert read_record(tmp_path, "mic_1")["micrograph"] == "/data/mics/mic_1.mrc"
    # as an autopick.star index names the micrograph, or a coordinate file implies it; its 2 picks as recorded
    for name in ("/data/mics/mic_1.mrc", "mic_1"):
        picks = pick_table([1.0, 2.0], [1.0, 2.0], score=[0.9, 0.8], micrograph=name)
        found = recorded_candidates(tmp_path, picks, [name, "never_picked"])
        assert found["micrograph"].tolist() == [name, name]
        np.testing.assert_array_equal(found[["x_px", "y_px", "score"]].to_numpy(),
                                      [[10.123457, 30.0, 0.3], [20.0, 40.987654, 0.05]])
        assert (found["diameter_px"] == 64.0).all()   # the diameter it was picked with, from its summary row
    # picks that are not the record's (a file of another run copied here): nothing added
    assert recorded_candidates(tmp_path, picks.iloc[:1], ["mic_1"]).empty


def test_a_record_gives_the_diameter_to_its_own_picks_that_know_none(tmp_path):
    write_record(tmp_path, "/data/mic_1.mrc", {}, [], {"diameter_px": 64.0, "n_picks": 2}, None)
    write_record(tmp_path, "/data/mic_2.mrc", {}, [], {"diameter_px": 50.0, "n_picks": 5}, None)   # not these picks'
    picks = pd.concat([pick_table([1.0, 2.0], [1.0, 2.0], micrograph="/data/mic_1.mrc"),
                       pick_table([3.0], [3.0], micrograph="mic_2"),
                       pick_table([4.0], [4.0], diameter_px=30.0, micrograph="mic_3")], ignore_index=True)
    filled = with_recorded_diameters(tmp_path, picks)
    np.testing.assert_array_equal(filled["diameter_px"], [64.0, 64.0, np.nan, 30.0])
    assert picks["diameter_px"].isna().sum() == 3   # the picks given are left as they were
    known = pick_table([1.0, 2.0], [1.0, 2.0], diameter_px=40.0, micrograph="mic_1")   # a file that gives its own
    assert (with_recorded_diameters(tmp_path, known)["diameter_px"] == 40.0).all()


def test_records_without_candidates_or_not_icestat_s_give_none(tmp_path):
    write_record(tmp_path, "kept_none.mrc", {}, [], {"diameter_px": 64.0, "n_picks": 0}, None)   # an older icestat's
    assert UNDER_THRESHOLD not in json.loads(record_file(tmp_path, "kept_none").read_text())
    record_file(tmp_path, "damaged").write_text("{not json")
    record_file(tmp_path, "other").write_text(json.dumps({"row": {}, UNDER_THRESHOLD: {"x_px": [1.0]}}))
    write_record(tmp_path, "empty.mrc", {}, [], {"diameter_px": 64.0, "n_picks": 0}, pick_table([], []))
    names = ["kept_none", "damaged", "other", "empty", "missing"]
    found = recorded_candidates(tmp_path, pick_table([], [], micrograph=[]), names)
    assert found.empty and isinstance(found, pd.DataFrame) and "micrograph" in found.columns
    record_file(tmp_path, "listed").write_text("[1, 2]")   # JSON, but no record
    write_record(tmp_path, "unknown.mrc", {}, [], {"diameter_px": None, "n_picks": 1}, None)
    picks = pick_table([1.0, 2.0, 3.0, 4.0], [1.0] * 4, micrograph=["damaged", "other", "listed", "unknown"])
    assert with_recorded_diameters(tmp_path, picks)["diameter_px"].isna().all()


def test_a_record_gives_back_the_labels_its_overlay_shows_and_refuses_damaged_ones(tmp_path):
    labels = np.random.default_rng(4).integers(-1, 4, size=(300, 200)).astype(np.int8)
    write_record(tmp_path, "mic_2.mrc", {}, [], {"n_picks": 0}, None, labels)
    record = read_record(tmp_path, "mic_2")
    kept = overlay_labels(record)
    assert kept.dtype == np.int8
    np.testing.assert_array_equal(kept, labels)
    write_record(tmp_path, "mic_3.mrc", {}, [], {"n_picks": 0}, None)
    with pytest.raises(KeyError):
        overlay_labels(read_record(tmp_path, "mic_3"))
    damaged = {OVERLAY_LABELS: {**record[OVERLAY_LABELS], "codes": record[OVERLAY_LABELS]["codes"][:-8]}}
    with pytest.raises(ValueError, match="the labels of its overlay are damaged"):
        overlay_labels(damaged)
    with pytest.raises(ValueError):   # as many codes as another shape holds
        overlay_labels({OVERLAY_LABELS: {**record[OVERLAY_LABELS], "shape": [300, 201]}})
