"""The simulator's physics: CTF zeros, the ice ring, lattice spots, dose, labels and reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from icestat.classes import CARBON, CONTAMINATION, ICE, PARTICLE
from icestat.manifest import iter_labelled
from icestat.simulate import SimulationParams, simulate_micrograph, simulate_set, write_simulation
from icestat.simulate.imaging import GOLD_FOIL_TRANSMISSION
from icestat.simulate.regions import ICE_LATTICE_SPACINGS_A
from icestat.spectrum import power_spectrum, radial_power_spectrum

SMALL = dict(shape_px=(512, 512), particle_diameter_A=80.0, n_particles=8)


def _band_power(k, power, low_A, high_A):
    inside = (k >= 1 / high_A) & (k <= 1 / low_A)
    return float(np.nanmean(power[inside]))


def _ice_ring_ratio(patch, pixel_size_A):
    """Power in the 3.5-3.9 Å band over the mean of the bands just outside it."""
    k, power = radial_power_spectrum(patch, pixel_size_A)
    ring = _band_power(k, power, 3.5, 3.9)
    return ring / (0.5 * _band_power(k, power, 3.0, 3.3) + 0.5 * _band_power(k, power, 4.2, 4.6))


def test_same_seed_same_image_other_seed_other_image():
    params = SimulationParams(**SMALL, carbon_fraction=0.2, n_contamination=1)
    first, again, other = (simulate_micrograph(params, seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.truth == again.truth
    assert not np.array_equal(first.image, other.image)


@pytest.mark.parametrize("defocus_um", [1.0, 2.0])
def test_thon_ring_zeros_are_where_the_defocus_puts_them(defocus_um):
    # carbon film gives a broad spectrum, so the CTF's zeros show as minima of the radial power spectrum
    params = SimulationParams(
        shape_px=(1024, 1024), pixel_size_A=1.5, n_particles=0, ice_thickness_A=0, carbon_fraction=0.99,
        carbon_edge="straight", defocus_range_um=(defocus_um, defocus_um), astigmatism_um=0.0,
        b_factor_A2=0.0, dose_e_per_A2=200.0,
    )
    sim = simulate_micrograph(params, seed=3)
    k, power = radial_power_spectrum(sim.image, params.pixel_size_A, n_bins=400)
    zeros = sim.ctf.zeros_1_per_A(6)
    bounds = np.concatenate([[0.5 * zeros[0]], 0.5 * (zeros[:-1] + zeros[1:])])  # between neighbouring zeros
    for n in range(5):
        window = (k > bounds[n]) & (k < bounds[n + 1])
        found = k[window][np.argmin(power[window])]
        spacing = zeros[n + 1] - zeros[n]
        assert abs(found - zeros[n]) < 0.15 * spacing, f"zero {n + 1}: found {found:.4f}, expected {zeros[n]:.4f}"


def test_ice_ring_at_3_7_A_in_ice_and_not_on_bare_carbon():
    params = SimulationParams(
        shape_px=(1024, 1024), pixel_size_A=1.0, n_particles=0, carbon_fraction=0.5, ice_on_carbon=0.0,
        carbon_edge="straight", astigmatism_um=0.0,
    )
    sim = simulate_micrograph(params, seed=5)
    ice_patch = carbon_patch = None
    for row in range(0, 1024 - 256 + 1, 64):
        for col in range(0, 1024 - 256 + 1, 64):
            window = sim.labels[row:row + 256, col:col + 256]
            if ice_patch is None and (window == ICE).all():
                ice_patch = sim.image[row:row + 256, col:col + 256]
            if carbon_patch is None and (window == CARBON).all():
                carbon_patch = sim.image[row:row + 256, col:col + 256]
    assert ice_patch is not None and carbon_patch is not None
    assert _ice_ring_ratio(ice_patch, 1.0) > 1.2
    assert _ice_ring_ratio(carbon_patch, 1.0) < 1.08


def test_no_ice_ring_where_the_pixel_cannot_resolve_it():
    params = SimulationParams(shape_px=(512, 512), pixel_size_A=1.0, n_particles=0, ice_thickness_A=0.0)
    vacuum = simulate_micrograph(params, seed=2)
    assert _ice_ring_ratio(vacuum.image, 1.0) == pytest.approx(1.0, abs=0.08)


def test_crystalline_contamination_shows_spots_at_ice_lattice_spacings():
    params = SimulationParams(
        shape_px=(512, 512), pixel_size_A=1.0, n_particles=0, n_contamination=1, crystalline_fraction=1.0,
        contamination_diameter_A=700, contamination_thickness_A=500, dose_e_per_A2=400,
    )
    sim = simulate_micrograph(params, seed=11)
    blob = sim.truth["contamination"][0]
    assert blob["crystalline"]
    inside = sim.labels == CONTAMINATION
    ys, xs = np.nonzero(inside)
    centre_y, centre_x = int(np.median(ys)), int(np.median(xs))
    half = 64
    top, left = np.clip([centre_y - half, centre_x - half], 0, 512 - 2 * half)
    patch = sim.image[top:top + 2 * half, left:left + 2 * half]
    assert inside[top:top + 2 * half, left:left + 2 * half].mean() > 0.95
    power = power_spectrum(patch * np.outer(np.hanning(2 * half), np.hanning(2 * half)))
    ky = np.fft.fftfreq(2 * half)[:, np.newaxis]
    kx = np.fft.rfftfreq(2 * half)[np.newaxis, :]
    k = np.hypot(ky, kx)  # cycles per pixel = 1/Å here
    high = k > 0.2
    strongest = np.argsort(power[high])[-6:]
    spacings = 1 / k[high][strongest]
    for spacing in spacings:
        assert min(abs(spacing - s) for s in ICE_LATTICE_SPACINGS_A) < 0.12, spacings


@pytest.mark.parametrize("pixel_size_A, dose", [(1.0, 40.0), (1.5, 25.0)])
def test_mean_count_in_vacuum_is_the_dose(pixel_size_A, dose):
    params = SimulationParams(
        shape_px=(512, 512), pixel_size_A=pixel_size_A, n_particles=0, ice_thickness_A=0.0, dose_e_per_A2=dose
    )
    image = simulate_micrograph(params, seed=1).image
    expected = dose * pixel_size_A**2
    assert image.mean() == pytest.approx(expected, rel=0.005)
    assert image.var() == pytest.approx(expected, rel=0.05)  # Poisson: variance equals mean
    assert np.array_equal(image, np.round(image)) and image.min() >= 0


def test_mean_count_through_the_specimen_follows_its_attenuation():
    params = SimulationParams(**SMALL, carbon_fraction=0.3, n_contamination=1)
    sim = simulate_micrograph(params, seed=4, keep_expected_intensity=True)
    expected = params.dose_e_per_A2 * params.pixel_size_A**2 * sim.expected_intensity.mean()
    assert sim.image.mean() == pytest.approx(expected, rel=0.01)
    # thick carbon and contamination are darker than ice
    ice_mean = sim.image[sim.labels == ICE].mean()
    assert sim.image[sim.labels == CARBON].mean() < 0.9 * ice_mean
    assert sim.image[sim.labels == CONTAMINATION].mean() < 0.8 * ice_mean


def test_gold_foil_passes_next_to_nothing_and_is_labelled_film():
    carbon, gold = (simulate_micrograph(SimulationParams(**SMALL, carbon_fraction=0.4, carbon_edge="straight",
                                                         film_material=film), seed=4, keep_expected_intensity=True)
                    for film in ("carbon", "gold"))
    np.testing.assert_array_equal(gold.labels, carbon.labels)   # the same film, labelled film
    on_film, ice = gold.labels == CARBON, gold.labels == ICE
    deep_in_film = ndimage.binary_erosion(on_film, iterations=60)   # past the edge's ramp (40 Å, 40 px)
    assert deep_in_film.sum() > 10_000
    assert gold.expected_intensity[deep_in_film].max() < 1.5 * GOLD_FOIL_TRANSMISSION   # phase contrast on top
    assert gold.image[deep_in_film].mean() < 0.01 * gold.image[ice].mean()
    assert carbon.image[deep_in_film].mean() > 0.5 * carbon.image[ice].mean()   # carbon only darker
    np.testing.assert_allclose(gold.image[ice].mean(), carbon.image[ice].mean(), rtol=0.02)   # the hole alike
    with pytest.raises(ValueError, match="film_material"):
        SimulationParams(film_material="copper")


def test_labels_agree_with_what_was_placed():
    params = SimulationParams(
        shape_px=(1024, 1024), particle_diameter_A=100.0, n_particles=25, carbon_fraction=0.25, n_contamination=1,
        max_overlap=0.1,
    )
    sim = simulate_micrograph(params, seed=9)
    picks = sim.picks
    assert len(picks) == sim.truth["n_particles_placed"] > 10
    rows, cols = picks["y_px"].round().astype(int), picks["x_px"].round().astype(int)
    assert (sim.labels[rows, cols] == PARTICLE).all()  # every centre lies on its particle
    assert np.mean(sim.labels == CARBON) + np.mean(sim.labels == CONTAMINATION) >= 0.2
    # carbon covers the asked-for fraction (contamination may cover part of it)
    assert sim.truth["carbon"]["fraction"] == pytest.approx(0.25, abs=0.01)
    # each blob of particle pixels holds at least one centre, and no particle sits on carbon
    blobs, n_blobs = ndimage.label(sim.labels == PARTICLE)
    assert set(np.unique(blobs[rows, cols])) == set(range(1, n_blobs + 1))
    # centres keep the minimum distance
    centres = picks[["x_px", "y_px"]].to_numpy()
    distances = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distances, np.inf)
    assert distances.min() >= 0.9 * 100.0
    for blob in sim.truth["contamination"]:
        assert sim.labels[int(blob["y_px"]), int(blob["x_px"])] == CONTAMINATION
    assert (picks["diameter_px"] == 100.0).all()


def test_particles_are_dark_in_underfocus():
    params = SimulationParams(**SMALL, dose_e_per_A2=400)
    sim = simulate_micrograph(params, seed=12, keep_expected_intensity=True)
    smooth = ndimage.gaussian_filter(sim.expected_intensity, 6)
    assert smooth[sim.labels == PARTICLE].mean() < smooth[sim.labels == ICE].mean()


def _band_pass_sd(image, pixel_size_A, size_A):
    """Standard deviation of the image's texture at about `size_A` (difference of Gaussians)."""
    sigma_px = size_A / 2 / pixel_size_A
    return float(np.std(ndimage.gaussian_filter(image, sigma_px) - ndimage.gaussian_filter(image, 3 * sigma_px)))


