"""Targets, adaptation, the classifier, the refiner, the model file and segment(), on small simulations."""

import warnings
import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage
from scipy.interpolate import RegularGridInterpolator

from icestat.adapt import ICE_MODEL_FEATURES, adapt_features, majority_distance, normalise_to_majority
from icestat.classes import CARBON, CLASS_NAMES, ICE, IGNORE, NO_DATA, PARTICLE
from icestat.classify import IceClassifier, xgboost_device
from icestat.examples import examples_from_simulation, make_example
from icestat.features import PatchGrid, compute_features
from icestat.manifest import LabelledMicrograph
from icestat.micrograph import Micrograph
from icestat.model import FORMAT_VERSION, ModelError, load_model
from icestat.refine import BoundaryRefiner, RefinerNet, _random_crop, fold_batch_norms, shown_otherwise
from icestat.prepare import WorkingImage
from icestat.segment import OPAQUE_FILM_SPREAD, normalised_to_hole, segment
from icestat.settings import SegmentationSettings
from icestat.simulate import SimulationParams, simulate_micrograph
from icestat.targets import patch_fractions, pixel_classes, working_classes
from icestat.training import evaluate_model, set_aside_unlabelled_non_ice, train_model

SETTINGS = SegmentationSettings()
SMALL = dict(shape_px=(512, 512), pixel_size_A=3.5, n_particles=30, particle_diameter_A=150.0)


def _simulations(seeds, carbon_fraction=0.35):
    return [simulate_micrograph(SimulationParams(**SMALL, carbon_fraction=carbon_fraction), seed) for seed in seeds]


@pytest.fixture(scope="module")
def trained():
    """A small model trained end to end on four simulated micrographs with carbon."""
    examples = examples_from_simulation(_simulations([11, 12, 13, 14]), SETTINGS)
    model = train_model(examples, SETTINGS, IceClassifier(n_estimators=40, n_jobs=2),
                        BoundaryRefiner(n_steps=30, crop_px=64, batch_size=4, n_networks=2), n_folds=2)
    return model, examples


def test_patch_fractions_match_counting_each_patch(rng):
    codes = rng.choice([0, 1, 2, 3, IGNORE], size=(40, 50), p=[0.4, 0.2, 0.2, 0.1, 0.1]).astype(np.uint8)
    grid = PatchGrid(codes.shape, 16, 8)
    fractions, labelled = patch_fractions(codes, grid)
    for i, top in enumerate(grid.row_starts):
        for j, left in enumerate(grid.col_starts):
            patch = codes[top:top + 16, left:left + 16]
            kept = patch[patch != IGNORE]
            assert labelled[i, j] == pytest.approx(kept.size / 256)
            expected = [np.mean(kept == code) for code in range(4)]
            np.testing.assert_allclose(fractions[i, j], expected, atol=1e-6)


def test_pixel_classes_from_coordinates_draws_disks():
    micrograph = Micrograph(np.arange(64 * 64, dtype=np.float32).reshape(64, 64), 1.0, "m")
    picks = pd.DataFrame({"x_px": [20.0], "y_px": [30.0], "score": [1.0], "diameter_px": [np.nan]})
    codes = pixel_classes(LabelledMicrograph(micrograph, picks=picks, particle_diameter_px=10.0))
    assert codes[30, 20] == PARTICLE and codes[30, 26] == ICE
    assert abs(np.count_nonzero(codes == PARTICLE) - np.pi * 25) < 12
    # the background counts as ice only near a particle (within a diameter); far away it is unknown
    assert codes[30, 34] == ICE and codes[30, 38] == IGNORE and codes[0, 63] == IGNORE


