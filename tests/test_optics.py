"""Electron optics against known values and against a brute-force CTF zero search."""

import numpy as np
import pytest

from icestat.optics import CTFParams, frequency_grid, interaction_constant, pixel_mtf, wavelength_A


@pytest.mark.parametrize("voltage_kV, expected_A", [(100, 0.03701), (200, 0.02508), (300, 0.01969)])
def test_wavelength_matches_tabulated_values(voltage_kV, expected_A):
    assert wavelength_A(voltage_kV) == pytest.approx(expected_A, rel=1e-3)


def test_interaction_constant_at_300kV():
    # 0.00653 rad / (V nm), the textbook value
    assert interaction_constant(300) * 10 == pytest.approx(0.00653, rel=2e-3)


@pytest.mark.parametrize("defocus_A, cs_mm, w", [(10_000, 2.7, 0.07), (25_000, 0.01, 0.1), (8_000, 2.7, 0.0)])
def test_zero_formula_agrees_with_a_dense_search(defocus_A, cs_mm, w):
    ctf = CTFParams(defocus_u_A=defocus_A, defocus_v_A=defocus_A, cs_mm=cs_mm, amplitude_contrast=w)
    k = np.linspace(1e-4, 0.3, 2_000_001)
    values = ctf.ctf(k, np.zeros_like(k), envelope=False)
    crossings = k[:-1][np.sign(values[:-1]) != np.sign(values[1:])]
    zeros = ctf.zeros_1_per_A(5)
    np.testing.assert_allclose(zeros, crossings[:5], rtol=1e-4)


def test_astigmatism_follows_its_angle():
    ctf = CTFParams(defocus_u_A=20_000, defocus_v_A=10_000, astigmatism_angle_deg=30)
    along_u = np.array([np.cos(np.deg2rad(30))]), np.array([np.sin(np.deg2rad(30))])
    along_v = np.array([np.cos(np.deg2rad(120))]), np.array([np.sin(np.deg2rad(120))])
    lam = wavelength_A(300)
    k = 0.01
    assert ctf.chi(k * along_u[0], k * along_u[1])[0] == pytest.approx(
        np.pi * lam * 20_000 * k**2 - 0.5 * np.pi * 2.7e7 * lam**3 * k**4
    )
    assert ctf.chi(k * along_v[0], k * along_v[1])[0] == pytest.approx(
        np.pi * lam * 10_000 * k**2 - 0.5 * np.pi * 2.7e7 * lam**3 * k**4
    )


def test_ctf_at_zero_frequency_is_minus_the_amplitude_contrast():
    assert CTFParams(amplitude_contrast=0.1).ctf(np.zeros(1), np.zeros(1))[0] == pytest.approx(-0.1)


def test_b_factor_envelope():
    ctf = CTFParams(b_factor_A2=100)
    k = np.array([0.2])
    ratio = ctf.ctf(k, 0 * k) / ctf.ctf(k, 0 * k, envelope=False)
    assert ratio[0] == pytest.approx(np.exp(-100 * 0.04 / 4))


def test_frequency_grid_and_mtf():
    ky, kx = frequency_grid((8, 10), 2.0)
    assert ky.shape == (8, 1) and kx.shape == (1, 6)
    assert kx.max() == pytest.approx(0.25) and ky.min() == pytest.approx(-0.25)
    assert pixel_mtf(np.zeros(1), np.array([0.25]), 2.0)[0] == pytest.approx(2 / np.pi)
