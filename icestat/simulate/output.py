"""Write simulated micrographs and their truth to a folder that is also a labelled set."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from icestat import __version__
from icestat._atomic import atomic_path
from icestat.coords.relion import write_star
from icestat.manifest import write_manifest
from icestat.micrograph import write_mrc
from icestat.simulate.core import SimulatedMicrograph


def write_simulation(
    output: str | os.PathLike,
    micrographs: Iterable[SimulatedMicrograph],
    prefix: str = "sim",
    description: dict | None = None,
) -> Path:
    """Write each micrograph with its truth, then ``simulation.json`` and ``manifest.csv``.

    Per micrograph ``<prefix>_NNNN``: ``.mrc`` (float32 counts, pixel size
    set), ``_labels.mrc`` (int8 class codes) and ``_truth.star`` (particle
    centres with ``_icestatDiameterPx``). ``manifest.csv`` makes the folder a
    labelled set for :mod:`icestat.manifest`; ``simulation.json`` holds
    `description` (e.g. the seed) and, per micrograph, its parameters and every
    value drawn for it.

    Returns
    -------
    Path
        The manifest.
    """
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    rows, records = [], []
    for index, sim in enumerate(micrographs):
        stem = f"{prefix}_{index:04d}"
        pixel_size_A = sim.params.pixel_size_A
        write_mrc(out / f"{stem}.mrc", sim.image, pixel_size_A=pixel_size_A)
        write_mrc(out / f"{stem}_labels.mrc", sim.labels, pixel_size_A=pixel_size_A)
        write_star(sim.picks, out / f"{stem}_truth.star", include_diameter=True)
        rows.append(
            {
                "dataset": "simulated",
                "micrograph": out / f"{stem}.mrc",
                "regions": out / f"{stem}_labels.mrc",
                "coords": out / f"{stem}_truth.star",
                "pixel_size_A": pixel_size_A,
                "particle_diameter_px": sim.params.particle_diameter_A / pixel_size_A,
            }
        )
        records.append({"micrograph": f"{stem}.mrc", "params": sim.params.to_dict(), "truth": sim.truth})
    record = {"icestat_version": __version__, **(description or {}), "micrographs": records}
    with atomic_path(out / "simulation.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    manifest = out / "manifest.csv"
    write_manifest(manifest, rows)
    return manifest