def test_particle_masks_teach_ice_only_near_particles():
    particles = np.zeros((200, 300), dtype=bool)
    particles[90:110, 40:60] = True  # one 20-px particle
    micrograph = Micrograph(np.random.default_rng(0).normal(size=(200, 300)).astype(np.float32), 1.0, "m")
    codes = pixel_classes(LabelledMicrograph(micrograph, particle_mask=particles))  # diameter from the blob
    assert (codes[particles] == PARTICLE).all()
    assert codes[100, 75] == ICE and codes[100, 95] == IGNORE and codes[10, 250] == IGNORE
    assert (codes[~particles] != PARTICLE).all()
    with pytest.raises(ValueError, match="no labels"):
        pixel_classes(LabelledMicrograph(micrograph))


def test_normalisation_removes_grey_level_and_contrast(rng):
    values = rng.normal(size=(20, 30, 3))
    scaled = 7.0 * values + 100.0  # another detector's grey levels
    np.testing.assert_allclose(normalise_to_majority(values), normalise_to_majority(scaled), atol=1e-4)
    constant = normalise_to_majority(np.ones((4, 4, 1)))
    assert np.all(constant == 0)


def test_normalisation_ignores_missing_values(rng):
    values = rng.normal(size=(20, 30, 4))
    values[:5, :, 1] = np.nan            # some patches without the feature
    values[..., 2] = np.nan              # a feature no patch has (the iciness of a coarse pixel size)
    values[3, 4, 3] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # none raised, so none to silence with Python's filters, which are global
        z = normalise_to_majority(values)
        assert (normalise_to_majority(values, np.zeros((20, 30), dtype=bool)) == 0).all()   # no reference patch
    flat = np.where(np.isfinite(values), values, np.nan).reshape(-1, 4)
    median = np.array([np.median(flat[:, 0]), np.median(flat[150:, 1]), np.nan, np.median(flat[np.isfinite(flat[:, 3]), 3])])
    spread = 1.4826 * np.array([np.median(np.abs(column[np.isfinite(column)] - m)) if np.isfinite(m) else np.nan
                                for column, m in zip(flat.T, median)])
    expected = ((flat - median) / spread).reshape(values.shape)
    np.testing.assert_allclose(z[..., [0, 1, 3]][np.isfinite(values[..., [0, 1, 3]])],
                               expected[..., [0, 1, 3]][np.isfinite(values[..., [0, 1, 3]])], rtol=1e-5)
    assert (z[..., 2] == 0).all() and (z[:5, :, 1] == 0).all() and z[3, 4, 3] == 0


def test_majority_distance_flags_the_minority(rng):
    majority = rng.normal(size=(900, 4))
    minority = rng.normal(loc=6.0, size=(100, 4))
    distance = majority_distance(np.vstack([majority, minority]))
    assert np.median(distance[:900]) < 1.2
    assert np.mean(distance[900:] > distance[:900].max() * 0.5) > 0.9


def test_a_reference_minority_becomes_what_the_features_are_relative_to(rng):
    # a micrograph mostly of film: the hole (the minority, told as the reference) is what is normal, the film not
    film = rng.normal(loc=6.0, size=(900, 4))
    hole = rng.normal(size=(100, 4))
    points = np.vstack([film, hole])
    reference = np.arange(1000) >= 900
    z = normalise_to_majority(points.reshape(25, 40, 4), reference.reshape(25, 40)).reshape(1000, 4)
    np.testing.assert_allclose(np.median(z[900:], axis=0), 0.0, atol=1e-6)
    assert np.median(z[:900]) > 4
    distance = majority_distance(points, reference=reference)
    assert np.median(distance[900:]) < 1.5
    assert np.mean(distance[:900] > distance[900:].max() * 0.5) > 0.9
    np.testing.assert_array_equal(majority_distance(points, reference=np.ones(1000, dtype=bool)),
                                  majority_distance(points))


def test_adapted_features_are_unchanged_by_a_linear_grey_scale(rng):
    image = rng.normal(size=(128, 128)).astype(np.float32)
    image[:, :40] += 2 * rng.normal(size=(128, 40)).astype(np.float32)  # a rougher region
    a = adapt_features(compute_features(image, 32, 16, ["intensity", "gradient"]))
    b = adapt_features(compute_features(3 * image + 50, 32, 16, ["intensity", "gradient"]))
    assert a.names[-len(ICE_MODEL_FEATURES):] == ICE_MODEL_FEATURES
    np.testing.assert_allclose(a.values, b.values, atol=1e-3)
    rough = a["ice_model_distance_all"][:, :2].mean()
    assert rough > a["ice_model_distance_all"][:, 4:].mean()


