"""Electron optics of the microscope: wavelength, interaction constant, CTF, detector MTF.

Conventions follow RELION and CTFFIND: defocus is positive for underfocus, in
ångström; the astigmatism angle is measured from the x axis (image columns);
spatial frequencies are in 1/Å.

The contrast transfer function of a weak phase object with amplitude contrast
fraction ``w`` is ``CTF(k) = -sin(chi(k) + arcsin(w))`` with
``chi(k) = pi * lambda * defocus(theta) * k**2 - pi / 2 * Cs * lambda**3 * k**4``.
Its zeros lie where ``chi(k) + arcsin(w) = n * pi``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_ELECTRON_REST_ENERGY_EV = 510_998.95
_HC_EV_A = 12_398.419843  # Planck constant times speed of light, eV * Å


def wavelength_A(voltage_kV: float) -> float:
    """Relativistic electron wavelength in ångström.

    Examples
    --------
    >>> round(wavelength_A(300), 5)
    0.01969
    """
    energy_eV = voltage_kV * 1e3
    momentum_eV = np.sqrt(energy_eV * (energy_eV + 2 * _ELECTRON_REST_ENERGY_EV))  # p*c in eV
    return float(_HC_EV_A / momentum_eV)


def interaction_constant(voltage_kV: float) -> float:
    """Phase shift per volt of potential per ångström of thickness, in rad / (V Å).

    Examples
    --------
    >>> round(interaction_constant(300) * 1e4, 3)
    6.526
    """
    energy_eV = voltage_kV * 1e3
    ratio = (_ELECTRON_REST_ENERGY_EV + energy_eV) / (2 * _ELECTRON_REST_ENERGY_EV + energy_eV)
    return float(2 * np.pi / (wavelength_A(voltage_kV) * energy_eV) * ratio)


@dataclass(frozen=True)
class CTFParams:
    """Microscope and imaging parameters of a contrast transfer function.

    Attributes
    ----------
    defocus_u_A, defocus_v_A : float
        Defocus along the major and minor astigmatism axes (positive = underfocus).
    astigmatism_angle_deg : float
        Angle of the major axis from the x axis.
    voltage_kV : float
        Acceleration voltage.
    cs_mm : float
        Spherical aberration.
    amplitude_contrast : float
        Fraction of amplitude contrast, in [0, 1).
    b_factor_A2 : float
        B-factor of the envelope ``exp(-B k**2 / 4)``.
    """

    defocus_u_A: float = 15_000.0
    defocus_v_A: float = 15_000.0
    astigmatism_angle_deg: float = 0.0
    voltage_kV: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.07
    b_factor_A2: float = 0.0

    def chi(self, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
        """Phase aberration (radians) at spatial frequencies ``(kx, ky)`` in 1/Å."""
        lam = wavelength_A(self.voltage_kV)
        k2 = kx**2 + ky**2
        angle = np.arctan2(ky, kx) - np.deg2rad(self.astigmatism_angle_deg)
        defocus = 0.5 * (self.defocus_u_A + self.defocus_v_A + (self.defocus_u_A - self.defocus_v_A) * np.cos(2 * angle))
        return np.pi * lam * defocus * k2 - 0.5 * np.pi * self.cs_mm * 1e7 * lam**3 * k2**2

    def ctf(self, kx: np.ndarray, ky: np.ndarray, envelope: bool = True) -> np.ndarray:
        """CTF at ``(kx, ky)`` (1/Å), with the B-factor envelope unless ``envelope=False``."""
        value = -np.sin(self.chi(kx, ky) + np.arcsin(self.amplitude_contrast))
        if envelope and self.b_factor_A2:
            value = value * np.exp(-self.b_factor_A2 * (kx**2 + ky**2) / 4)
        return value

    def zeros_1_per_A(self, n_zeros: int) -> np.ndarray:
        """Spatial frequencies (1/Å) of the first `n_zeros` CTF zeros, for zero astigmatism.

        Uses the mean defocus; solves ``chi(k) + arcsin(w) = n * pi`` for n = 1, 2, ...
        """
        lam = wavelength_A(self.voltage_kV)
        defocus = 0.5 * (self.defocus_u_A + self.defocus_v_A)
        a = 0.5 * np.pi * self.cs_mm * 1e7 * lam**3  # chi = b k^2 - a k^4
        b = np.pi * lam * defocus
        targets = np.arange(1, n_zeros + 1) * np.pi - np.arcsin(self.amplitude_contrast)
        if a == 0:
            return np.sqrt(targets / b)
        # a k^4 - b k^2 + target = 0: the smaller root in k^2 is the branch from k = 0
        k2 = (b - np.sqrt(b**2 - 4 * a * targets)) / (2 * a)
        return np.sqrt(k2)


def frequency_grid(shape: tuple[int, int], pixel_size_A: float, real: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Spatial frequencies (1/Å) of an FFT of an image, as broadcastable ``(ky, kx)``.

    Parameters
    ----------
    shape : (int, int)
        Image shape ``(rows, columns)``.
    pixel_size_A : float
        Pixel size.
    real : bool
        Frequencies of :func:`numpy.fft.rfft2` (half plane) when True, of ``fft2`` otherwise.
    """
    ky = np.fft.fftfreq(shape[0], d=pixel_size_A)[:, np.newaxis]
    kx = (np.fft.rfftfreq if real else np.fft.fftfreq)(shape[1], d=pixel_size_A)[np.newaxis, :]
    return ky, kx


def pixel_mtf(ky: np.ndarray, kx: np.ndarray, pixel_size_A: float) -> np.ndarray:
    """MTF of square detector pixels: ``sinc(kx p) sinc(ky p)``; 0.64 at Nyquist along an axis."""
    return np.sinc(kx * pixel_size_A) * np.sinc(ky * pixel_size_A)
