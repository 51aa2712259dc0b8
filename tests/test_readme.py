"""The README's Python examples run as written, on a small simulated micrograph: the API they show still exists."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from icestat import write_mrc
from icestat.coords import write_autopick_index
from icestat.simulate import SimulationParams, simulate_micrograph

README = Path(__file__).resolve().parents[1] / "README.md"
#: Examples that need what icestat does not install (a SLURM cluster through dask-jobqueue).
NEEDS_ELSEWHERE = ("dask_jobqueue",)


def python_examples() -> list[str]:
    """The README's ``python`` code blocks that run here, in their order."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [block for block in blocks if not any(name in block for name in NEEDS_ELSEWHERE)]


def test_the_readme_shows_the_python_api():
    assert len(python_examples()) >= 5   # micrographs and picks, simulation, features, segmentation, picking


def test_the_readme_python_examples_run_in_turn(tmp_path, monkeypatch):
    """The examples name ``mic.mrc``, ``mic_0001.mrc``, an ``autopick.star`` index, a ``mask`` and the ``truth``:
    a 1024-px simulated micrograph of 100-px particles (the examples' 110) stands for both micrographs."""
    sim = simulate_micrograph(SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=40,
                                               particle_diameter_A=200.0), seed=3)
    for name in ("mic.mrc", "mic_0001.mrc"):
        write_mrc(tmp_path / name, sim.image, pixel_size_A=2.0)
    write_autopick_index({"mic_0001.mrc": "mic_0001_autopick.star"}, tmp_path / "autopick.star")
    monkeypatch.chdir(tmp_path)
    namespace = {"mask": sim.labels == 1, "truth": sim.picks}
    for number, example in enumerate(python_examples(), 1):   # a failure names the example and its line
        exec(compile(example, f"README.md, python example {number}", "exec"), namespace)
    assert (tmp_path / "mask.mrc").is_file() and (tmp_path / "mic_0001.cbox").is_file()
    picks = namespace["picks"]
    assert isinstance(picks.table, pd.DataFrame) and len(picks.table) > 0
    assert np.isfinite(picks.diameter_px)
