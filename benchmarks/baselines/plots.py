"""The comparison's figures (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_picking(same: pd.DataFrame, datasets: list[str], path: Path) -> None:
    """Bars of picking F1 and AP per test dataset and system, from the rows of systems trained on that dataset."""
    systems = list(same["system"].unique())
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    width = 0.8 / len(systems)
    for ax, metric, title in zip(axes, ("f1", "average_precision"), ("picking F1", "picking AP")):
        for i, system in enumerate(systems):
            values = same[same["system"] == system].set_index("tested_on")[metric].reindex(datasets)
            ax.bar(np.arange(len(datasets)) + (i - (len(systems) - 1) / 2) * width, values, width, label=system)
        ax.set_xticks(np.arange(len(datasets)), datasets, rotation=15)
        ax.set_ylim(0, 1.15)
        ax.set_title(f"{title}, trained and tested on the same dataset")
    axes[0].legend(loc="upper center", ncol=len(systems))
    _save(figure, path)


def plot_generalisation(results: pd.DataFrame, datasets: list[str], path: Path) -> None:
    """One heat map of picking F1 per learned system: rows the training dataset, columns the test dataset."""
    learned = results[results["trained_on"].isin(datasets)]
    systems = list(learned["system"].unique())
    figure, axes = plt.subplots(1, len(systems), figsize=(5.2 * len(systems), 4.4), squeeze=False)
    for ax, system in zip(axes[0], systems):
        table = learned[learned["system"] == system].pivot(index="trained_on", columns="tested_on", values="f1")
        table = table.reindex(index=datasets, columns=datasets)
        ax.imshow(table.to_numpy(float), vmin=0, vmax=1, cmap="viridis")
        for (row, col), value in np.ndenumerate(table.to_numpy(float)):
            ax.text(col, row, "-" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                    color="white" if value < 0.6 else "black")
        ax.set_xticks(range(len(datasets)), datasets, rotation=30, ha="right")
        ax.set_yticks(range(len(datasets)), datasets)
        ax.set_xlabel("tested on")
        ax.set_ylabel("trained on")
        ax.set_title(f"{system}: picking F1")
    _save(figure, path)


def plot_data_efficiency(efficiency: pd.DataFrame, dataset: str, path: Path) -> None:
    """Picking F1 against the number of training micrographs, one line per system (flat for one that learns nothing)."""
    figure, ax = plt.subplots(figsize=(5.5, 3.8))
    for system in efficiency.columns:
        ax.plot(efficiency.index, efficiency[system], marker="o", label=system)
    ax.set_xscale("log", base=2)
    ax.set_xticks(efficiency.index, [str(n) for n in efficiency.index])
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"training micrographs ({dataset})")
    ax.set_ylabel("picking F1 on its test micrographs")
    ax.legend()
    _save(figure, path)


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
