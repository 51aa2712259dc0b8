"""Run icestat end to end on data it makes itself: no files of your own needed.

Today the demo writes a small synthetic micrograph (noise with dark disks at
known places) as MRC, writes the known particle centres in every pick format,
reads everything back and checks it. Later versions simulate realistic
micrographs, pick them and score the picks against the truth.

Example:
    icestat demo -o icestat-demo
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from icestat.cli.info import describe
from icestat.coords import FORMATS, pick_table, read_picks, write_picks
from icestat.micrograph import write_mrc

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat demo``."""
    parser.add_argument("-o", "--output", default="icestat-demo", help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    """Write the demo micrograph and picks, read them back, print a table; 0 when all agree."""
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    image, truth = _toy_micrograph(np.random.default_rng(args.seed))
    mrc_path = out / "demo_0000.mrc"
    write_mrc(mrc_path, image, pixel_size_A=1.5)
    line, usable = describe(str(mrc_path))
    print(line)
    print(f"{'format':8} {'file':28} {'picks':>5} {'max error px':>12}")
    worst_px = 0.0
    for fmt, suffix in FORMATS.items():
        path = out / f"demo_0000_picks{suffix}"
        write_picks(truth, path)
        back = read_picks(path)
        error_px = float(np.abs(back[["x_px", "y_px"]].to_numpy() - truth[["x_px", "y_px"]].to_numpy()).max())
        worst_px = max(worst_px, error_px)
        print(f"{fmt:8} {path.name:28} {len(back):5d} {error_px:12.3f}")
    ok = usable and worst_px <= 1.0
    print(f"{'all formats agree' if ok else 'MISMATCH'}; files in {out}")
    return 0 if ok else 1


def _toy_micrograph(rng: np.random.Generator, size_px: int = 512, n_particles: int = 12):
    """Return (image, pick table): Gaussian noise with dark disks of 40 px at the picks."""
    diameter_px = 40.0
    centres = rng.uniform(diameter_px, size_px - diameter_px, size=(n_particles, 2))
    rows, cols = np.mgrid[:size_px, :size_px]
    image = rng.normal(0.0, 1.0, size=(size_px, size_px)).astype(np.float32)
    for y, x in centres:
        image[(rows - y) ** 2 + (cols - x) ** 2 < (diameter_px / 2) ** 2] -= 2.0
    truth = pick_table(centres[:, 1], centres[:, 0], score=1.0, diameter_px=diameter_px, micrograph="demo_0000")
    return image, truth