def test_classifier_learns_fractions_and_explains_itself(rng):
    X = pd.DataFrame({"signal": rng.uniform(size=2000), "noise": rng.normal(size=2000)})
    fractions = np.zeros((2000, 4))
    fractions[:, CARBON] = X["signal"]
    fractions[:, ICE] = 1 - X["signal"]
    model = IceClassifier(n_estimators=60, class_weight=None).fit(X, fractions)
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (2000, 4)
    assert np.corrcoef(probabilities[:, CARBON], X["signal"])[0, 1] > 0.95
    assert model.importance().index[0] == "signal"
    assert model.feature_importances_.sum() == pytest.approx(1.0)
    contributions = model.explain(X.iloc[:5], class_code=CARBON)
    assert list(contributions.columns) == ["signal", "noise", "bias"]
    margins = model.booster_.predict(model._matrix(X.iloc[:5]), output_margin=True)[:, CARBON]
    np.testing.assert_allclose(contributions.sum(axis=1), margins, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="missing"):
        model.predict_proba(X[["noise"]])
    with pytest.raises(ValueError, match="class codes"):
        IceClassifier().fit(X, np.full(2000, 7))
    with pytest.raises(ValueError, match="at least one boosting round, got n_estimators=0"):   # not a flat model
        IceClassifier(n_estimators=0).fit(X, fractions)


@pytest.mark.parametrize("with_cuda, expected", [(True, "cuda:1"), (False, "cpu")])
def test_an_xgboost_without_cuda_classifies_on_the_cpu_and_says_so(monkeypatch, caplog, with_cuda, expected):
    import xgboost

    monkeypatch.setattr(xgboost, "build_info", lambda: {"USE_CUDA": with_cuda})
    assert xgboost_device("cuda:1") == expected
    assert ("built without CUDA" in caplog.text) == (not with_cuda)
    assert xgboost_device("cpu") == "cpu"


def test_refiner_starts_as_the_identity_and_is_small():
    net = RefinerNet()
    assert sum(p.numel() for p in net.parameters()) < 1_000_000
    coarse = torch.softmax(torch.randn(1, 4, 32, 40), dim=1)
    with torch.no_grad():
        out = net.eval()(torch.randn(1, 1, 32, 40), coarse).exp()
    torch.testing.assert_close(out, coarse.clamp_min(1e-4) / coarse.clamp_min(1e-4).sum(1, keepdim=True))


def test_refiner_predicts_any_image_size():
    refiner = BoundaryRefiner()
    coarse = np.full((4, 50, 37), 0.25, dtype=np.float32)
    probabilities = refiner.predict_proba(np.zeros((50, 37), np.float32), coarse)
    assert probabilities.shape == (4, 50, 37)
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, rtol=1e-5)


def test_refiner_normalises_with_statistics_of_the_data_not_of_the_last_batches(rng):
    # after a short training the first batch normalisation's running mean is the mean of its input over the
    # training images (here homogeneous, so any crop's mean is close to it), not a mean pulled towards its
    # starting value of 0 as PyTorch's running average (momentum 0.1) leaves it after few batches
    images = [(3.0 + rng.normal(size=(96, 96))).astype(np.float32) for _ in range(3)]
    coarse = [rng.dirichlet(np.ones(4), size=(96, 96)).transpose(2, 0, 1).astype(np.float32) for _ in images]
    classes = [rng.integers(0, 4, size=(96, 96)).astype(np.uint8) for _ in images]
    refiner = BoundaryRefiner(n_steps=3, crop_px=32, batch_size=2).fit(images, coarse, classes)
    first_conv, first_norm = refiner.networks[0].down1[0], refiner.networks[0].down1[1]
    with torch.no_grad():
        inputs = torch.cat([torch.from_numpy(np.stack(images))[:, None], torch.from_numpy(np.stack(coarse))], dim=1)
        data_mean = first_conv(inputs).mean(dim=(0, 2, 3))
    torch.testing.assert_close(first_norm.running_mean, data_mean, rtol=0.05, atol=0.02)