def test_debris_textures_the_ice_and_follows_its_thickness():
    base = dict(shape_px=(512, 512), pixel_size_A=2.0, n_particles=0, dose_e_per_A2=400, ice_gradient=0.0,
                ice_thickness_variation=0.0, debris_size_A=40.0)
    clean, some, more = (simulate_micrograph(SimulationParams(**base, debris_phase_sd_rad=sd), seed=4,
                                             keep_expected_intensity=True).expected_intensity
                         for sd in (0.0, 0.05, 0.15))
    clean_sd, some_sd, more_sd = (_band_pass_sd(image, 2.0, 40.0) for image in (clean, some, more))
    assert some_sd > 3 * clean_sd
    assert more_sd == pytest.approx(3 * some_sd, rel=0.1)  # the texture is linear in the debris phase

    # over carbon the ice is a tenth as thick: the debris texture there is about sqrt(0.1) as strong
    on_carbon = SimulationParams(**base, debris_phase_sd_rad=0.15, carbon_fraction=0.5, carbon_edge="straight",
                                 ice_on_carbon=0.1, carbon_thickness_A=0.0)
    sim = simulate_micrograph(on_carbon, seed=4, keep_expected_intensity=True)
    carbon, ice = (ndimage.binary_erosion(sim.labels == code, iterations=40) for code in (CARBON, ICE))
    band = ndimage.gaussian_filter(sim.expected_intensity, 10) - ndimage.gaussian_filter(sim.expected_intensity, 30)
    ratio = band[carbon].std() / band[ice].std()
    assert 0.2 < ratio < 0.5


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="carbon_fraction"):
        SimulationParams(carbon_fraction=1.5)
    with pytest.raises(ValueError, match="defocus_range_um"):
        SimulationParams(defocus_range_um=(2.0, 1.0))
    with pytest.raises(ValueError, match="debris"):
        SimulationParams(debris_phase_sd_rad=-0.1)
    assert SimulationParams(shape_px=300).shape_px == (300, 300)
    params = SimulationParams(**SMALL)
    assert SimulationParams.from_dict(json.loads(json.dumps(params.to_dict()))) == params


def test_written_set_is_a_labelled_set(tmp_path):
    params = SimulationParams(**SMALL, carbon_fraction=0.2)
    manifest = write_simulation(tmp_path, simulate_set(2, params, seed=5), description={"seed": 5})
    description = json.loads((tmp_path / "simulation.json").read_text())
    assert description["seed"] == 5
    assert [record["params"] for record in description["micrographs"]] == [params.to_dict()] * 2
    again = list(simulate_set(2, params, seed=5))
    for item, sim in zip(iter_labelled(manifest), again):
        np.testing.assert_array_equal(item.micrograph.data, sim.image)
        np.testing.assert_array_equal(item.regions, sim.labels.astype(np.uint8))
        assert item.micrograph.pixel_size_A == params.pixel_size_A
        np.testing.assert_allclose(item.picks[["x_px", "y_px"]], sim.picks[["x_px", "y_px"]], atol=1e-5)
        np.testing.assert_allclose(item.picks["diameter_px"], 80.0)
