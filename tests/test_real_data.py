"""icestat on the real files in ../shared/data: MRC edge cases, every micrograph format, the manifest."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

from icestat import MicrographError, read_micrograph
from icestat.classes import CARBON, CONTAMINATION, ICE, VALID_CODES
from icestat.coords import read_picks
from icestat.manifest import iter_labelled, read_manifest

pytestmark = pytest.mark.shared_data

# Every file of mrc-edge-cases/ and what icestat must do with it: read it (shape) or refuse it (message).
EDGE_CASES = {
    "EMD-3001.map": "holds a 3D volume of 25 sections (25x43x73); icestat needs one 2D micrograph",
    "EMD-3001.map.bz2": "holds a 3D volume of 25 sections (25x43x73); icestat needs one 2D micrograph",
    "emd_3001.map.gz": "holds a 3D volume of 25 sections (25x43x73); icestat needs one 2D micrograph",
    "EMD-3197.map": "holds a 3D volume of 20 sections (20x20x20); icestat needs one 2D micrograph",
    "EMD-3197.map.bz2": "holds a 3D volume of 20 sections (20x20x20); icestat needs one 2D micrograph",
    "emd_3197.map.gz": "holds a 3D volume of 20 sections (20x20x20); icestat needs one 2D micrograph",
    "emd_3197.png.gz": "is a gzip-compressed PNG image: icestat reads compressed MRC files only, so decompress it first",
    "LICENSE_mrcfile.txt": "is a text file, not a micrograph",
    "README.txt": "is a text file, not a micrograph",
    "emd_3197.png": (500, 500),  # a grey PNG rendering: a valid image, though no MRC
}


def test_edge_case_table_covers_every_file(shared_data):
    on_disk = {p.name for p in (shared_data / "mrc-edge-cases").iterdir() if not p.name.startswith(".")}
    assert on_disk == set(EDGE_CASES)


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_each_edge_case_reads_or_fails_clearly(shared_data, name):
    path = shared_data / "mrc-edge-cases" / name
    expected = EDGE_CASES[name]
    if isinstance(expected, tuple):
        mic = read_micrograph(path, pixel_size_A=1.0)
        assert mic.shape == expected
        assert mic.data.dtype == np.float32
    else:
        with pytest.raises(MicrographError) as info:
            read_micrograph(path)
        assert str(info.value) == f"{path}: {expected}"


@pytest.mark.parametrize(
    "relative, shape, source",
    [
        ("empiar-10017/micrographs/Falcon_2012_06_12-14_57_34_0.jpg", (4096, 4096), "JPEG uint8"),
        ("empiar-10028/micrographs/311_10028.png", (1024, 1024), "PNG uint8"),
        ("empiar-10059/micrographs/stack_0251_2x_dfpt_10059.png", (1024, 1024), "PNG uint8"),
        ("raw-contamination/micrographs/Ucsf_stack_1142_DW.mrc", (927, 959), "MRC mode 2 (float32)"),
    ],
)
def test_every_real_micrograph_format_reads(shared_data, relative, shape, source):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mic = read_micrograph(shared_data / relative)
    assert mic.shape == shape
    assert mic.source == source
    assert mic.data.dtype == np.float32
    assert float(mic.data.std()) > 0
    # none of these carries a real pixel size: each must say how to give one
    assert any("--pixel-size-A" in str(w.message) for w in caught)


def test_real_relion_star_file(shared_data):
    path = shared_data / "raw-contamination/coords/Ucsf_stack_1142_DW_autopick.star"
    n_rows = sum(1 for line in path.read_text().splitlines() if line.strip() and line.split()[0][0].isdigit())
    picks = read_picks(path)
    assert len(picks) == n_rows == 45
    assert picks.loc[0, ["x_px", "y_px", "score"]].tolist() == pytest.approx([839.125024, 19.979167, 0.624705])
    assert set(picks["micrograph"]) == {"Ucsf_stack_1142_DW"}
    assert picks["x_px"].between(0, 959).all() and picks["y_px"].between(0, 927).all()


@pytest.fixture(scope="module")
def manifest(shared_data):
    return read_manifest(shared_data / "manifest.csv")


class TestSharedManifest:
    def test_rows_and_columns(self, manifest):
        assert len(manifest) == 37
        assert manifest["dataset"].value_counts().to_dict() == {
            "empiar-10017": 16, "empiar-10028": 10, "empiar-10059": 10, "raw-contamination": 1,
        }
        assert manifest["pixel_size_A"].notna().sum() == 16
        assert all(path.endswith((".jpg", ".png", ".mrc")) for path in manifest["micrograph"])

    def test_small_masks_are_resized_to_the_micrograph(self, manifest):
        row = manifest[manifest["micrograph"].str.endswith("stack_0251_2x_dfpt_10059.png")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (item,) = iter_labelled(row)
        assert item.micrograph.shape == item.particle_mask.shape == (1024, 1024)
        assert item.particle_mask.dtype == bool
        _, n_blobs = ndimage.label(item.particle_mask)
        assert n_blobs == int(row["mask_components"].iloc[0])
        assert item.particle_diameter_px == pytest.approx(36.1)

    def test_region_labels_match_the_stated_carbon_fraction(self, manifest):
        row = manifest[manifest["micrograph"].str.endswith("Falcon_2012_06_12-15_27_22_0.jpg")]
        (item,) = iter_labelled(row)
        assert item.micrograph.pixel_size_A == pytest.approx(1.77)
        assert item.regions.shape == item.micrograph.shape == item.particle_mask.shape
        assert set(np.unique(item.regions).tolist()) <= VALID_CODES
        # the manifest's fraction is over all pixels
        assert np.mean(item.regions == CARBON) == pytest.approx(float(row["carbon_fraction"].iloc[0]), abs=0.002)

    def test_probability_map_and_coordinates(self, manifest):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (item,) = iter_labelled(manifest, datasets=["raw-contamination"])
        assert item.regions.shape == item.micrograph.shape
        assert set(np.unique(item.regions).tolist()) == {ICE, CONTAMINATION}
        assert 0.05 < np.mean(item.regions == CONTAMINATION) < 0.5
        assert len(item.picks) == 45