def test_predicting_first_changes_neither_predictions_nor_what_training_learns(rng):
    image = rng.normal(size=(64, 72)).astype(np.float32)
    coarse = rng.dirichlet(np.ones(4), size=(64, 72)).transpose(2, 0, 1).astype(np.float32)
    classes = rng.integers(0, 4, size=(64, 72)).astype(np.uint8)
    fresh, predicted_first = (BoundaryRefiner(n_steps=3, crop_px=32, batch_size=2) for _ in range(2))
    with torch.no_grad():   # the network as it stands, in PyTorch's default layout
        expected = fresh.networks[0].eval()(torch.from_numpy(image)[None, None], torch.from_numpy(coarse)[None]).exp()[0]
    np.testing.assert_allclose(predicted_first.predict_proba(image, coarse), expected.numpy(), atol=1e-5)
    fresh.fit([image], [coarse], [classes])
    predicted_first.fit([image], [coarse], [classes])
    for key, weights in fresh.state_dict().items():
        torch.testing.assert_close(predicted_first.state_dict()[key], weights, rtol=0, atol=0)


def test_augmented_training_crops_keep_image_coarse_and_classes_aligned(rng):
    # the image is its classes (plus a little noise), the coarse probabilities one-hot of them: every crop, flipped,
    # transposed, blurred or made noisier, must still show the same classes in all three
    classes = np.kron(rng.integers(0, 4, size=(12, 10)), np.ones((8, 8), dtype=np.int64)).astype(np.uint8)
    classes[:8, :] = 3
    image = (classes + 0.05 * rng.normal(size=classes.shape)).astype(np.float32)
    coarse = np.eye(4, dtype=np.float32)[classes].transpose(2, 0, 1)
    windows = [classes[top:top + 32, left:left + 32] for top in range(0, 96 - 31) for left in range(0, 80 - 31)]
    transposed = 0
    for _ in range(100):
        crop, crop_coarse, crop_classes = _random_crop(image, coarse, classes, 32, rng, augment=True)
        assert crop.dtype == np.float32 and crop_coarse.shape == (4, 32, 32) and crop_classes.dtype == np.int64
        np.testing.assert_array_equal(crop_coarse.argmax(axis=0), crop_classes)
        assert np.corrcoef(crop.ravel(), crop_classes.ravel())[0, 1] > 0.5
        plain = [np.flip(w, axis) for w in windows for axis in ((), (0,), (1,), (0, 1))]
        transposed += not any(np.array_equal(crop_classes, w) for w in plain)
    assert 30 < transposed < 70   # half the crops are transposed (a few look the same either way)
    crop, _, _ = _random_crop(image, coarse, classes, 32, np.random.default_rng(1), augment=False)
    assert any(np.array_equal(np.rint(crop), np.flip(w, axis)) for w in windows for axis in ((), (0,), (1,), (0, 1)))


def test_crops_shown_otherwise_keep_their_level_and_spread_but_not_their_noise(rng):
    smooth = (5.0 + 2.0 * ndimage.gaussian_filter(rng.normal(size=(64, 64)), 3) / 0.1).astype(np.float32)

    def neighbour_correlation(image):
        return np.corrcoef(image[:, :-1].ravel(), image[:, 1:].ravel())[0, 1]

    unchanged, noisier = 0, 0
    for _ in range(200):
        shown = shown_otherwise(smooth, rng)
        assert shown.dtype == np.float32 and shown.shape == smooth.shape
        if shown is smooth:
            unchanged += 1
            continue
        np.testing.assert_allclose([shown.mean(), shown.std()], [smooth.mean(), smooth.std()], rtol=1e-4)
        noisier += neighbour_correlation(shown) < neighbour_correlation(smooth) - 0.05
    assert 50 < unchanged < 100   # neither blurred (3 in 4) nor made noisier (1 in 2): 75 expected
    assert noisier > 60           # noise drawn for half of them: 100 expected, some too faint to tell
    white = rng.normal(size=(64, 64)).astype(np.float32)
    blurred = [shown_otherwise(white, rng) for _ in range(200)]
    assert sum(neighbour_correlation(b) > 0.3 for b in blurred) > 20   # a quarter blurred, some noised again


