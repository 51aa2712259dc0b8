"""The README's examples as written: its Python ones run on a small simulated micrograph, and its commands are ones
``icestat`` takes (the API and options they show still exist)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd

from icestat import write_mrc
from icestat.cli import build_parser
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


def readme_commands() -> list[str]:
    """The ``icestat`` command lines of the README's ``bash`` code blocks, their comments and ``[ ]`` (optional
    parts) taken off; not ``icestat --version``, which ends the parsing."""
    lines = [line for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
             for line in block.splitlines()]
    return [line.split("  #")[0].replace("[", "").replace("]", "").strip() for line in lines
            if line.startswith("icestat ") and line.strip() != "icestat --version"]


def test_the_readme_commands_are_ones_icestat_takes():
    commands = readme_commands()
    assert {shlex.split(command)[1] for command in commands} >= {"pick", "evaluate", "segment", "manifest", "train"}
    parser = build_parser()
    for command in commands:   # an option renamed or gone ends the parsing (SystemExit), naming the option
        argv = shlex.split(command)[1:]
        assert parser.parse_args(argv).command == argv[0]
