"""Simulated against real micrographs: intensity histograms and radially averaged power spectra.

Usage:
    python benchmarks/simulate_vs_real.py [--data ../shared/data]

For each real set in the developers' data, simulates a micrograph of a similar
kind and plots them side by side (thumbnails, histograms of standardised
intensity, power spectra against frequency in cycles per pixel, normalised to
their high-frequency floor). Writes benchmarks/results/simulate_vs_real.png and
a table of summary numbers to benchmarks/results/simulate_vs_real.md.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage, stats  # noqa: E402

from _report import RESULTS, publish  # noqa: E402
from icestat import read_micrograph  # noqa: E402
from icestat.simulate import SimulationParams, simulate_micrograph  # noqa: E402
from icestat.spectrum import radial_power_spectrum  # noqa: E402

HERE = Path(__file__).resolve().parent

# real file (relative to the data folder), its pixel size if known, and a simulation of the same kind
PAIRS = [
    ("raw-contamination/micrographs/Ucsf_stack_1142_DW.mrc", None,
     SimulationParams(shape_px=(927, 959), pixel_size_A=1.0, n_particles=60, particle_diameter_A=100.0,
                      n_contamination=1, contamination_diameter_A=500.0)),
    ("empiar-10017/micrographs/Falcon_2012_06_12-15_27_22_0.jpg", 1.77,
     SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.77, n_particles=150, particle_diameter_A=190.0,
                      carbon_fraction=0.13)),
    ("empiar-10028/micrographs/311_10028.png", None,
     SimulationParams(shape_px=(1024, 1024), pixel_size_A=4.0, n_particles=70, particle_diameter_A=230.0)),
]


def _standardised(image: np.ndarray) -> np.ndarray:
    values = image.ravel().astype(np.float64)
    return (values - np.median(values)) / values.std()


def _normalised_spectrum(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k_cycles_per_px, power = radial_power_spectrum(image, 1.0, n_bins=128)
    floor = np.nanmedian(power[k_cycles_per_px > 0.4])
    return k_cycles_per_px, power / floor


def _summary(image: np.ndarray) -> dict:
    k, power = radial_power_spectrum(image, 1.0, n_bins=128)
    values = image.ravel().astype(np.float64)
    return {
        "skewness": float(stats.skew(values)),
        "kurtosis": float(stats.kurtosis(values)),
        "grey levels": int(len(np.unique(values[:: max(1, values.size // 200_000)]))),
        "power above 0.25 cyc/px": float(np.nansum(power[k > 0.25]) / np.nansum(power)),
        "low/high power ratio": float(np.nanmean(power[(k > 0.01) & (k < 0.05)]) / np.nanmean(power[k > 0.4])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = parser.parse_args()

    figure, axes = plt.subplots(len(PAIRS), 4, figsize=(18, 4.3 * len(PAIRS)))
    rows = []
    for row, (relative, pixel_size_A, params) in enumerate(PAIRS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            real = read_micrograph(args.data / relative, pixel_size_A=pixel_size_A).data
        simulated = simulate_micrograph(params, seed=row).image
        name = Path(relative).parts[0]
        for column, (label, image) in enumerate([(f"real: {name}", real), ("simulated", simulated)]):
            thumbnail = ndimage.zoom(image, 512 / max(image.shape), order=1)
            low, high = np.percentile(thumbnail, [1, 99])
            axes[row, column].imshow(thumbnail, cmap="gray", vmin=low, vmax=high)
            axes[row, column].set_title(label)
            axes[row, column].axis("off")
        for label, image, colour in [("real", real, "k"), ("simulated", simulated, "tab:red")]:
            axes[row, 2].hist(_standardised(image), bins=200, range=(-5, 5), density=True, histtype="step",
                              color=colour, label=label)
            k, power = _normalised_spectrum(image)
            axes[row, 3].semilogy(k, power, color=colour, label=label)
            rows.append({"set": name, "image": label, **_summary(image)})
        axes[row, 2].set_xlabel("(intensity - median) / std")
        axes[row, 2].legend()
        axes[row, 3].set_xlabel("spatial frequency (cycles / pixel)")
        axes[row, 3].set_ylabel("power / high-frequency floor")
        axes[row, 3].legend()
    figure.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    figure.savefig(RESULTS / "simulate_vs_real.png", dpi=70)

    keys = list(rows[0])[2:]
    lines = ["# Simulated against real micrographs", "",
             "Plot: `simulate_vs_real.png`. Numbers are over the whole image.", "",
             "| set | image | " + " | ".join(keys) + " |", "| --- | --- |" + " ---: |" * len(keys)]
    for entry in rows:
        lines.append(f"| {entry['set']} | {entry['image']} | "
                     + " | ".join(f"{entry[key]:.3g}" for key in keys) + " |")
    publish(lines, "simulate_vs_real.md")


if __name__ == "__main__":
    main()