def test_folded_batch_norms_give_the_same_outputs_and_follow_new_weights(rng):
    image = (2.0 + rng.normal(size=(64, 72))).astype(np.float32)
    coarse = rng.dirichlet(np.ones(4), size=(64, 72)).transpose(2, 0, 1).astype(np.float32)
    classes = rng.integers(0, 4, size=(64, 72)).astype(np.uint8)
    trained = BoundaryRefiner(n_steps=3, crop_px=32, batch_size=2).fit([image], [coarse], [classes])
    folded = fold_batch_norms(trained.networks[0])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in trained.networks[0].modules())   # the original is kept
    inputs = torch.from_numpy(image)[None, None], torch.from_numpy(coarse)[None]
    with torch.no_grad():
        torch.testing.assert_close(folded(*inputs), trained.networks[0].eval()(*inputs), rtol=1e-5, atol=1e-5)
    fresh = BoundaryRefiner()
    before = fresh.predict_proba(image, coarse)   # folds the fresh weights
    fresh.load_state_dict(trained.state_dict())
    np.testing.assert_allclose(fresh.predict_proba(image, coarse), trained.predict_proba(image, coarse), atol=1e-6)
    assert np.abs(fresh.predict_proba(image, coarse) - before).max() > 1e-3


def unet_as_drawn(net: RefinerNet, image: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
    """The reference of RefinerNet.forward: each upward level convolves the level below upsampled (nearest
    neighbour), concatenated with the skip connection."""
    x1 = net.down1(torch.cat([image, coarse], dim=1))
    x2 = net.down2(torch.nn.functional.max_pool2d(x1, 2))
    x3 = net.bottom(torch.nn.functional.max_pool2d(x2, 2))
    y2 = net.up2(torch.cat([torch.nn.functional.interpolate(x3, scale_factor=2.0), x2], dim=1))
    y1 = net.up1(torch.cat([torch.nn.functional.interpolate(y2, scale_factor=2.0), x1], dim=1))
    return torch.nn.functional.log_softmax(torch.log(coarse.clamp_min(1e-4)) + net.head(y1), dim=1)


@pytest.mark.parametrize("training", [False, True])
def test_the_network_is_the_unet_as_drawn_in_outputs_and_gradients_without_upsampled_copies(rng, training):
    torch.manual_seed(3)
    net = RefinerNet(width=8)
    for module in net.modules():   # every weight random (the head starts at zero) and the statistics of other data
        if isinstance(module, (torch.nn.Conv2d, torch.nn.BatchNorm2d)):
            torch.nn.init.normal_(module.weight, 0.0, 0.3)
            torch.nn.init.normal_(module.bias, 0.0, 0.3)
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.momentum = 0.0   # the two passes leave the statistics as they are
    net.train(training)
    image = torch.from_numpy(rng.normal(size=(2, 1, 44, 60)).astype(np.float32))
    coarse = torch.from_numpy(rng.dirichlet(np.ones(4), size=(2, 44, 60)).transpose(0, 3, 1, 2).astype(np.float32))
    target = torch.from_numpy(rng.integers(0, 4, size=(2, 44, 60)))
    results = []
    for forward in (net, lambda *inputs: unet_as_drawn(net, *inputs)):
        net.zero_grad()
        out = forward(image, coarse)
        torch.nn.functional.nll_loss(out, target).backward()
        results.append((out.detach(), {name: p.grad.clone() for name, p in net.named_parameters()}))
    (out, gradients), (drawn, drawn_gradients) = results
    assert drawn.std() > 0.5   # the body's part is not drowned by the coarse input's
    torch.testing.assert_close(out, drawn, rtol=1e-5, atol=1e-4)
    for name, gradient in gradients.items():
        torch.testing.assert_close(gradient, drawn_gradients[name], rtol=1e-4, atol=1e-5, msg=name)
    if not training:   # and as prediction runs it: folded, channels-last
        folded = fold_batch_norms(net).to(memory_format=torch.channels_last)
        with torch.no_grad():
            torch.testing.assert_close(folded(*(t.to(memory_format=torch.channels_last) for t in (image, coarse))),
                                       drawn, rtol=1e-5, atol=1e-4)


def test_several_networks_are_trained_apart_and_their_probabilities_averaged(rng, tmp_path):
    # two networks from seeds 5 and 6 are the refiners of one network from each seed, and predict their mean
    image = (2.0 + rng.normal(size=(64, 72))).astype(np.float32)
    coarse = rng.dirichlet(np.ones(4), size=(64, 72)).transpose(2, 0, 1).astype(np.float32)
    classes = rng.integers(0, 4, size=(64, 72)).astype(np.uint8)
    params = dict(n_steps=3, crop_px=32, batch_size=2)
    pair = BoundaryRefiner(**params, random_state=5, n_networks=2).fit([image], [coarse], [classes])
    singles = [BoundaryRefiner(**params, random_state=seed).fit([image], [coarse], [classes]) for seed in (5, 6)]
    each = [single.predict_proba(image, coarse) for single in singles]
    assert np.abs(each[0] - each[1]).max() > 1e-3   # the seeds differ, so the mean is not either one
    np.testing.assert_allclose(pair.predict_proba(image, coarse), (each[0] + each[1]) / 2, atol=1e-6)
    assert pair.n_parameters == 2 * singles[0].n_parameters
    reloaded = BoundaryRefiner(n_networks=2).load_state_dict(pair.state_dict())
    np.testing.assert_allclose(reloaded.predict_proba(image, coarse), pair.predict_proba(image, coarse), atol=1e-6)
    # one network's weights as icestat saved them before a refiner could hold several: keys without "0."
    old_style = {key.removeprefix("0."): value for key, value in singles[1].state_dict().items()}
    np.testing.assert_allclose(BoundaryRefiner().load_state_dict(old_style).predict_proba(image, coarse), each[1],
                               atol=1e-6)
    with pytest.raises(ValueError, match="at least one network"):
        BoundaryRefiner(n_networks=0)
    with pytest.raises(ValueError, match="at least one training step, got n_steps=-1"):   # not an untrained one
        BoundaryRefiner(n_steps=-1)


def test_trained_model_separates_carbon_from_ice(trained):
    model, _ = trained
    fresh = examples_from_simulation(_simulations([101, 102]), SETTINGS)
    scores = evaluate_model(model, fresh)
    assert scores["carbon_iou"] > 0.6
    assert scores["ice_iou"] > 0.6


def test_carbon_hidden_in_a_particle_labelled_background_is_set_aside(trained):
    _, complete = trained
    # another carbon micrograph whose labels, like a particle mask's, call everything but particles ice
    item = _simulations([21])[0]
    truth = item.labels.copy()
    labels = np.where(truth == PARTICLE, PARTICLE, ICE).astype(np.uint8)
    partial = examples_from_simulation([item], SETTINGS)[0]
    partial = replace(partial, complete=False).with_classes(working_classes(labels, partial.working.data.shape))
    cleaned = set_aside_unlabelled_non_ice(complete + [partial], IceClassifier(n_estimators=40, n_jobs=2))
    assert cleaned[:len(complete)] == complete  # complete examples are left as they are
    codes, carbon = cleaned[-1].classes, working_classes(truth, partial.working.data.shape) == CARBON
    assert (codes[carbon] == IGNORE).mean() > 0.8     # the hidden carbon is no longer taught as ice
    assert (codes[~carbon] == IGNORE).mean() < 0.2    # most of the ice still is
    assert (codes == PARTICLE).sum() == (partial.classes == PARTICLE).sum()


def test_segment_returns_maps_at_the_micrograph_size(trained):
    model, _ = trained
    simulated = _simulations([103])[0]
    micrograph = Micrograph(simulated.image, 3.5, "fresh")
    result = segment(micrograph, model)
    assert result.labels.shape == micrograph.shape and result.labels.dtype == np.int8
    assert result.ice_probability.shape == micrograph.shape
    assert 0 <= result.ice_probability.min() and result.ice_probability.max() <= 1
    carbon = simulated.labels == CARBON
    assert np.mean(result.labels[carbon] == CARBON) > 0.7
    assert np.mean(result.labels[simulated.labels == ICE] == CARBON) < 0.1
    fractions = result.class_fractions()
    assert sum(fractions.values()) == pytest.approx(1.0)
    for code, name in CLASS_NAMES.items():   # counted on the working image, as on the labels at the micrograph's size
        assert fractions[name] == pytest.approx(np.mean(result.labels == code), abs=0.005), name


def test_the_patch_particle_probability_is_the_patches_interpolated_to_the_working_pixels(trained):
    model, _ = trained
    micrograph = Micrograph(_simulations([104])[0].image, 3.5, "fresh")
    result = segment(micrograph, model)
    per_patch, grid = result.patch_probabilities[..., PARTICLE], result.features.grid
    centre_rows, centre_cols = grid.centres_px()
    reference = RegularGridInterpolator((centre_rows[:, 0], centre_cols[0]), per_patch)   # bilinear, clamped
    rows, cols = np.mgrid[:grid.image_shape[0], :grid.image_shape[1]]
    clamped = np.stack([np.clip(rows, centre_rows.min(), centre_rows.max()),
                        np.clip(cols, centre_cols.min(), centre_cols.max())], axis=-1)
    np.testing.assert_allclose(result.patch_particle_probability, reference(clamped), atol=1e-5)
    unrefined = segment(micrograph, model.with_carbon_regions(False), refine=False)
    np.testing.assert_allclose(unrefined.working_probabilities[PARTICLE], result.patch_particle_probability, atol=1e-5)


def test_a_frame_border_is_labelled_no_data_and_never_taught(trained):
    model, _ = trained
    simulated = _simulations([104])[0]
    striped = np.pad(simulated.image[:, 40:], ((0, 0), (40, 0)), mode="edge")   # stripes as motion correction leaves
    micrograph = Micrograph(striped, 3.5, "striped")
    result = segment(micrograph, model)
    left_px = result.working.frame_border.left_px
    assert 40 <= left_px <= 41 and result.working.frame_border[:2] == (0, 0)
    assert (result.labels[:, :left_px] == NO_DATA).all() and not (result.labels[:, left_px + 2:] == NO_DATA).any()
    assert (result.ice_probability[:, :left_px] == 0).all()
    fractions, inside = result.class_fractions(), result.labels[result.labels != NO_DATA]
    assert fractions["carbon"] == pytest.approx(np.mean(inside == CARBON), abs=0.005)   # of the pixels with data
    carbon = simulated.labels[:, left_px + 2:] == CARBON
    assert np.mean(result.labels[:, left_px + 2:][carbon] == CARBON) > 0.7
    example = make_example(micrograph, simulated.labels, SETTINGS)
    assert example.classes.shape == example.working.data.shape and not (example.classes == IGNORE).any()
    assert np.mean(example.classes == working_classes(simulated.labels[:, left_px:], example.classes.shape)) == 1.0


def test_model_file_round_trip_gives_the_same_segmentation(trained, tmp_path):
    model, examples = trained
    path = model.save(tmp_path / "small.icestat")
    loaded = load_model(path)
    assert loaded.settings == model.settings and loaded.refiner.n_networks == 2
    micrograph = Micrograph(examples[0].working.data, 7.0, "again")
    np.testing.assert_array_equal(segment(micrograph, loaded).labels, segment(micrograph, model).labels)


def test_bad_model_files_get_one_line_errors(trained, tmp_path):
    model, _ = trained
    not_zip = tmp_path / "text.icestat"
    not_zip.write_text("hello")
    with pytest.raises(ModelError, match="text.icestat: not an icestat model"):
        load_model(not_zip)
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "absent.icestat")
    other = tmp_path / "other.icestat"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("model.json", f'{{"format_version": {FORMAT_VERSION + 1}}}')
    with pytest.raises(ModelError, match="format version"):
        load_model(other)
    empty = tmp_path / "empty.icestat"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "nothing")
    with pytest.raises(ModelError, match="missing"):
        load_model(empty)
    damaged = tmp_path / "damaged.icestat"
    with zipfile.ZipFile(model.save(tmp_path / "whole.icestat")) as whole, zipfile.ZipFile(damaged, "w") as archive:
        for name in whole.namelist():
            archive.writestr(name, whole.read(name)[:100] if name == "classifier.json" else whole.read(name))
    with pytest.raises(ModelError, match="damaged.icestat: damaged model file") as info:
        load_model(damaged)
    assert "\n" not in str(info.value)
    whole = (tmp_path / "whole.icestat").read_bytes()
    with zipfile.ZipFile(tmp_path / "whole.icestat") as archive:
        weights = archive.getinfo("refiner.pt")
    for offset in range(20):   # bytes of the compressed weights changed on disk: zlib's own error, or a wrong CRC
        flipped = bytearray(whole)
        flipped[weights.header_offset + 100 + 997 * offset] ^= 0xFF
        damaged.write_bytes(bytes(flipped))
        with pytest.raises(ModelError, match="damaged.icestat: damaged model file"):
            load_model(damaged)
    damaged.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelError, match="damaged.icestat: not an icestat model .*cut short"):
        load_model(damaged)
    with pytest.raises(ModelError, match=f"{tmp_path}: cannot read the model file"):
        load_model(tmp_path)


