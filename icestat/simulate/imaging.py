"""Image formation: projected potential -> phase -> CTF -> detector -> Poisson counts.

The specimen's fine structure (particles, the carbon film's phase, the textures
of ice and carbon, crystal lattices) acts as a weak phase object whose
fluctuations pass through the CTF (with its B-factor envelope) and the detector
MTF. Thick material also removes electrons from the image (inelastic and
large-angle scattering): the intensity is multiplied by ``exp(-t / mean free path)``.
The recorded image holds Poisson counts with mean ``dose * pixel area * intensity``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from icestat.optics import CTFParams, frequency_grid, interaction_constant, pixel_mtf
from icestat.simulate.fields import noise_with_spectrum
from icestat.simulate.params import SimulationParams

# Mean inner potentials (V): of protein and carbon relative to the vitreous ice they displace.
PROTEIN_EXCESS_POTENTIAL_V = 2.6
CARBON_EXCESS_POTENTIAL_V = 5.0
# Inelastic mean free paths at 300 kV (Å); other voltages scale them by (v / c)^2.
ICE_MEAN_FREE_PATH_A = 3500.0
CARBON_MEAN_FREE_PATH_A = 1600.0
# Fraction of the beam through a gold foil (some 500 Å of gold: opaque, a few stray counts), reached over the
# film's edge ramp.
GOLD_FOIL_TRANSMISSION = 0.005

# Amorphous ice: structure-factor peak at 3.7 Å, ring width (1/Å), and its
# projected phase variance per Å of thickness, integrated over the ring (rad^2 / Å).
ICE_RING_SPACING_A = 3.7
ICE_RING_WIDTH_PER_A = 0.017
ICE_RING_PHASE_VARIANCE_PER_A = 2.0e-5
# Amorphous carbon: a broad structural spectrum, phase variance per Å of thickness.
CARBON_TEXTURE_CUTOFF_PER_A = 0.25
CARBON_PHASE_VARIANCE_PER_A = 2.0e-5
# Mirrored margin around the phase before the CTF is applied (pixels).
_TRANSFER_MARGIN_PX = 64


def ice_texture(ice_thickness_A: np.ndarray, pixel_size_A: float, rng: np.random.Generator) -> np.ndarray:
    """Phase fluctuations (rad) of amorphous ice: a ring at 3.7 Å, variance proportional to thickness."""
    k0, width = 1 / ICE_RING_SPACING_A, ICE_RING_WIDTH_PER_A
    ring_area = (2 * np.pi) ** 1.5 * k0 * width  # integral of the ring profile over the plane

    def psd(k):
        return ICE_RING_PHASE_VARIANCE_PER_A / ring_area * np.exp(-0.5 * ((k - k0) / width) ** 2)

    unit = noise_with_spectrum(ice_thickness_A.shape, pixel_size_A, psd, rng)
    return unit * np.sqrt(ice_thickness_A)


def carbon_texture(carbon_thickness_A: np.ndarray, pixel_size_A: float, rng: np.random.Generator) -> np.ndarray:
    """Phase fluctuations (rad) of amorphous carbon: a broad spectrum, variance proportional to thickness."""
    cutoff = CARBON_TEXTURE_CUTOFF_PER_A

    def psd(k):
        return CARBON_PHASE_VARIANCE_PER_A / (np.pi * cutoff**2) * np.exp(-((k / cutoff) ** 2))

    unit = noise_with_spectrum(carbon_thickness_A.shape, pixel_size_A, psd, rng)
    return unit * np.sqrt(carbon_thickness_A)


def debris_texture(ice_thickness_A: np.ndarray, params: SimulationParams, rng: np.random.Generator) -> np.ndarray:
    """Phase fluctuations (rad) of unresolved debris in the ice: blobs about ``debris_size_A`` across.

    The standard deviation is ``debris_phase_sd_rad`` where the ice has its mean
    thickness and grows with the square root of the thickness (debris is spread
    through the slab, so thin ice over carbon holds little of it).
    """
    sigma_A = params.debris_size_A / 2

    def psd(k):  # white noise smoothed by a Gaussian of sd sigma_A (scaled to unit sd below)
        return np.exp(-((2 * np.pi * k * sigma_A) ** 2))

    unit = noise_with_spectrum(ice_thickness_A.shape, params.pixel_size_A, psd, rng)
    unit /= max(float(unit.std()), 1e-12)
    relative_thickness = ice_thickness_A / max(params.ice_thickness_A, 1e-6)
    return params.debris_phase_sd_rad * unit * np.sqrt(relative_thickness)


def phase_of(
    params: SimulationParams,
    protein_thickness_A: np.ndarray,
    carbon_thickness_A: np.ndarray,
    textures: np.ndarray,
) -> np.ndarray:
    """Total weak-phase shift (rad): particles and the carbon film, plus precomputed textures."""
    sigma = interaction_constant(params.voltage_kV)
    return (
        sigma * (PROTEIN_EXCESS_POTENTIAL_V * protein_thickness_A + CARBON_EXCESS_POTENTIAL_V * carbon_thickness_A)
        + textures
    ).astype(np.float32)


def transfer(phase: np.ndarray, params: SimulationParams, ctf: CTFParams) -> np.ndarray:
    """Relative intensity change ``2 * F^-1[CTF * MTF * F[phase]]`` of a weak phase object.

    The phase is mirrored out by a margin before the FFT, so that material at
    one edge does not ring into the opposite edge.
    """
    margin = _TRANSFER_MARGIN_PX
    padded_shape = tuple(scipy.fft.next_fast_len(side + 2 * margin, real=True) for side in phase.shape)
    pad = [(margin, padded - side - margin) for side, padded in zip(phase.shape, padded_shape)]
    padded = np.pad(phase, pad, mode="reflect")
    ky, kx = frequency_grid(padded_shape, params.pixel_size_A)
    gain = ctf.ctf(kx, ky)
    if params.detector_mtf:
        gain = gain * pixel_mtf(ky, kx, params.pixel_size_A)
    gain[0, 0] = 0.0  # a uniform phase shift changes nothing
    spectrum = scipy.fft.rfft2(padded) * (2 * gain).astype(np.float32)
    contrast = scipy.fft.irfft2(spectrum, s=padded_shape)
    return contrast[margin: margin + phase.shape[0], margin: margin + phase.shape[1]].astype(np.float32)


def attenuation(params: SimulationParams, ice_A: np.ndarray, carbon_A: np.ndarray, contamination_A: np.ndarray):
    """Fraction of the beam left in the image after scattering by thick material (by the film: see `film_material`)."""
    scale = _mean_free_path_scale(params.voltage_kV)
    if params.film_material == "gold":
        opacity = np.clip(carbon_A / max(params.carbon_thickness_A, 1.0), 0, 1)
        left = np.exp(-(ice_A + contamination_A) / (ICE_MEAN_FREE_PATH_A * scale))
        return (left * (1 - (1 - GOLD_FOIL_TRANSMISSION) * opacity)).astype(np.float32)
    loss = (ice_A + contamination_A) / (ICE_MEAN_FREE_PATH_A * scale) + carbon_A / (CARBON_MEAN_FREE_PATH_A * scale)
    return np.exp(-loss).astype(np.float32)


def detect(expected_intensity: np.ndarray, params: SimulationParams, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts with mean ``dose * pixel area * intensity`` per pixel (float32)."""
    electrons_per_px = params.dose_e_per_A2 * params.pixel_size_A**2
    mean_counts = np.maximum(expected_intensity, 0) * np.float32(electrons_per_px)
    return rng.poisson(mean_counts).astype(np.float32)


def _mean_free_path_scale(voltage_kV: float) -> float:
    """Mean free paths grow with the electrons' (v/c)^2; relative to 300 kV."""

    def beta2(kv):
        gamma = 1 + kv / 510.99895
        return 1 - 1 / gamma**2

    return beta2(voltage_kV) / beta2(300.0)
