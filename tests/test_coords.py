"""Pick tables: every writer round-trips through its reader, and bad tables fail clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import starfile

from icestat.coords import (
    FORMATS,
    as_pick_table,
    named_micrographs,
    pick_table,
    read_autopick_index,
    read_picks,
    write_autopick_index,
    write_picks,
)
from icestat.coords.star_file import star_text


@pytest.fixture
def picks(rng) -> pd.DataFrame:
    n = 25
    return pick_table(
        rng.uniform(50, 4000, n), rng.uniform(50, 4000, n), score=rng.uniform(0, 1, n), diameter_px=96.0
    )


def _assert_same_centres(got, expected, atol):
    np.testing.assert_allclose(got["x_px"].to_numpy(), expected["x_px"].to_numpy(), atol=atol)
    np.testing.assert_allclose(got["y_px"].to_numpy(), expected["y_px"].to_numpy(), atol=atol)


def test_star_coordinate_file_round_trip(tmp_path, picks):
    path = tmp_path / "mic_0001_autopick.star"
    write_picks(picks, path)
    block = starfile.read(path)
    assert list(block.columns) == ["rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit"]
    back = read_picks(path)
    _assert_same_centres(back, picks, atol=1e-6)
    np.testing.assert_allclose(back["score"], picks["score"], atol=1e-6)
    assert set(back["micrograph"]) == {"mic_0001"}


def test_combined_particles_star_round_trip(tmp_path, picks):
    picks["micrograph"] = np.where(np.arange(len(picks)) % 2, "MotionCorr/a.mrc", "MotionCorr/b.mrc")
    path = tmp_path / "particles.star"
    write_picks(picks, path)
    blocks = starfile.read(path, always_dict=True)
    assert list(blocks) == ["particles"]
    assert "rlnMicrographName" in blocks["particles"].columns
    back = read_picks(path)
    _assert_same_centres(back, picks, atol=1e-6)
    assert back["micrograph"].tolist() == picks["micrograph"].tolist()


def test_autopick_index_round_trip_reads_every_listed_file(tmp_path, picks):
    (tmp_path / "AutoPick").mkdir()
    halves = {"Movies/mic_a.mrc": picks.iloc[:10], "Movies/mic_b.mrc": picks.iloc[10:]}
    listing = {}
    for name, part in halves.items():
        coords = f"AutoPick/{name.split('/')[-1][:-4]}_autopick.star"
        write_picks(part, tmp_path / coords)
        listing[name] = coords
    index = tmp_path / "AutoPick" / "autopick.star"
    write_autopick_index(listing, index)

    assert list(starfile.read(index, always_dict=True)) == ["coordinate_files"]
    table = read_autopick_index(index)
    assert table["micrograph"].tolist() == list(listing)
    assert table["coordinates"].tolist() == list(listing.values())

    back = read_picks(index)  # paths in the index are relative to the project folder (the index's parent)
    _assert_same_centres(back, picks, atol=1e-6)
    assert back["micrograph"].tolist() == ["Movies/mic_a.mrc"] * 10 + ["Movies/mic_b.mrc"] * 15


# Bare, each would be read as something else: two values, a label, a new block, a comment, nothing.
ODD_NAMES = ["grid 2/mic.mrc", "_0001.mrc", "data_7.mrc", "Movies/grid#2.mrc", "#3.mrc", "LOOP_.mrc", ""]


def test_names_a_bare_star_value_would_misread_come_back_as_written(tmp_path, picks):
    picks = picks.iloc[:len(ODD_NAMES)].assign(micrograph=ODD_NAMES)
    write_picks(picks, tmp_path / "particles.star")
    assert read_picks(tmp_path / "particles.star")["micrograph"].tolist() == ODD_NAMES
    listing = {name: f"picks/{name or 'empty'}_autopick.star" for name in ODD_NAMES}
    write_autopick_index(listing, tmp_path / "autopick.star")
    table = read_autopick_index(tmp_path / "autopick.star")
    assert table["micrograph"].tolist() == ODD_NAMES and table["coordinates"].tolist() == list(listing.values())
    text = (tmp_path / "autopick.star").read_text()
    assert '"_0001.mrc"\tpicks/_0001.mrc_autopick.star' in text   # quoted only where needed, as RELION writes them
    assert star_text("mic_0001.mrc") == "mic_0001.mrc"


def test_a_bare_name_with_a_hash_is_refused_naming_its_line_not_cut_short(tmp_path):
    star = tmp_path / "particles.star"   # as RELION writes a name with '#', bare
    star.write_text("data_particles\nloop_\n_rlnMicrographName #1\n_rlnCoordinateX #2\n_rlnCoordinateY #3\n"
                    '"grid #1/a.mrc" 10 20\ngrid#2/a.mrc 30 40 # a comment\n')
    with pytest.raises(ValueError, match=r"particles.star: line 7 \(grid#2/a.mrc 30 40 # a comment\) has a '#'"):
        read_picks(star)
    star.write_text(star.read_text().replace("grid#2", "grid2"))   # a quoted '#' and a comment are read
    assert read_picks(star)["micrograph"].tolist() == ["grid #1/a.mrc", "grid2/a.mrc"]


@pytest.mark.parametrize("name", ["it's.mrc", 'say "cheese".mrc', '"q.mrc'])
def test_a_name_with_a_quote_mark_is_refused_naming_it(tmp_path, picks, name):
    with pytest.raises(ValueError, match="quote mark") as err:
        write_picks(picks.assign(micrograph=np.where(picks.index % 2, name, "b.mrc")), tmp_path / "particles.star")
    assert repr(name) in str(err.value)
    assert not (tmp_path / "particles.star").exists()


def test_named_micrographs_include_those_picked_with_no_particle(tmp_path, picks):
    # an index names every micrograph of its run, those whose coordinate file is empty too
    listing = {"Movies/mic_a.mrc": "mic_a_autopick.star", "Movies/mic_b.mrc": "mic_b_autopick.star"}
    write_picks(picks, tmp_path / "mic_a_autopick.star")
    write_picks(picks.iloc[:0], tmp_path / "mic_b_autopick.star")
    index = tmp_path / "autopick.star"
    write_autopick_index(listing, index)
    assert set(read_picks(index)["micrograph"]) == {"Movies/mic_a.mrc"}
    assert named_micrographs(index, read_picks(index)) == set(listing)
    # an empty file of one micrograph's picks names the micrograph it is named after
    empty = tmp_path / "mic_b_autopick.star"
    assert named_micrographs(empty, read_picks(empty)) == {"mic_b"}
    write_picks(picks.iloc[:0], tmp_path / "mic_c.cbox", box_size_px=64)
    assert named_micrographs(tmp_path / "mic_c.cbox", read_picks(tmp_path / "mic_c.cbox")) == {"mic_c"}
    # a combined file names the micrographs it has picks of, and only those
    combined = tmp_path / "particles.star"
    write_picks(picks.assign(micrograph=["mic_a"] * 20 + ["mic_d"] * 5), combined)
    assert named_micrographs(combined, read_picks(combined)) == {"mic_a", "mic_d"}


def test_index_naming_a_missing_file_fails_clearly(tmp_path):
    index = tmp_path / "autopick.star"
    write_autopick_index({"a.mrc": "nowhere/a_autopick.star"}, index)
    with pytest.raises(FileNotFoundError, match="nowhere/a_autopick.star not found"):
        read_picks(index)


def test_eman_box_round_trip(tmp_path, picks):
    path = tmp_path / "mic_0001.box"
    write_picks(picks, path)
    rows = np.loadtxt(path)
    assert rows.shape == (len(picks), 4)
    np.testing.assert_array_equal(rows[:, 2:], 96)
    # the file holds the lower-left corner: centre minus half the box
    np.testing.assert_allclose(rows[:, 0], picks["x_px"] - 48, atol=0.5)
    back = read_picks(path)
    _assert_same_centres(back, picks, atol=0.5)
    np.testing.assert_array_equal(back["diameter_px"], 96.0)
    assert back["score"].isna().all()
    assert set(back["micrograph"]) == {"mic_0001"}


def test_eman_box_with_explicit_box_size(tmp_path, picks):
    path = tmp_path / "mic.box"
    write_picks(picks, path, box_size_px=128)
    back = read_picks(path)
    np.testing.assert_array_equal(back["diameter_px"], 128.0)
    _assert_same_centres(back, picks, atol=0.5)


def test_cryolo_cbox_round_trip(tmp_path, picks):
    path = tmp_path / "mic_0001.cbox"
    write_picks(picks, path, box_size_px=128)
    block = starfile.read(path, always_dict=True)["cryolo"]
    assert {"CoordinateX", "CoordinateY", "Width", "Height", "EstWidth", "Confidence"} <= set(block.columns)
    np.testing.assert_allclose(block["CoordinateX"], picks["x_px"] - 64, atol=1e-5)
    back = read_picks(path)
    _assert_same_centres(back, picks, atol=1e-5)
    np.testing.assert_allclose(back["score"], picks["score"], atol=1e-6)
    np.testing.assert_array_equal(back["diameter_px"], 96.0)


def test_topaz_tsv_round_trip(tmp_path, picks):
    picks["micrograph"] = ["mic_a"] * 5 + ["mic_b"] * 20
    path = tmp_path / "picks.tsv"
    write_picks(picks, path)
    assert path.read_text().splitlines()[0].split("\t") == ["image_name", "x_coord", "y_coord", "score"]
    back = read_picks(path)
    _assert_same_centres(back, picks, atol=0.5)  # Topaz stores whole pixels
    np.testing.assert_allclose(back["score"], picks["score"], atol=1e-9)
    assert back["micrograph"].tolist() == picks["micrograph"].tolist()


def test_csv_round_trip_is_exact(tmp_path, picks):
    picks["micrograph"] = "mic_a"
    path = tmp_path / "picks.csv"
    write_picks(picks, path)
    back = read_picks(path)
    pd.testing.assert_frame_equal(back, picks)


def test_csv_without_a_micrograph_column_holds_the_picks_of_the_micrograph_it_is_named_after(tmp_path):
    path = tmp_path / "mic_007_truth.csv"
    path.write_text("x_px,y_px\n10.5,20\n30,40.25\n")
    back = read_picks(path)
    assert back["micrograph"].tolist() == ["mic_007", "mic_007"]
    assert back["x_px"].tolist() == [10.5, 30.0] and back["y_px"].tolist() == [20.0, 40.25]


def test_a_cryoppp_coordinate_file_is_read_with_its_diameter(tmp_path):
    path = tmp_path / "Falcon_2012_06_12-14_33_35_0.csv"
    path.write_text("X-Coordinate,Y-Coordinate,Diameter\n3752,693,108\n3474,182,108\n")
    back = read_picks(path)
    assert back[["x_px", "y_px", "diameter_px"]].to_numpy().tolist() == [[3752, 693, 108], [3474, 182, 108]]
    assert set(back["micrograph"]) == {"Falcon_2012_06_12-14_33_35_0"} and back["score"].isna().all()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_empty_table_round_trips_in_every_format(tmp_path, fmt):
    empty = pick_table([], [], micrograph=[])
    path = tmp_path / f"none{FORMATS[fmt]}"
    write_picks(empty, path, box_size_px=64)
    back = read_picks(path)
    assert len(back) == 0
    assert {"x_px", "y_px", "score", "diameter_px"} <= set(back.columns)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_format_can_be_named_when_the_suffix_does_not_tell(tmp_path, picks, fmt):
    picks["micrograph"] = "mic"
    path = tmp_path / "picks.dat"
    write_picks(picks, path, fmt)
    _assert_same_centres(read_picks(path, fmt), picks, atol=0.5)


class TestBadTables:
    def test_unknown_suffix(self, tmp_path, picks):
        with pytest.raises(ValueError, match="unknown pick-file suffix"):
            write_picks(picks, tmp_path / "picks.xyz")

    def test_topaz_needs_micrograph_names(self, tmp_path, picks):
        with pytest.raises(ValueError, match="needs a 'micrograph' column"):
            write_picks(picks, tmp_path / "picks.tsv")
        assert not (tmp_path / "picks.tsv").exists()

    def test_box_needs_a_size(self, tmp_path):
        with pytest.raises(ValueError, match="give box_size_px"):
            write_picks(pick_table([1.0], [2.0]), tmp_path / "mic.box")

    def test_coordinates_must_be_finite(self):
        with pytest.raises(ValueError, match="finite"):
            as_pick_table(pd.DataFrame({"x_px": [1.0, np.nan], "y_px": [2.0, 3.0]}))

    def test_coordinates_must_be_present(self):
        with pytest.raises(ValueError, match="lacks column"):
            as_pick_table(pd.DataFrame({"x": [1.0]}))

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no such pick file"):
            read_picks(tmp_path / "absent.star")

    def test_star_without_coordinates(self, tmp_path):
        path = tmp_path / "other.star"
        starfile.write(pd.DataFrame({"rlnDefocusU": [1.0]}), path)
        with pytest.raises(ValueError, match="no loop with _rlnCoordinateX"):
            read_picks(path)

    def test_not_a_topaz_table(self, tmp_path):
        path = tmp_path / "wrong.tsv"
        path.write_text("a\tb\n1\t2\n")
        with pytest.raises(ValueError, match="not a Topaz pick table"):
            read_picks(path)


@pytest.mark.parametrize("name, text, problem", [
    ("mic.box", "12 34 abc 96\n", "not an EMAN box file"),
    ("mic.box", "12 34 96\n", "EMAN box lines need 4 numbers"),
    ("mic_autopick.star", "data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1.0\n", "not a readable STAR file"),
    ("mic.cbox", "data_cryolo\nloop_\n_CoordinateX #1\n_CoordinateY #2\n1.0\n", "not a readable cbox file"),
    ("mic.cbox", "data_other\n\nloop_\n_a #1\n1\n", "no data_cryolo block"),
    ("mic.cbox", "data_cryolo\n\nloop_\n_CoordinateX #1\n_CoordinateY #2\n_Width #3\n1 2 96\n",
     "the data_cryolo block has no _Height; not a crYOLO cbox file"),
])
def test_a_damaged_pick_file_fails_in_one_line_naming_it(tmp_path, name, text, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=problem) as info:
        read_picks(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_a_folder_given_for_a_pick_file_is_refused_saying_what_to_give(tmp_path):
    with pytest.raises(ValueError, match=rf"^{tmp_path}: is a folder; give the pick files in it \(such as "):
        read_picks(tmp_path)


def test_an_empty_box_file_holds_no_picks_of_the_micrograph_it_is_named_after(tmp_path):
    path = tmp_path / "mic_0007.box"
    path.write_text("\n")
    picks = read_picks(path)
    assert picks.empty and list(picks.columns[:2]) == ["x_px", "y_px"]
    assert named_micrographs(path, picks) == {"mic_0007"}


def test_a_star_file_without_the_index_block_is_not_taken_for_an_autopick_index(tmp_path):
    path = tmp_path / "autopick.star"
    starfile.write(pd.DataFrame({"rlnMicrographName": ["a.mrc"]}), path)
    with pytest.raises(ValueError, match="no data_coordinate_files block; not an autopick index"):
        read_autopick_index(path)
