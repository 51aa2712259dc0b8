"""The comparison of benchmarks/compare.py: its U-Net, its LoG picker, its splits and a quick run end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from baselines.cases import Split, simulated_cases, split, top_left  # noqa: E402
from baselines.log_picker import log_pick  # noqa: E402
from baselines.measure import measured  # noqa: E402
from baselines.unet import UNet, UNetSegmenter, _random_crop  # noqa: E402

from icestat.classes import CARBON, ICE, IGNORE  # noqa: E402
from icestat.manifest import LabelledMicrograph  # noqa: E402
from icestat.micrograph import Micrograph  # noqa: E402
from icestat.prepare import WorkingImage  # noqa: E402
from icestat.settings import SegmentationSettings  # noqa: E402


@pytest.mark.parametrize("depth", [2, 3])
def test_unet_gives_normalised_class_probabilities_of_the_input_size(depth):
    torch.manual_seed(depth)
    net = UNet(width=4, depth=depth).eval()
    with torch.no_grad():
        log_prob = net(torch.randn(2, 1, 32, 48))
    assert log_prob.shape == (2, 4, 32, 48)
    np.testing.assert_allclose(log_prob.exp().sum(dim=1).numpy(), 1.0, rtol=1e-5)


def _carbon_image(rng, size=96):
    """Ice (fine noise) with a carbon band (brighter, smoother) across a random part of the image, and its classes."""
    classes = np.full((size, size), ICE, dtype=np.uint8)
    start = rng.integers(10, size // 2)
    classes[:, start:start + size // 3] = CARBON
    image = rng.normal(0, 1, (size, size)).astype(np.float32)
    image[classes == CARBON] = 0.3 * image[classes == CARBON] + 2.0
    return image, classes


def test_unet_learns_carbon_and_keeps_its_best_validation_weights(rng):
    train = [_carbon_image(rng) for _ in range(3)]
    validation = [_carbon_image(rng)]
    train[0][1][:5] = IGNORE  # ignored pixels do not count
    segmenter = UNetSegmenter(width=4, depth=2, max_steps=60, eval_every=10, patience=3, crop_px=48, batch_size=4,
                              learning_rate=1e-2, random_state=0)
    segmenter.fit(*zip(*train), *zip(*validation))
    history = segmenter.history_
    assert history["best_step"] == 10 * (1 + int(np.argmin(history["validation_losses"])))
    assert history["steps"] <= 60
    image, classes = _carbon_image(rng)
    probabilities = segmenter.predict_proba(image[:90, :90])  # not a multiple of 4: padded, then cut back
    assert probabilities.shape == (4, 90, 90)
    predicted = probabilities.argmax(axis=0)
    truth = classes[:90, :90] == CARBON
    assert ((predicted == CARBON) & truth).sum() / ((predicted == CARBON) | truth).sum() > 0.8


def test_unet_training_crops_are_blurred_and_noisier_as_the_refiners_are(rng):
    image = (3.0 + 20.0 * ndimage.gaussian_filter(rng.normal(0, 1, (64, 64)), 4)).astype(np.float32)   # smooth
    classes = rng.integers(0, 4, (64, 64)).astype(np.uint8)
    changed = 0
    for seed in range(20):   # the same draws but for the augmentation, which comes last
        plain_image, plain_classes = _random_crop(image, classes, 32, np.random.default_rng(seed), augment=False)
        shown_image, shown_classes = _random_crop(image, classes, 32, np.random.default_rng(seed), augment=True)
        np.testing.assert_array_equal(shown_classes, plain_classes)   # the same window, turn and flip
        if not np.array_equal(shown_image, plain_image):
            changed += 1
            assert abs(np.corrcoef(shown_image.ravel(), plain_image.ravel())[0, 1]) > 0.3   # the same crop, altered
            np.testing.assert_allclose([shown_image.mean(), shown_image.std()], [plain_image.mean(), plain_image.std()],
                                       rtol=1e-4, atol=1e-4)
    assert 5 <= changed < 20   # blurred or noisier with probability 1 - 0.75 * 0.5


def test_unet_stops_when_the_validation_loss_stops_falling(rng):
    image, classes = _carbon_image(rng, 64)
    segmenter = UNetSegmenter(width=4, depth=2, max_steps=1000, eval_every=5, patience=2, crop_px=32, batch_size=2,
                              learning_rate=0.0)
    for layer in segmenter.net.modules():   # batch normalisation's running statistics kept too
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.momentum = 0.0
    segmenter.fit([image], [classes], [image], [classes])   # nothing changes: the first loss stays the best
    assert len(set(segmenter.history_["validation_losses"])) == 1
    assert segmenter.history_["best_step"] == 5
    assert segmenter.history_["steps"] == 15


def _disks(centres, radius, shape, rng, dark=True):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    image = rng.normal(0, 0.3, shape)
    for y, x in centres:
        image -= (1 if dark else -1) * (np.hypot(yy - y, xx - x) <= radius)
    return image.astype(np.float32)


@pytest.mark.parametrize("dark", [True, False])
def test_log_picker_finds_blobs_of_the_particle_size_and_skips_the_edge(rng, dark):
    centres = [(30, 30), (30, 90), (80, 55), (120, 120), (3, 70)]  # the last is within a radius of the edge
    image = _disks(centres, 8, (150, 150), rng, dark)
    working = WorkingImage(image, 2.0, (2.0, 2.0), (300, 300))  # picks are in pixels of the 2x larger original
    picks = log_pick(working, diameter_px=32.0, name="m", dark_particles=dark)
    found = np.stack([picks["y_px"], picks["x_px"]], axis=1)
    expected = (np.array(centres[:-1]) + 0.5) * 2 - 0.5
    distances = np.hypot(*(found[:4, None] - expected[None]).transpose(2, 0, 1))
    assert distances.min(axis=0).max() <= 2 * 1.5  # the four strongest answers are the four particles
    assert picks["score"].iloc[3] > picks["score"].iloc[4:].max() + 0.05  # well above the noise
    assert picks["y_px"].min() >= 16  # nothing within a radius of the edge
    assert picks["score"].between(0, 1).all() and picks["score"].is_monotonic_decreasing
    assert (picks["micrograph"] == "m").all() and (picks["diameter_px"] == 32.0).all()


def test_log_picker_of_the_wrong_polarity_finds_no_particle(rng):
    image = _disks([(40, 40), (40, 100)], 8, (140, 140), rng, dark=True)
    picks = log_pick(WorkingImage(image, 1.0, (1.0, 1.0), image.shape), diameter_px=16.0, dark_particles=False)
    centres = np.array([[40, 40], [40, 100]])
    if len(picks):
        found = np.stack([picks["y_px"], picks["x_px"]], axis=1)
        assert np.hypot(*(found[:, None] - centres[None]).transpose(2, 0, 1)).min() > 4


def test_split_is_seeded_disjoint_and_sized_by_the_fractions():
    items = list(range(16))
    first, again, other = split(items, 1), split(items, 1), split(items, 2)
    assert first == again and first != other
    assert (len(first.train), len(first.validation), len(first.test)) == (8, 2, 6)
    assert sorted(first.train + first.validation + first.test) == items
    small = split(list(range(10)), 1)
    assert (len(small.train), len(small.validation), len(small.test)) == (5, 1, 4)
    limited = split(items, 1, limit=(2, 1, 1))
    assert limited == Split(first.train[:2], first.validation[:1], first.test[:1])
    assert split(list(range(12)), None) == Split(list(range(6, 12)), [4, 5], [0, 1, 2, 3])  # in order


def test_every_part_of_the_simulated_split_has_micrographs_with_and_without_carbon():
    parts = split(simulated_cases(12, seed=0, side_px=256, settings=SegmentationSettings()), None)
    for part in (parts.train, parts.validation, parts.test):
        has_carbon = [bool((case.example.classes == CARBON).any()) for case in part]
        assert any(has_carbon)
        assert not all(has_carbon) or part is parts.validation
        assert all(case.true_centres is not None and case.diameter_px > 0 for case in part)


def test_measured_returns_the_result_time_and_peak_memory():
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("peak memory is read from /proc (Linux only)")
    result, seconds, peak_MB = measured(lambda n: float(np.ones(n).sum()), 40_000_000)  # 320 MB of float64
    assert result == 40_000_000.0
    assert seconds > 0
    assert 250 < peak_MB < 1000


@pytest.mark.shared_data
def test_quick_comparison_runs_end_to_end_and_reports_what_it_measured(shared_data, tmp_path):
    command = [sys.executable, str(BENCHMARKS / "compare.py"), "--quick", "--shared", str(shared_data),
               "--output", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = pd.read_csv(tmp_path / "compare.csv")
    datasets = ["simulated", "empiar-10017", "empiar-10028", "empiar-10059"]
    assert set(results["system"]) == {"icestat", "U-Net", "LoG"}
    for system in ("icestat", "U-Net"):
        trained = results[(results["system"] == system) & results["trained_on"].isin(datasets)]
        assert len(trained) == 16 and set(zip(trained["trained_on"], trained["tested_on"])) == {
            (a, b) for a in datasets for b in datasets}
        efficiency = results[(results["system"] == system) & (results["trained_on"] == "empiar-10017[:1]")]
        assert efficiency["n_train"].tolist() == [1]
    assert sorted(results.loc[results["system"] == "LoG", "tested_on"]) == sorted(datasets)
    assert results[["recall", "f1", "average_precision"]].stack().between(0, 1).all()
    assert (results["precision"].between(0, 1) | (results["n_picks"] == 0)).all()  # no picks: no precision
    assert (results["n_true"] > 0).all() and (results["infer_s"] > 0).all()
    # On held-out real micrographs, icestat's picks and the LoG picker's are far better than chance.
    same = results[(results["trained_on"] == results["tested_on"]) & (results["system"] == "icestat")]
    assert same.loc[same["tested_on"] != "simulated", "f1"].min() > 0.4
    report = (tmp_path / "compare.md").read_text()
    icestat_10028 = same[same["tested_on"] == "empiar-10028"].iloc[0]
    assert f"| icestat | empiar-10028 | 2 / 1 / 1 | {icestat_10028['precision']:.3f} | " in report
    assert "## Data efficiency" in report and "## Across datasets" in report
    for name in ("picking", "generalisation", "data_efficiency"):
        figure = plt.imread(tmp_path / f"compare_{name}.png")
        assert figure.ndim == 3 and min(figure.shape[:2]) > 200 and figure.std() > 0


def test_the_quick_modes_crop_keeps_each_label_on_its_pixel():
    image = np.arange(60 * 40, dtype=np.float32).reshape(60, 40)
    regions = (image % 4).astype(np.uint8)
    picks = pd.DataFrame({"y_px": [5.0, 29.0, 30.0, 10.0], "x_px": [5.0, 19.0, 5.0, 20.0]})
    item = LabelledMicrograph(Micrograph(image, 1.5, "toy"), "set", regions, regions == 1, picks, 12.0)
    corner = top_left(item, 0.5)
    assert corner.micrograph.shape == (30, 20) and corner.micrograph.pixel_size_A == 1.5
    np.testing.assert_array_equal(corner.micrograph.data, image[:30, :20])
    np.testing.assert_array_equal(corner.regions, regions[:30, :20])
    np.testing.assert_array_equal(corner.particle_mask, regions[:30, :20] == 1)
    assert corner.picks[["y_px", "x_px"]].values.tolist() == [[5.0, 5.0], [29.0, 19.0]]   # those inside only
    assert (corner.dataset, corner.particle_diameter_px) == ("set", 12.0)


def _results(system_f1: dict[str, float], n_test: int = 4) -> pd.DataFrame:
    """Results rows of compare.py: each system trained on two sets and tested on both, with the F1 given."""
    return pd.DataFrame([dict(system=system, trained_on=a, tested_on=b, n_test=n_test, f1=f1)
                         for system, f1 in system_f1.items() for a in ("x", "y") for b in ("x", "y")])


def test_one_system_rerun_alone_replaces_its_rows_in_place_and_keeps_the_others():
    from compare import with_rows_replaced

    splits = {name: Split([], [], [None] * 4) for name in ("x", "y")}
    earlier = _results({"icestat": 0.5, "U-Net": 0.6, "LoG": 0.7})
    rerun = _results({"icestat": 0.9}).iloc[::-1]   # in another order
    combined = with_rows_replaced(earlier, rerun, splits)
    key = ["system", "trained_on", "tested_on"]
    assert combined[key].equals(earlier[key])
    assert combined.groupby("system", sort=False)["f1"].unique().map(list).to_dict() == {
        "icestat": [0.9], "U-Net": [0.6], "LoG": [0.7]}
    with pytest.raises(SystemExit, match="tested on 4 x micrographs, the splits now hold 3"):
        with_rows_replaced(earlier, rerun, {"x": Split([], [], [None] * 3), "y": splits["y"]})
