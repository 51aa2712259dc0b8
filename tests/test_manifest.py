"""Labelled sets: the manifest format and the loader's alignment of labels, on files made here."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from icestat import write_mrc
from icestat.classes import CARBON, CONTAMINATION, ICE, PARTICLE
from icestat.coords import pick_table, write_picks
from icestat.manifest import iter_labelled, read_manifest, resize_labels
from icestat.micrograph import PixelSizeWarning


@pytest.fixture
def labelled_folder(tmp_path, rng):
    """A folder with two micrographs, half-size masks, a float map and a combined STAR file."""
    for name in ("mic_a", "mic_b"):
        write_mrc(tmp_path / f"{name}.mrc", rng.normal(size=(128, 160)).astype(np.float32), pixel_size_A=1.1)
    regions = np.full((64, 80), ICE, dtype=np.uint8)
    regions[:, :20] = CARBON
    regions[30:34, 40:44] = PARTICLE
    iio.imwrite(tmp_path / "mic_a_regions.png", regions)
    mask = np.zeros((64, 80), dtype=np.uint8)
    mask[10:20, 10:20] = 255
    iio.imwrite(tmp_path / "mic_a_mask.png", mask)
    probability = np.zeros((128, 160), dtype=np.float32)
    probability[:40, :40] = 0.9
    probability[100:, 100:] = 0.3
    write_mrc(tmp_path / "mic_b_contamination.mrc", probability)
    picks = pick_table([10.0, 20.0, 30.0], [5.0, 6.0, 7.0], score=1.0, micrograph=["mic_a", "mic_b", "mic_b"])
    write_picks(picks, tmp_path / "particles.star")
    (tmp_path / "manifest.csv").write_text(
        "dataset,micrograph,regions,particle_mask,coords,pixel_size_A,particle_diameter_px,note\n"
        "toy,mic_a.mrc,mic_a_regions.png,mic_a_mask.png,particles.star,1.25,12,first\n"
        "toy,mic_b.mrc,mic_b_contamination.mrc,,particles.star,,,second\n"
    )
    return tmp_path


def test_manifest_paths_are_resolved_against_its_folder(labelled_folder):
    manifest = read_manifest(labelled_folder / "manifest.csv")
    assert manifest.loc[0, "micrograph"] == str(labelled_folder.resolve() / "mic_a.mrc")
    assert manifest.loc[1, "particle_mask"] is None
    assert manifest.loc[0, "pixel_size_A"] == 1.25
    assert np.isnan(manifest.loc[1, "particle_diameter_px"])
    assert manifest["note"].tolist() == ["first", "second"]  # other columns are kept


def test_loader_aligns_every_label_with_the_micrograph(labelled_folder):
    first, second = iter_labelled(labelled_folder / "manifest.csv")

    assert first.micrograph.pixel_size_A == 1.25  # the manifest overrides the header's 1.1
    assert first.regions.shape == first.particle_mask.shape == first.micrograph.shape == (128, 160)
    assert np.mean(first.regions == CARBON) == pytest.approx(0.25)
    assert np.count_nonzero(first.regions == PARTICLE) == 8 * 8  # 4x4 doubled in each direction
    assert first.particle_mask[20:40, 20:40].all() and first.particle_mask.sum() == 400
    assert first.picks["x_px"].tolist() == [10.0]  # only this micrograph's picks
    assert first.picks["diameter_px"].tolist() == [12.0]  # filled from the manifest

    assert second.micrograph.pixel_size_A == pytest.approx(1.1)
    assert second.particle_mask is None and second.particle_diameter_px is None
    assert np.count_nonzero(second.regions == CONTAMINATION) == 40 * 40  # 0.9 counts, 0.3 does not
    assert len(second.picks) == 2


def test_coordinates_of_other_micrographs_only_are_reported(labelled_folder, caplog):
    write_picks(pick_table([10.0, 20.0], [5.0, 6.0], micrograph=["mic_c", "mic_d"]), labelled_folder / "other.star")
    (labelled_folder / "manifest.csv").write_text("micrograph,coords,particle_diameter_px\nmic_a.mrc,other.star,12\n")
    (item,) = iter_labelled(labelled_folder / "manifest.csv")
    assert len(item.picks) == 0
    (message,) = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert "other.star" in message and "mic_a" in message and "mic_c, mic_d" in message


def test_dataset_filter(labelled_folder):
    manifest = read_manifest(labelled_folder / "manifest.csv")
    assert list(iter_labelled(manifest, datasets=["other"])) == []


def test_manifest_without_micrograph_column(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("image,regions\na.mrc,\n")
    with pytest.raises(ValueError, match="needs a 'micrograph' column"):
        read_manifest(path)


def test_manifest_with_a_non_number(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("micrograph,pixel_size_A\na.mrc,about one\n")
    with pytest.raises(ValueError, match="pixel_size_A must hold numbers"):
        read_manifest(path)


def test_manifest_rows_without_a_micrograph_are_named_by_their_line(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("micrograph,pixel_size_A\na.mrc,1.0\n,1.0\nb.mrc,1.0\n  ,1.0\n")
    with pytest.raises(ValueError, match=r"manifest.csv: rows 3, 5 have no micrograph$"):
        read_manifest(path)
    path.write_text("micrograph,pixel_size_A\na.mrc,1.0\n,1.0\n")
    with pytest.raises(ValueError, match=r"manifest.csv: row 3 has no micrograph$"):
        read_manifest(path)


@pytest.mark.parametrize("content", [b"micrograph\n\xffa.mrc\n", b"", b'micrograph,dataset\n"a.mrc,x\n'])
def test_a_manifest_that_is_no_csv_text_is_refused_naming_it(tmp_path, content):
    path = tmp_path / "manifest.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"manifest.csv: not a readable CSV manifest \(") as info:
        read_manifest(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_unknown_class_codes_are_refused(labelled_folder):
    iio.imwrite(labelled_folder / "mic_a_regions.png", np.full((64, 80), 7, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"unknown class codes \[7\]"):
        next(iter_labelled(labelled_folder / "manifest.csv"))


@pytest.mark.parametrize("name", ["mic_a_regions.png", "mic_a_mask.png"])
def test_labels_of_another_aspect_ratio_are_refused_naming_both_shapes(labelled_folder, name):
    # the micrograph is 160x128 px; its masks half that. Binned otherwise, or to within a pixel's rounding: taken
    for shape in ((32, 40), (43, 53), (65, 80), (640, 800)):
        iio.imwrite(labelled_folder / name, np.zeros(shape, dtype=np.uint8))
        assert next(iter_labelled(labelled_folder / "manifest.csv")).micrograph.shape == (128, 160)
    for shape in ((64, 64), (80, 64), (64, 90)):   # another micrograph's, or cropped
        iio.imwrite(labelled_folder / name, np.zeros(shape, dtype=np.uint8))
        with pytest.raises(ValueError) as info:
            next(iter_labelled(labelled_folder / "manifest.csv"))
        assert str(info.value) == (f"{labelled_folder / name}: {shape[1]}x{shape[0]} px, not the field of the "
                                   "160x128 px micrograph at any sampling (another aspect ratio)")


def test_resize_labels_is_nearest_neighbour():
    labels = np.array([[0, 3], [2, 255]], dtype=np.uint8)
    big = resize_labels(labels, (6, 6))
    assert big.dtype == np.uint8
    assert set(np.unique(big).tolist()) == {0, 2, 3, 255}
    np.testing.assert_array_equal(big[:3, :3], 0)
    np.testing.assert_array_equal(big[3:, 3:], 255)


def test_a_micrograph_without_a_pixel_size_is_told_to_get_one_in_the_manifest(tmp_path, rng):
    iio.imwrite(tmp_path / "mic.png", rng.integers(0, 255, size=(96, 96), dtype=np.uint8))
    (tmp_path / "manifest.csv").write_text("dataset,micrograph,pixel_size_A\ntoy,mic.png,\n")
    with pytest.warns(PixelSizeWarning) as caught:
        (item,) = iter_labelled(tmp_path / "manifest.csv")
    assert item.micrograph.pixel_size_A is None
    assert [str(w.message) for w in caught] == [
        f"{tmp_path.resolve() / 'mic.png'}: the file gives no pixel size; pass the right one in the manifest's "
        "pixel_size_A column"]
