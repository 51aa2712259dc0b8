"""The frame border that motion correction leaves: found on padded images and real EMPIAR-10017, filled, remembered."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.io import imread

from icestat.classes import IGNORE
from icestat.frame import FrameBorder, detect_frame_border
from icestat.micrograph import Micrograph, read_micrograph
from icestat.prepare import prepare
from icestat.simulate import SimulationParams, simulate_micrograph

WIDTHS = FrameBorder(top_px=9, bottom_px=5, left_px=14, right_px=7)
FALCON = "Falcon_2012_06_12-15_27_22_0"


def _padded(image: np.ndarray, border: FrameBorder, mode: str) -> np.ndarray:
    """`image` cropped by `border` and padded back to its shape as motion correction fills the uncovered strip."""
    rows, cols = image.shape
    inside = image[border.top_px: rows - border.bottom_px, border.left_px: cols - border.right_px]
    return np.pad(inside, ((border.top_px, border.bottom_px), (border.left_px, border.right_px)), mode=mode)


@pytest.mark.parametrize("mode", ["edge", "constant"])
@pytest.mark.parametrize("blur_px", [0.0, 2.0])
def test_stripes_and_constant_fills_are_found_to_the_pixel(rng, mode, blur_px):
    noise = ndimage.gaussian_filter(rng.normal(size=(300, 260)), blur_px) if blur_px else rng.normal(size=(300, 260))
    found = np.array(detect_frame_border(_padded(noise, WIDTHS, mode)))
    assert np.all((found >= WIDTHS) & (found <= np.array(WIDTHS) + 1))   # never narrower, at most a pixel wider


def test_a_blurred_band_edge_is_left_out_with_the_band(rng):
    """Denoising blurs the inner edge of a stripe band: the border ends where the blurred stripes do."""
    noise = rng.normal(size=(300, 300))
    blurred = ndimage.gaussian_filter(_padded(noise, FrameBorder(left_px=30), "edge"), 3.0)
    border = detect_frame_border(blurred)
    assert 30 - 2 * 3 <= border.left_px <= 30 + 2 * 3 and (border.top_px, border.bottom_px, border.right_px) == (0, 0, 0)


def test_images_without_a_border_have_none(rng):
    yy, xx = np.mgrid[:256, :256]
    carbon_edge = rng.normal(size=(256, 256)) - 3.0 * (xx < 40)            # a straight dark band of carbon
    dark_blob = rng.normal(size=(256, 256)) - 5.0 * (np.hypot(yy - 128, xx - 10) < 30)
    simulated = simulate_micrograph(SimulationParams(shape_px=(256, 256), pixel_size_A=3.5, n_particles=5), 3).image
    for image in (rng.normal(size=(256, 256)), carbon_edge, dark_blob, simulated, np.zeros((256, 256))):
        assert detect_frame_border(image) == FrameBorder()


@pytest.mark.parametrize("seed", [0, 2, 4])   # the foil along the bottom, left and top edge
def test_gold_foil_along_a_holes_rim_is_no_border(seed):
    # opaque foil's few counts are as flat as a fill, but across only part of the rows and never recovering within
    # the search: cut off as a border, the rectangle took particles of the hole with it
    params = SimulationParams(shape_px=(512, 512), pixel_size_A=4.0, n_particles=20, carbon_fraction=0.3,
                              carbon_edge="curved", film_material="gold")
    assert detect_frame_border(simulate_micrograph(params, seed=seed).image) == FrameBorder()


def test_prepare_bins_only_what_lies_inside_the_border(rng):
    data = _padded(rng.normal(size=(256, 256)), WIDTHS, "constant").astype(np.float32)
    working = prepare(Micrograph(data, 1.0, "padded"), bin_factor=2)
    border = working.frame_border
    assert np.all((np.array(border) >= WIDTHS) & (np.array(border) <= np.array(WIDTHS) + 1))
    inside_rows, inside_cols = 256 - border.top_px - border.bottom_px, 256 - border.left_px - border.right_px
    assert working.data.shape == (2 * (inside_rows // 4), 2 * (inside_cols // 4))
    assert working.original_shape == (256, 256)
    # working pixel (0, 0) covers the first pixels inside the border; the last reaches its far side
    y_px, x_px = working.to_original_px([0, working.data.shape[0] - 1], [0, working.data.shape[1] - 1])
    assert y_px[0] == pytest.approx(border.top_px + working.scale[0] / 2 - 0.5)
    assert x_px[0] == pytest.approx(border.left_px + working.scale[1] / 2 - 0.5)
    assert y_px[1] == pytest.approx(256 - border.bottom_px - working.scale[0] / 2 - 0.5)
    assert x_px[1] == pytest.approx(256 - border.right_px - working.scale[1] / 2 - 0.5)
    assert np.abs(working.data).max() < 8          # no stripes or constant fill left to normalise


@pytest.mark.shared_data
def test_the_real_stripe_border_lies_in_the_frame_the_labeller_left_out(shared_data):
    folder = shared_data / "empiar-10017"
    micrograph = read_micrograph(folder / "micrographs" / f"{FALCON}.jpg", pixel_size_A=1.77)
    regions = imread(folder / "regions" / f"{FALCON}.png")
    border = detect_frame_border(micrograph.data)
    assert min(border) >= 40                                 # every edge of these micrographs has stripes
    outside = np.ones(regions.shape, dtype=bool)
    outside[border.inside(regions.shape)] = False
    assert np.mean(regions[outside] == IGNORE) > 0.99
