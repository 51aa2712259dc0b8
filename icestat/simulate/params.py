"""Parameters of a simulated micrograph, with their units in their names."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class SimulationParams:
    """Everything that defines a simulated micrograph, apart from the random seed.

    Quantities drawn per micrograph (defocus, astigmatism angle, carbon edge,
    particle orientations...) are drawn from the seed within the ranges given here.

    Attributes
    ----------
    shape_px : (int, int)
        Image shape ``(rows, columns)``.
    pixel_size_A : float
        Pixel size in ångström.
    n_particles : int
        Particles to place; fewer are placed when the free ice runs out (the
        number placed is in the truth).
    particle_diameter_A : float
        Nominal particle diameter.
    n_species : int
        Distinct random 3D densities (shapes) the particles are drawn from.
    particle_elongation : float
        Shape variety in [0, 0.8]: the short axes of a species are between
        ``1 - particle_elongation`` and 1 times its long axis.
    max_overlap : float
        Two particle centres are at least ``(1 - max_overlap) * diameter`` apart.
    ice_thickness_A : float
        Mean thickness of the vitreous ice slab.
    ice_thickness_variation : float
        Relative standard deviation of smooth thickness variations.
    ice_gradient : float
        Relative thickness change across the image along a random direction.
    carbon_fraction : float
        Fraction of the image covered by carbon film (0 for none).
    carbon_thickness_A : float
        Carbon film thickness (thicker than the ice in projection by default).
    carbon_edge : {"curved", "straight", "random"}
        Shape of the film edge: the rim of a round hole, a straight line, or either.
    film_material : {"carbon", "gold"}
        What the film over ``carbon_fraction`` is: amorphous carbon (a weak
        phase object, darker than the ice by its thickness) or the gold foil of
        grids such as UltrAuFoil, opaque (``GOLD_FOIL_TRANSMISSION`` of the beam
        passes). Labelled carbon (the film class) either way.
    hole_diameter_A : float
        Diameter of the hole whose rim a curved edge follows.
    ice_on_carbon : float
        Thickness of ice over the carbon, as a fraction of the local ice thickness.
    debris_phase_sd_rad : float
        Standard deviation of the phase of unresolved debris in the ice (protein
        fragments, aggregates, solutes) where the ice has its mean thickness;
        0 for clean ice. It grows with the square root of the local thickness.
    debris_size_A : float
        Typical size of the debris: its texture is white noise smoothed by a
        Gaussian of sd ``debris_size_A / 2``.
    n_contamination : int
        Contamination blobs (ice crystals and debris).
    contamination_diameter_A : float
        Typical blob diameter (each is drawn between 0.6 and 1.4 times this).
    contamination_thickness_A : float
        Thickness at a blob's centre.
    crystalline_fraction : float
        Probability that a blob is crystalline ice (sharp spots at 3.90, 3.67, 3.44 Å).
    voltage_kV, cs_mm, amplitude_contrast : float
        Microscope.
    defocus_range_um : (float, float)
        Mean defocus (underfocus positive) drawn uniformly in this range.
    astigmatism_um : float
        Difference between the two defocus axes.
    b_factor_A2 : float
        B-factor of the CTF envelope.
    dose_e_per_A2 : float
        Total electron dose; the image holds Poisson counts with this mean per Å² in vacuum.
    detector_mtf : bool
        Apply the square-pixel MTF of a counting detector to the signal.
    """

    shape_px: tuple[int, int] = (2048, 2048)
    pixel_size_A: float = 1.0
    n_particles: int = 300
    particle_diameter_A: float = 150.0
    n_species: int = 2
    particle_elongation: float = 0.3
    max_overlap: float = 0.1
    ice_thickness_A: float = 400.0
    ice_thickness_variation: float = 0.15
    ice_gradient: float = 0.3
    carbon_fraction: float = 0.0
    carbon_thickness_A: float = 600.0
    carbon_edge: str = "random"
    film_material: str = "carbon"
    hole_diameter_A: float = 12_000.0
    ice_on_carbon: float = 0.2
    debris_phase_sd_rad: float = 0.0
    debris_size_A: float = 40.0
    n_contamination: int = 0
    contamination_diameter_A: float = 600.0
    contamination_thickness_A: float = 3000.0
    crystalline_fraction: float = 0.5
    voltage_kV: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.07
    defocus_range_um: tuple[float, float] = (1.0, 2.5)
    astigmatism_um: float = 0.05
    b_factor_A2: float = 60.0
    dose_e_per_A2: float = 40.0
    detector_mtf: bool = True

    def __post_init__(self):
        shape = self.shape_px
        if isinstance(shape, int):
            shape = (shape, shape)
        object.__setattr__(self, "shape_px", tuple(int(side) for side in shape))
        object.__setattr__(self, "defocus_range_um", tuple(float(d) for d in self.defocus_range_um))
        checks = [
            (len(self.shape_px) == 2 and min(self.shape_px) >= 64, "shape_px must be two sides of at least 64 px"),
            (self.pixel_size_A > 0, "pixel_size_A must be positive"),
            (self.n_particles >= 0 and self.n_contamination >= 0, "counts must not be negative"),
            (self.particle_diameter_A > 2 * self.pixel_size_A, "particle_diameter_A must span several pixels"),
            (self.n_species >= 1, "n_species must be at least 1"),
            (0 <= self.particle_elongation <= 0.8, "particle_elongation must be in [0, 0.8]"),
            (0 <= self.max_overlap < 1, "max_overlap must be in [0, 1)"),
            (self.ice_thickness_A >= 0 and self.carbon_thickness_A >= 0, "thicknesses must not be negative"),
            (self.debris_phase_sd_rad >= 0 and self.debris_size_A > 0, "debris needs a phase sd >= 0 and a size > 0"),
            (0 <= self.carbon_fraction < 1, "carbon_fraction must be in [0, 1)"),
            (self.carbon_edge in ("curved", "straight", "random"), "carbon_edge must be curved, straight or random"),
            (self.film_material in ("carbon", "gold"), "film_material must be carbon or gold"),
            (0 <= self.crystalline_fraction <= 1, "crystalline_fraction must be in [0, 1]"),
            (0 <= self.amplitude_contrast < 1, "amplitude_contrast must be in [0, 1)"),
            (0 < self.defocus_range_um[0] <= self.defocus_range_um[1], "defocus_range_um must be (low, high) > 0"),
            (self.dose_e_per_A2 > 0, "dose_e_per_A2 must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"SimulationParams: {message}")

    def to_dict(self) -> dict:
        """The parameters as a JSON-ready dictionary."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "SimulationParams":
        """Inverse of :meth:`to_dict`."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})