def test_majority_distance_fitted_to_fewer_points_than_components(rng):
    # 5 reference points in 10 dimensions span 5 principal components, not N_COMPONENTS (6)
    points = rng.normal(size=(81, 10))
    reference = np.zeros(81, dtype=bool)
    reference[:5] = True
    distance = majority_distance(points, reference=reference)
    assert distance.shape == (81,) and np.isfinite(distance).all()
    assert np.median(distance[:5]) < np.median(distance[5:])


@pytest.mark.parametrize("hole_sd", [0.5 * OPAQUE_FILM_SPREAD, 2 * OPAQUE_FILM_SPREAD])
def test_the_working_image_is_normalised_to_its_hole_only_where_the_rest_is_far_flatter(rng, hole_sd):
    image = rng.normal(0.0, 1.0, (128, 128)).astype(np.float32)   # normalised to the majority: sd 1
    hole = np.zeros(image.shape, dtype=bool)
    hole[:, :40] = True
    image[hole] = rng.normal(3 * hole_sd, hole_sd, hole.sum())
    working = WorkingImage(image, 7.0, (4.0, 4.0), (512, 512))
    again = normalised_to_hole(working, hole)
    if hole_sd < OPAQUE_FILM_SPREAD:
        assert again is working
    else:
        values = again.data[hole].astype(np.float64)
        median = np.median(values)
        assert abs(median) < 0.05 and 1.4826 * np.median(np.abs(values - median)) == pytest.approx(1.0, rel=0.05)
        slope, offset = np.polyfit(image.ravel(), again.data.ravel(), 1)   # the same image, shifted and scaled
        assert slope == pytest.approx(1 / hole_sd, rel=0.05)
        np.testing.assert_allclose(again.data, slope * image + offset, atol=1e-4)
        assert (again.pixel_size_A, again.scale, again.original_shape) == (7.0, (4.0, 4.0), (512, 512))
