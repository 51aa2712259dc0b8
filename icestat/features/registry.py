"""The feature registry: every feature's stable name, group, unit and one-line description.

Groups can be switched on and off as a whole (``features=["intensity", "spectrum"]``)
or features chosen by name. Names never change once released: models store them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: GLCM settings: grey levels, pixel distances, and the four angles averaged over.
GLCM_LEVELS = 16
GLCM_DISTANCES_PX = (1, 2, 4)
GLCM_ANGLES_DEG = (0, 45, 90, 135)
GLCM_PROPERTIES = ("contrast", "homogeneity", "energy", "correlation", "entropy")
#: Uniform local binary patterns with 8 neighbours at radius 1 have 10 codes.
LBP_CODES = 10
#: Difference-of-Gaussians scales (the smaller sigma, px); the larger is 1.6 times it.
DOG_SIGMAS_PX = (1, 2, 4, 8)
#: Log-spaced power-spectrum shells between 1/patch and Nyquist.
N_SPECTRUM_SHELLS = 8
#: Percentiles of the intensity group.
PERCENTILES = (5, 25, 50, 75, 95)
#: Amorphous-ice band and the low-resolution reference band of the iciness ratio (Å).
ICE_BAND_A = (3.5, 3.9)
REFERENCE_BAND_A = (30.0, 80.0)

GROUPS = ("intensity", "gradient", "texture", "spectrum", "context", "region")
#: The region group: means of these groups' features over a square of this many patches a side (about 800 Å
#: at the default working scale), which tells a large region (carbon film, thick ice) from one object in it.
REGION_SOURCE_GROUPS = ("intensity", "spectrum")
REGION_PATCHES = 7


@dataclass(frozen=True)
class Feature:
    """One feature: name (snake_case), group, unit and a one-line description."""

    name: str
    group: str
    unit: str
    description: str


def _base_features() -> list[Feature]:
    out = [
        Feature("intensity_mean", "intensity", "grey", "mean grey level of the patch"),
        Feature("intensity_std", "intensity", "grey", "standard deviation of the grey levels"),
        Feature("intensity_skewness", "intensity", "1", "skewness of the grey levels"),
        Feature("intensity_kurtosis", "intensity", "1", "excess kurtosis of the grey levels"),
    ]
    out += [
        Feature(f"intensity_p{q:02d}", "intensity", "grey", f"{q}th percentile of the grey levels")
        for q in PERCENTILES
    ]
    out += [
        Feature("contrast_mean", "intensity", "micrograph robust sd",
                "patch mean minus the micrograph median, over the micrograph's robust sd"),
        Feature("contrast_std", "intensity", "1", "patch sd over the micrograph's robust sd"),
        Feature("gradient_energy", "gradient", "grey^2/px^2", "mean squared Sobel gradient magnitude"),
        Feature("gradient_coherence", "gradient", "1",
                "structure-tensor coherence: 0 for no preferred direction, 1 for straight edges"),
        Feature("edge_fraction", "gradient", "1",
                "fraction of pixels with a gradient above 3 times the micrograph's median gradient"),
    ]
    for distance in GLCM_DISTANCES_PX:
        for prop in GLCM_PROPERTIES:
            out.append(Feature(
                f"glcm_{prop}_d{distance}", "texture", "1",
                f"grey-level co-occurrence {prop} at {distance} px, mean over 4 angles, {GLCM_LEVELS} levels",
            ))
    out += [
        Feature(f"lbp_{code}", "texture", "1",
                f"fraction of pixels with uniform local binary pattern code {code} (8 neighbours, radius 1)")
        for code in range(LBP_CODES)
    ]
    out += [
        Feature(f"dog_energy_s{sigma}", "texture", "grey^2",
                f"mean squared difference of Gaussians, sigma {sigma} and {1.6 * sigma:g} px")
        for sigma in DOG_SIGMAS_PX
    ]
    out += [
        Feature(f"spectrum_shell_{shell}", "spectrum", "log10 power",
                f"radially averaged power in log-spaced shell {shell} of {N_SPECTRUM_SHELLS} (1/patch to Nyquist)")
        for shell in range(N_SPECTRUM_SHELLS)
    ]
    out += [
        Feature("spectrum_slope", "spectrum", "1", "slope of log10 power against log10 frequency over the shells"),
        Feature("spectrum_high_low_ratio", "spectrum", "log10",
                "power at 0.25-0.5 cycles/px over power at 0.03-0.1 cycles/px"),
        Feature("spectrum_iciness", "spectrum", "log10",
                "power in the amorphous-ice band 3.5-3.9 Å over 30-80 Å; "
                "NaN where the pixel size or patch cannot resolve it"),
        Feature("spectrum_thon_contrast", "spectrum", "log10",
                "ring modulation: sd of the detrended log radial profile at 0.1-0.4 cycles/px"),
        Feature("spectrum_anisotropy", "spectrum", "1",
                "power anisotropy at 0.05-0.4 cycles/px: 0 round, 1 all along one direction"),
    ]
    return out


BASE_FEATURES = tuple(_base_features())
CONTEXT_FEATURES = tuple(
    Feature(f"context_{f.name}", "context", f.unit, f"mean of {f.name} over the 8 neighbouring patches")
    for f in BASE_FEATURES
)
REGION_FEATURES = tuple(
    Feature(f"region_{f.name}", "region", f.unit,
            f"mean of {f.name} over the {REGION_PATCHES}x{REGION_PATCHES} patches around")
    for f in BASE_FEATURES if f.group in REGION_SOURCE_GROUPS
)
FEATURES = BASE_FEATURES + CONTEXT_FEATURES + REGION_FEATURES
_BY_NAME = {f.name: f for f in FEATURES}
#: Feature name -> group.
GROUP_OF = {f.name: f.group for f in FEATURES}


def select_features(features=None) -> list[Feature]:
    """Resolve a selection of groups and/or feature names to registry entries, in registry order.

    Parameters
    ----------
    features : iterable of str, optional
        Group names and/or feature names; all features when None.

    Raises
    ------
    ValueError
        For a name that is neither a group nor a feature, or an empty selection.
    """
    if features is None:
        return list(FEATURES)
    features = list(features)
    if not features:
        raise ValueError(f"no feature asked for: give groups ({', '.join(GROUPS)}) or feature names, or None for all")
    wanted = set()
    for item in features:
        if item in GROUPS:
            wanted |= {f.name for f in FEATURES if f.group == item}
        elif item in _BY_NAME:
            wanted.add(item)
        else:
            raise ValueError(f"unknown feature or group {item!r}; groups are {', '.join(GROUPS)}")
    return [f for f in FEATURES if f.name in wanted]


def describe_features(features=None) -> pd.DataFrame:
    """A table of the features: ``name, group, unit, description``.

    Examples
    --------
    >>> table = describe_features(["spectrum"])
    >>> table.loc[table["name"] == "spectrum_iciness", "unit"].item()
    'log10'
    """
    return pd.DataFrame([vars(f) for f in select_features(features)], columns=["name", "group", "unit", "description"])
